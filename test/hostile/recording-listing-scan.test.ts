/**
 * A listing whose filter matches little: without a bound, every `consoleRecordings` request would read
 * the status and header of every recording in the directory. `recording.maxScannedPerListing` bounds
 * the recordings one request reads; past it the page ends early (fewer than `first`, `hasNextPage`
 * true, `endCursor` where the reading stopped), and following the cursor still finds every match.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { describe, expect, it } from 'vitest';
import { startTowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { settled, useConsole, vmIds } from '../helpers/recorded-consoles.js';

const cleanups = useCleanups();
const PAGE = 'query($f: ConsoleRecordingFilter, $after: String) { consoleRecordings(filter: $f, first: 50, after: $after) { nodes { id vmId } pageInfo { hasNextPage endCursor } } }';

describe('consoleRecordings under recording.maxScannedPerListing', () => {
  it('reads at most that many recordings per request; the cursor goes on where the reading stopped, and every match is found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-rec-scan-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const env = await startTowerGateway({ config: { recording: { dir, maxScannedPerListing: 4 } } });
    cleanups.add(() => env.close());
    const { web, db } = await vmIds(env);
    // The oldest recording is db's; ten copies of web's (real recordings under newer ids) come after it.
    await useConsole(env, db);
    await useConsole(env, web);
    const statuses = await settled(dir);
    const webId = statuses.find((s) => s.vmId === web)!.id as string;
    const ulid = monotonicFactory();
    for (let i = 0; i < 10; i++) {
      const id = ulid();
      copyFileSync(join(dir, `${webId}.cgrec`), join(dir, `${id}.cgrec`));
      writeFileSync(join(dir, `${id}.json`), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, `${webId}.json`), 'utf8')), id }));
    }

    const pages: Array<{ ids: string[]; hasNextPage: boolean }> = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r: any = await env.gql(PAGE, { f: { vmId: db }, after });
      expect(r.errors).toBeUndefined();
      const { nodes, pageInfo } = r.data.consoleRecordings;
      pages.push({ ids: nodes.map((n: any) => n.id), hasNextPage: pageInfo.hasNextPage });
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    // 12 recordings, 4 read per request: two empty pages that say there is more, then db's.
    const dbId = statuses.find((s) => s.vmId === db)!.id as string;
    expect(pages).toEqual([
      { ids: [], hasNextPage: true },
      { ids: [], hasNextPage: true },
      { ids: [dbId], hasNextPage: false },
    ]);
    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/console_recording_listings_cut_total 2\n/);
    const cuts = env.logs.records().filter((l) => l.msg === 'console recordings listing cut at the scan limit');
    expect(cuts).toHaveLength(2);
    expect(cuts[0]).toMatchObject({ level: 30, scanned: 4, maxScannedPerListing: 4 });

    // Unfiltered, a page within the bound is a plain page.
    const r: any = await env.gql('{ consoleRecordings(first: 3) { nodes { id } pageInfo { hasNextPage endCursor } } }');
    expect(r.data.consoleRecordings.nodes).toHaveLength(3);
    expect(r.data.consoleRecordings.pageInfo).toEqual({ hasNextPage: true, endCursor: r.data.consoleRecordings.nodes[2].id });
  });
});
