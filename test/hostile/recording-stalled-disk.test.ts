/**
 * A recording disk that takes writes and never finishes them (a hung network file system). Here the
 * stall is real: every thread of the gateway's libuv pool (where file writes run) is held by an
 * open() of a FIFO nobody writes to, so the recording's file I/O waits behind them. Backpressure
 * pauses the console's VNC side while the recording's queue is past half of maxBufferedBytes; past
 * `recording.maxStallSeconds` of that, the recording fails `disk_too_slow` (detail `stalled`) and the
 * console goes on, instead of staying paused for as long as the disk hangs.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { openLive, vmIds } from '../helpers/recorded-consoles.js';
import { closed } from '../helpers/ws.js';

const cleanups = useCleanups();

/** Holds every libuv pool thread of this process (the gateway runs in it) until the returned function is called. */
function stallFileIo(dir: string): () => Promise<void> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(dir, `stall-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const opened: Array<Promise<FileHandle>> = fifos.map((fifo) => open(fifo, 'r'));
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // A writer lets each blocked open() return; then both ends are closed.
    for (const fifo of fifos) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    for (const handle of await Promise.all(opened)) await handle.close();
  };
}

describe('a recording disk that stalls', () => {
  it('pauses the console only up to maxStallSeconds, then fails the recording (disk_too_slow, stalled) and the console goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-rec-stall-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const env = await startTowerGateway({ config: { recording: { dir: join(dir, 'recordings'), maxBufferedBytes: 1024 * 1024, maxStallSeconds: 1 } } });
    cleanups.add(() => env.close());
    const { web } = await vmIds(env);
    const live = await openLive(env, web, cleanups.sockets);
    live.rfb.requestUpdate(false);
    await live.rfb.readUpdate();

    const release = stallFileIo(dir);
    cleanups.add(release);
    // Four full-screen updates (about 4 MB) against a 1 MiB bound on a disk that takes nothing.
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
    const listed: any = await env.gql('{ consoleRecordings { nodes { state failure } } }');
    expect(listed.data.consoleRecordings.nodes).toEqual([{ state: 'FAILED', failure: 'disk_too_slow' }]);
    const done = closed(live.ws);
    live.ws.close(1000);
    expect((await done).code).toBe(1000);
  });
});
