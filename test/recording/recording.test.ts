/**
 * Console recording through the public interface: consoles opened over GraphQL and the console
 * WebSocket, recordings listed over GraphQL and fetched from their playback URL.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, utimesSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream } from 'ws';
import { RfbTestClient, keyEventMessage } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { LIST_RECORDINGS as LIST, OPEN_CONSOLE as OPEN, openLive, settled, useConsole, vmIds } from '../helpers/recorded-consoles.js';
import { graphqlPost } from '../helpers/graphql.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { newKey } from '../auth/helpers.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { FRAME_HEAD_BYTES } from '../../src/recording/format.js';
import { validateConfig, type GatewayConfig } from '../../src/config.js';

let env: TowerGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await env?.close();
  env = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cg-rec-'));
  dirs.push(d);
  return d;
}

describe('console recording', () => {
  it('records a console its rules select, and not one they do not; the file holds no ticket or credential', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, rules: [{ vmIds: ['tower:*'], callers: ['anonymous'] }] } } });
    const { web } = await vmIds(env);
    const { url } = await useConsole(env, web, { key: true });
    const [status] = await settled(dir);
    expect(status).toMatchObject({ vmId: web, caller: 'anonymous', state: 'complete', includesInput: false, failure: null });
    const file = readFileSync(join(dir, `${status!.id}.cgrec`));
    const nl = file.indexOf(0x0a);
    const header = JSON.parse(file.subarray(0, nl).toString('utf8'));
    expect(header).toMatchObject({ format: 'console-gateway-recording', version: 1, vmId: web, caller: 'anonymous', includesInput: false });
    // Frames: server-to-client only (input is off), the RFB version string first.
    const first = file.subarray(nl + 1);
    expect(first[0]).toBe(0);
    expect(first.subarray(FRAME_HEAD_BYTES, FRAME_HEAD_BYTES + 4).toString('latin1')).toBe('RFB ');
    let at = nl + 1;
    while (at < file.length) {
      expect(file[at]).toBe(0);
      at += FRAME_HEAD_BYTES + file.readUInt32BE(at + 5);
    }
    expect(at).toBe(file.length);
    // No ticket, no upstream credential, anywhere in the recording or its status.
    const ticket = new URL(url).searchParams.get('ticket') ?? url.split('/').pop()!;
    const everything = Buffer.concat([file, readFileSync(join(dir, `${status!.id}.json`))]).toString('latin1');
    expect(ticket.length).toBeGreaterThan(10);
    expect(everything).not.toContain(ticket);
    expect(everything).not.toContain(url);
    expect(everything).not.toContain(env.sim.url);
    expect(everything.toLowerCase()).not.toContain('password');
    // Session control names the recording of the session.
    const sessions = await graphqlPost(env.gateway.url, '{ consoleSessions(filter: { state: ENDED }) { vmId recordingId } }');
    expect((sessions.body.data as any).consoleSessions).toContainEqual({ vmId: web, recordingId: status!.id });
  });

  it('records input only with includeInput', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, includeInput: true } } });
    const { web } = await vmIds(env);
    await useConsole(env, web, { key: true });
    const [status] = await settled(dir);
    expect(status!.includesInput).toBe(true);
    const file = readFileSync(join(dir, `${status!.id}.cgrec`));
    let at = file.indexOf(0x0a) + 1;
    const directions = new Set<number>();
    while (at < file.length) {
      directions.add(file[at]!);
      at += FRAME_HEAD_BYTES + file.readUInt32BE(at + 5);
    }
    expect([...directions].sort()).toEqual([0, 1]);
  });

  it('does not record a console no rule selects', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, rules: [{ vmIds: ['tower:nothing-*'] }] } } });
    const { web } = await vmIds(env);
    const { code } = await useConsole(env, web);
    expect(code).toBe(1000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a burst faster than the disk waits for the recording instead of failing it (backpressure), and every byte is recorded', async () => {
    const dir = tempDir();
    // The least bound allowed with console.maxFrameBytes at 1 MiB: the mark is its half (one full update,
    // 1,024,000 bytes, nearly reaches it). Without the pause, such a burst overran 4 MiB in milliseconds.
    // (A disk that stalls instead, and a recording that fails on it: test/hostile/recording-stalled-disk.test.ts.)
    env = await startTowerGateway({ config: { recording: { dir, maxBufferedBytes: 2 * 1024 * 1024 } } });
    const { web } = await vmIds(env);
    const { ws, rfb } = await openLive(env, web);
    // 24 full-screen updates asked for at once: about 24 MB for the recording, as fast as the VNC side sends.
    for (let i = 0; i < 24; i++) rfb.requestUpdate(false);
    for (let i = 0; i < 24; i++) await rfb.readUpdate();
    const done = closed(ws);
    ws.close(1000);
    expect((await done).code).toBe(1000);
    const [status] = await settled(dir);
    expect(status).toMatchObject({ state: 'complete', failure: null });
    const file = readFileSync(join(dir, `${status!.id}.cgrec`));
    expect(status!.bytes).toBe(file.length);
    // Everything the browser got is in the file: 24 updates of 640x400 at 4 bytes, plus their headers.
    let recorded = 0;
    for (let at = file.indexOf(0x0a) + 1; at < file.length; at += FRAME_HEAD_BYTES + file.readUInt32BE(at + 5)) recorded += file.readUInt32BE(at + 5);
    expect(recorded).toBeGreaterThan(24 * 640 * 400 * 4);
    expect(env.logs.records().filter((l: any) => l.msg === 'console recording failed')).toEqual([]);
  });

  it('the disk guard: no recording below minFreeBytes, and close-console refuses the console', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, minFreeBytes: 2 ** 52, onRecordingFailure: 'close-console' } } });
    const { web } = await vmIds(env);
    const r: any = await env.gql(OPEN, { id: web });
    const ws = await mustOpen(r.data.openConsole.url);
    expect((await closed(ws)).code).toBe(ConsoleCloseCode.RecordingFailed);
    expect(readdirSync(dir)).toEqual([]);
    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/console_recording_failures_total\{reason="disk_full"\} 1/);
  });

  it('retention deletes recordings past maxAgeHours', async () => {
    const dir = tempDir();
    // An old recording left by an earlier run.
    const oldId = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    writeFileSync(join(dir, `${oldId}.cgrec`), '{"format":"console-gateway-recording","version":1}\n');
    writeFileSync(join(dir, `${oldId}.json`), '{}');
    const old = new Date(Date.now() - 49 * 3_600_000);
    utimesSync(join(dir, `${oldId}.cgrec`), old, old);
    env = await startTowerGateway({ config: { recording: { dir, retention: { maxAgeHours: 48 } } } });
    const { web } = await vmIds(env);
    await useConsole(env, web);
    const [status] = await settled(dir);
    for (let i = 0; i < 200 && existsSync(join(dir, `${oldId}.cgrec`)); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readdirSync(dir).sort()).toEqual([`${status!.id}.cgrec`, `${status!.id}.json`]);
  });

  it('retention keeps the total under maxTotalBytes, oldest first', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, retention: { maxTotalBytes: 1024 } } } });
    const { web } = await vmIds(env);
    await useConsole(env, web);
    // The recording is over 1 KiB by itself: the sweep after it ended removes it.
    let metrics = '';
    for (let i = 0; i < 200; i++) {
      metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
      if (readdirSync(dir).length === 0 && /console_recordings_deleted_total\{reason="size"\} 1/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(metrics).toMatch(/console_recordings_deleted_total\{reason="size"\} 1/);
  });
});

describe('recording from the environment', () => {
  it('CONSOLE_GATEWAY_RECORDING_DIR turns recording on in the embedded default', async () => {
    const dir = tempDir();
    const { startEmbedded } = await import('../../src/simulators/embedded.js');
    const { captureLogger } = await import('../helpers/log-capture.js');
    const embedded = await startEmbedded({ logger: captureLogger('warn').logger, port: 0, drpEventEveryMs: 0, env: { CONSOLE_GATEWAY_RECORDING_DIR: dir } });
    try {
      expect(embedded.config().recording.dir).toBe(dir);
      const vm = embedded.cloudTower.listVms().find((v) => v.name === 'web-01')!;
      const r = await graphqlPost(embedded.url, OPEN, { variables: { id: `tower:${vm.id}` } });
      const ws = await mustOpen((r.body.data as any).openConsole.url);
      const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
      rfb.requestUpdate(false);
      await rfb.readUpdate();
      const done = closed(ws);
      ws.close(1000);
      await done;
      const [status] = await settled(dir);
      expect(status).toMatchObject({ vmId: `tower:${vm.id}`, state: 'complete' });
    } finally {
      await embedded.close();
    }
  });
});

describe('recordings over GraphQL', () => {
  it('lists recordings with a playback URL; only permitted callers see them; unknown ids are NOT_FOUND', async () => {
    const dir = tempDir();
    const viewer = newKey();
    const other = newKey();
    env = await startTowerGateway({
      config: {
        recording: { dir },
        auth: { mode: 'apiKey', apiKeys: [{ name: 'viewer', hash: viewer.hash }, { name: 'other', hash: other.hash }], recordingViewers: ['apikey:viewer'] },
      },
    });
    const { web, db } = await vmIds(env);
    const asViewer = { 'x-api-key': viewer.key };
    for (const vm of [web, db]) {
      const r = await graphqlPost(env.gateway.url, OPEN, { variables: { id: vm }, headers: asViewer });
      const ws = await mustOpen((r.body.data as any).openConsole.url);
      const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
      rfb.requestUpdate(false);
      await rfb.readUpdate();
      const done = closed(ws);
      ws.close();
      await done;
    }
    await settled(dir);

    const all = await graphqlPost(env.gateway.url, LIST, { headers: asViewer });
    const nodes = (all.body.data as any).consoleRecordings.nodes;
    expect(nodes.map((n: any) => n.vmId)).toEqual([db, web]); // newest first
    expect(nodes.every((n: any) => n.state === 'COMPLETE' && n.caller === 'apikey:viewer' && n.bytes > 0)).toBe(true);
    const filtered = await graphqlPost(env.gateway.url, LIST, { headers: asViewer, variables: { f: { vmId: web } } });
    expect((filtered.body.data as any).consoleRecordings.nodes.map((n: any) => n.vmId)).toEqual([web]);

    const one = await graphqlPost(env.gateway.url, 'query($id: ID!) { consoleRecording(id: $id) { id state playbackUrl } }', { headers: asViewer, variables: { id: nodes[0].id } });
    const playbackUrl = (one.body.data as any).consoleRecording.playbackUrl as string;
    expect(playbackUrl.startsWith(`${env.gateway.url}/recordings/${nodes[0].id}?t=`)).toBe(true);
    const page = await fetch(playbackUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/recordings/player.js');
    const data = await fetch(playbackUrl.replace('?t=', '/data?t='));
    expect(data.status).toBe(200);
    expect(Buffer.from(await data.arrayBuffer()).subarray(0, 40).toString()).toContain('console-gateway-recording');
    // Without the token, or with another recording's token: the same 404.
    expect((await fetch(playbackUrl.split('?')[0]!)).status).toBe(404);
    expect((await fetch(playbackUrl.replace(nodes[0].id, nodes[1].id))).status).toBe(404);

    const forbidden = await graphqlPost(env.gateway.url, LIST, { headers: { 'x-api-key': other.key } });
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const missing = await graphqlPost(env.gateway.url, 'query { consoleRecording(id: "01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }', { headers: asViewer });
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const junk = await graphqlPost(env.gateway.url, 'query { consoleRecording(id: "../../etc/passwd") { id } }', { headers: asViewer });
    expect(junk.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('lists a recording still being written as RECORDING, with the bytes it has written so far', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir } } });
    const { web } = await vmIds(env);
    const live = await openLive(env, web);
    live.rfb.requestUpdate(false);
    await live.rfb.readUpdate();
    // One full-screen update (640x400x4 bytes) is on its way to the disk; the listing follows it, not
    // the `recording` status file written at the start (0 bytes).
    let entry: any;
    for (let i = 0; i < 200; i++) {
      const r: any = await env.gql(LIST);
      expect(r.errors).toBeUndefined();
      entry = r.data.consoleRecordings.nodes[0];
      if (entry?.bytes > 640 * 400 * 4) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(entry).toMatchObject({ vmId: web, state: 'RECORDING', failure: null });
    expect(entry.bytes).toBeGreaterThan(640 * 400 * 4);
    const done = closed(live.ws);
    live.ws.close(1000);
    await done;
    const [status] = await settled(dir);
    const r: any = await env.gql(LIST);
    expect(r.data.consoleRecordings.nodes[0]).toMatchObject({ state: 'COMPLETE', bytes: status!.bytes });
  });

  it('a corrupt recording is listed as CORRUPT and the others stay playable', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir } } });
    const { web } = await vmIds(env);
    await useConsole(env, web);
    const [good] = await settled(dir);
    const badId = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    writeFileSync(join(dir, `${badId}.cgrec`), Buffer.from([1, 2, 3, 0xff, 0x0a, 9]));
    const listed: any = await env.gql(LIST);
    const byId = new Map(listed.data.consoleRecordings.nodes.map((n: any) => [n.id, n]));
    expect(byId.get(badId)).toMatchObject({ state: 'CORRUPT', failure: 'header is not valid JSON' });
    expect(byId.get(good!.id)).toMatchObject({ state: 'COMPLETE' });
    const page = await fetch((byId.get(badId) as any).playbackUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('This recording cannot be played: header is not valid JSON');
  });
});

describe('recording after a reload', () => {
  /** The running config with another `recording` section, validated as a reloaded file would be. */
  function withRecording(e: TowerGateway, recording: Record<string, unknown>): GatewayConfig {
    return validateConfig({ ...e.gateway.config(), recording });
  }

  async function listed(e: TowerGateway): Promise<Array<{ vmId: string; state: string; failure: string | null; includesInput: boolean }>> {
    const r: any = await e.gql(LIST);
    expect(r.errors).toBeUndefined();
    return r.data.consoleRecordings.nodes.map(({ vmId, state, failure, includesInput }: any) => ({ vmId, state, failure, includesInput }));
  }

  it('rules and includeInput apply to consoles opened after it; a live console keeps the recorder it had', async () => {
    const dir = tempDir();
    env = await startTowerGateway({ config: { recording: { dir, rules: [{ vmIds: ['tower:*'] }] } } });
    const { web, db } = await vmIds(env);
    const live = await openLive(env, web);

    const report = await env.gateway.reload(withRecording(env, { dir, rules: [{ vmIds: [db] }], includeInput: true }));
    expect(report.needsRestart).toEqual([]);
    // Opened after the reload: web is no longer selected; db is, with input.
    expect((await useConsole(env, web, { key: true })).code).toBe(1000);
    expect((await useConsole(env, db, { key: true })).code).toBe(1000);
    // The live console: still recorded as before, without input.
    live.rfb.send(keyEventMessage(true, 0x70), keyEventMessage(false, 0x70));
    live.rfb.requestUpdate(false);
    await live.rfb.readUpdate();
    const done = closed(live.ws);
    live.ws.close(1000);
    await done;

    await settled(dir);
    expect(await listed(env)).toEqual([
      { vmId: db, state: 'COMPLETE', failure: null, includesInput: true },
      { vmId: web, state: 'COMPLETE', failure: null, includesInput: false },
    ]);
  });

  it('turns recording on, moves it to another directory and turns it off; a live recording finishes where it started', async () => {
    const first = tempDir();
    const second = tempDir();
    env = await startTowerGateway();
    const { web, db } = await vmIds(env);
    await useConsole(env, web);
    expect(await listed(env)).toEqual([]);

    expect((await env.gateway.reload(withRecording(env, { dir: first }))).needsRestart).toEqual([]);
    const live = await openLive(env, web);

    // A directory that cannot be created: the reload is refused and the running config kept.
    const blocked = join(tempDir(), 'a-file');
    writeFileSync(blocked, '');
    await expect(env.gateway.reload(withRecording(env, { dir: join(blocked, 'recordings') }))).rejects.toThrow();
    expect(env.gateway.config().recording.dir).toBe(first);

    await env.gateway.reload(withRecording(env, { dir: second }));
    await useConsole(env, db);
    const [moved] = await settled(second);
    expect(moved).toMatchObject({ vmId: db, state: 'complete' });
    // The listing reads the directory in force.
    expect(await listed(env)).toEqual([{ vmId: db, state: 'COMPLETE', failure: null, includesInput: false }]);

    live.rfb.requestUpdate(false);
    await live.rfb.readUpdate();
    const done = closed(live.ws);
    live.ws.close(1000);
    await done;
    const [kept] = await settled(first);
    expect(kept).toMatchObject({ vmId: web, state: 'complete' });
    expect(readdirSync(second)).toHaveLength(2);

    await env.gateway.reload(withRecording(env, {}));
    await useConsole(env, web);
    expect(await listed(env)).toEqual([]);
    expect(readdirSync(first)).toHaveLength(2);
    expect(readdirSync(second)).toHaveLength(2);
  });
});
