/**
 * A recording disk that takes writes and never finishes them (a hung network file system), for real
 * (test/helpers/stalled-disk.ts: the gateway's libuv pool held on FIFOs). Backpressure
 * pauses the console's VNC side while the recording's queue is past half of maxBufferedBytes; past
 * `recording.maxStallSeconds` of that, the recording fails `disk_too_slow` (detail `stalled`) and the
 * console goes on (or, with `onRecordingFailure: close-console`, closes with 4020), instead of
 * staying paused for as long as the disk hangs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { openLive, settled, vmIds } from '../helpers/recorded-consoles.js';
import { closed } from '../helpers/ws.js';
import { stallFileIo } from '../helpers/stalled-disk.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';

const cleanups = useCleanups();

/** A gateway recording into a fresh directory, with a console open on it and its first update read. */
async function recordedConsole(recording: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'cg-rec-stall-'));
  cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
  // 2 MiB: the least the bound may be with console.maxFrameBytes at its 1 MiB default.
  const env = await startTowerGateway({ config: { recording: { dir: join(dir, 'recordings'), maxBufferedBytes: 2 * 1024 * 1024, maxStallSeconds: 1, ...recording } } });
  cleanups.add(() => env.close());
  const { web } = await vmIds(env);
  const live = await openLive(env, web, cleanups.sockets);
  live.rfb.requestUpdate(false);
  await live.rfb.readUpdate();
  return { env, dir, live };
}

describe('a recording disk that stalls', () => {
  it('pauses the console only up to maxStallSeconds, then fails the recording (disk_too_slow, stalled) and the console goes on', async () => {
    const { env, dir, live } = await recordedConsole({});
    const release = stallFileIo(dir);
    cleanups.add(release);
    // Four full-screen updates (about 4 MB) against a 2 MiB bound on a disk that takes nothing.
    for (let i = 0; i < 4; i++) live.rfb.requestUpdate(false);
    for (let i = 0; i < 4; i++) {
      const rects = await live.rfb.readUpdate();
      expect(rects.reduce((n, r) => n + r.width * r.height, 0)).toBe(640 * 400);
    }
    const failure = env.logs.records().find((l: any) => l.msg === 'console recording failed');
    expect(failure).toMatchObject({ level: 40, reason: 'disk_too_slow', detail: 'stalled', closeConsole: false });
    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/console_recording_failures_total\{reason="disk_too_slow"\} 1\n/);

    await release();
    // The final status is written once the file I/O it queued behind the stall has run.
    await settled(join(dir, 'recordings'));
    const listed: any = await env.gql('{ consoleRecordings { nodes { state failure } } }');
    expect(listed.data.consoleRecordings.nodes).toEqual([{ state: 'FAILED', failure: 'disk_too_slow' }]);
    const done = closed(live.ws);
    live.ws.close(1000);
    expect((await done).code).toBe(1000);
  });

  it('with onRecordingFailure close-console, the stalled recording closes its console with 4020', async () => {
    const { env, dir, live } = await recordedConsole({ onRecordingFailure: 'close-console' });
    const ended = closed(live.ws);
    const release = stallFileIo(dir);
    cleanups.add(release);
    for (let i = 0; i < 4; i++) live.rfb.requestUpdate(false);
    expect(await ended).toEqual({ code: ConsoleCloseCode.RecordingFailed, reason: 'recording failed' });
    const failure = env.logs.records().find((l: any) => l.msg === 'console recording failed');
    expect(failure).toMatchObject({ level: 40, reason: 'disk_too_slow', detail: 'stalled', closeConsole: true });

    await release();
    // The final status is written once the file I/O it queued behind the stall has run.
    await settled(join(dir, 'recordings'));
    const listed: any = await env.gql('{ consoleRecordings { nodes { state failure } } }');
    expect(listed.data.consoleRecordings.nodes).toEqual([{ state: 'FAILED', failure: 'disk_too_slow' }]);
  });
});
