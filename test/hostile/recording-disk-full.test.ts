/**
 * A recording directory whose file system really fills while consoles are recorded: a tmpfs of a
 * few hundred KiB (test/helpers/tmpfs.ts), `minFreeBytes: 0` so the statfs guard does not pre-empt
 * the real ENOSPC. One full-screen update (640x400x4 bytes) is more than the whole disk.
 *
 * Each test: the documented outcome (`disk_full` in the status, the listing, the metric and the log
 * line; the console kept or closed with 4020 as `onRecordingFailure` says), the gateway keeps
 * serving other consoles, and the directory stays usable: what was written plays, recordings made
 * before are untouched, and once space is freed the next console records again.
 */
import { readFileSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { LIST_RECORDINGS, OPEN_CONSOLE, openLive, vmIds } from '../helpers/recorded-consoles.js';
import { mountTmpfs, takeRemainingSpace, tmpfsUnavailable } from '../helpers/tmpfs.js';
import { closed, mustOpen } from '../helpers/ws.js';
import type { RfbTestClient } from '../rfb/rfb-test-client.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { FRAME_HEAD_BYTES, RECORDING_FORMAT } from '../../src/recording/format.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** A corner of the screen: a few KiB recorded, which fits the small disks below. */
const CORNER = { x: 0, y: 0, width: 32, height: 32 };
/** Full-screen updates asked for before giving up on the failure. */
const MAX_UPDATES = 12;

const unavailable = tmpfsUnavailable();
if (unavailable !== null) console.warn(`test/hostile/recording-disk-full.test.ts skipped: ${unavailable}`);

const cleanups = useCleanups();

type Listed = { id: string; vmId: string; state: string; failure: string | null; bytes: number; playbackUrl: string };

async function startOnTmpfs(bytes: number, recording: Record<string, unknown> = {}): Promise<{ env: TowerGateway; dir: string }> {
  const dir = mountTmpfs(cleanups, bytes);
  const env = await startTowerGateway({ config: { recording: { dir, minFreeBytes: 0, ...recording } } });
  cleanups.add(() => env.close());
  return { env, dir };
}

async function listed(env: TowerGateway): Promise<Listed[]> {
  const r: any = await env.gql(LIST_RECORDINGS);
  expect(r.errors).toBeUndefined();
  return r.data.consoleRecordings.nodes;
}

async function metrics(env: TowerGateway): Promise<string> {
  return (await fetch(`${env.gateway.url}/metrics`)).text();
}

function failures(env: TowerGateway): Array<Record<string, any>> {
  return env.logs.records().filter((l) => l.msg === 'console recording failed');
}

/** Polls `check` (every 25 ms, at most 8 s) until it returns something other than undefined. */
async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 320; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

/** The listing once `id` is no longer RECORDING (a failure's status is written as it fails, not when the console closes). */
async function settledEntry(env: TowerGateway, id: string): Promise<Listed> {
  return eventually(`recording ${id} listed as finished`, async () => (await listed(env)).find((n) => n.id === id && n.state !== 'RECORDING'));
}

/**
 * Once `id`'s final status is on disk (the listing says FAILED earlier, from the gateway's memory):
 * writing it over its reserve frees a page or two, which a test that needs a full disk then takes.
 */
async function finalStatusOnDisk(dir: string, id: string): Promise<void> {
  await eventually(`recording ${id}'s final status on disk`, () => {
    try {
      return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')).state !== 'recording' ? true : undefined;
    } catch {
      return undefined;
    }
  });
}

/** The recording of the newest console session on `vmId` (recording ids are ULIDs: they sort by time). */
async function recordingOf(env: TowerGateway, vmId: string): Promise<string> {
  const r: any = await env.gql('query($f: ConsoleSessionFilter) { consoleSessions(filter: $f) { recordingId } }', { f: { vmId } });
  expect(r.errors).toBeUndefined();
  const ids = (r.data.consoleSessions as Array<{ recordingId: string | null }>).flatMap((s) => (s.recordingId === null ? [] : [s.recordingId]));
  expect(ids.length).toBeGreaterThan(0);
  return ids.sort().at(-1)!;
}

/** Full-screen updates until the gateway logs a recording failure (at most MAX_UPDATES); resolves with the failure. */
async function fillUntilFailure(env: TowerGateway, rfb: RfbTestClient, recordingId: string): Promise<Record<string, any>> {
  for (let i = 0; i < MAX_UPDATES; i++) {
    rfb.requestUpdate(false);
    await rfb.readUpdate();
    const failure = failures(env).find((l) => l.recordingId === recordingId);
    if (failure) return failure;
  }
  return eventually(`recording ${recordingId} failed`, () => failures(env).find((l) => l.recordingId === recordingId));
}

/** A console that records a few KiB (one corner update) and closes; its recording id. */
async function smallRecording(env: TowerGateway, vmId: string, track: Set<WebSocket>): Promise<string> {
  const live = await openLive(env, vmId, track);
  live.rfb.requestUpdate(false, CORNER);
  await live.rfb.readUpdate();
  const id = await recordingOf(env, vmId);
  const done = closed(live.ws);
  live.ws.close(1000);
  expect((await done).code).toBe(1000);
  return id;
}

/** Frames of a recording file, up to a last frame cut short (a recording cut by a full disk). */
function parseRecording(file: Buffer): { header: Record<string, unknown>; frames: number; cut: boolean } {
  const nl = file.indexOf(0x0a);
  expect(nl).toBeGreaterThan(0);
  const header = JSON.parse(file.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
  let at = nl + 1;
  let frames = 0;
  while (at < file.length) {
    if (file.length - at < FRAME_HEAD_BYTES) return { header, frames, cut: true };
    expect(file[at]).toBe(0);
    const next = at + FRAME_HEAD_BYTES + file.readUInt32BE(at + 5);
    if (next > file.length) return { header, frames, cut: true };
    frames++;
    at = next;
  }
  return { header, frames, cut: false };
}

async function fetchBytes(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe.skipIf(unavailable !== null)('a recording disk that fills mid-recording', () => {
  it('stop-recording: the console goes on, the recording is FAILED disk_full and plays up to the cut; earlier recordings, other consoles and later ones are fine', async () => {
    const { env, dir } = await startOnTmpfs(512 * KiB);
    const { web, db } = await vmIds(env);

    // A recording made before the disk fills.
    const beforeId = await smallRecording(env, web, cleanups.sockets);
    const beforeEntry = await settledEntry(env, beforeId);
    expect(beforeEntry).toMatchObject({ state: 'COMPLETE', failure: null });
    const beforeBytes = readFileSync(join(dir, `${beforeId}.cgrec`));

    // A bystander, recorded too, open while another console fills the disk.
    const bystander = await openLive(env, db, cleanups.sockets);
    const bystanderId = await recordingOf(env, db);

    const filler = await openLive(env, web, cleanups.sockets);
    const fillerId = await recordingOf(env, web);
    const failure = await fillUntilFailure(env, filler.rfb, fillerId);
    expect(failure).toMatchObject({ level: 40, reason: 'disk_full', detail: 'ENOSPC', closeConsole: false });
    // Full, but for what the filler's final status gave back of its reserve.
    expect(statfsSync(dir).bavail * statfsSync(dir).bsize).toBeLessThanOrEqual(8 * KiB);

    // The console goes on: more full updates arrive after the failure.
    for (let i = 0; i < 2; i++) {
      filler.rfb.requestUpdate(false);
      const rects = await filler.rfb.readUpdate();
      expect(rects.reduce((n, r) => n + r.width * r.height, 0)).toBe(640 * 400);
    }

    // Listed as FAILED disk_full while the console is still open: not RECORDING, not CORRUPT. (Read
    // once the final status is on disk: the listing says FAILED from memory before that.)
    await finalStatusOnDisk(dir, fillerId);
    const entry = await settledEntry(env, fillerId);
    expect(entry).toMatchObject({ vmId: web, state: 'FAILED', failure: 'disk_full' });
    expect(await metrics(env)).toMatch(/console_recording_failures_total\{reason="disk_full"\} 1\n/);
    // The status file itself says so too (written on the full disk).
    expect(JSON.parse(readFileSync(join(dir, `${fillerId}.json`), 'utf8'))).toMatchObject({ state: 'failed', failure: 'disk_full' });

    // What was written before the cut is served as it is on disk, and is a recording up to the cut.
    const onDisk = readFileSync(join(dir, `${fillerId}.cgrec`));
    expect(entry.bytes).toBe(onDisk.length);
    const data = await fetchBytes(entry.playbackUrl.replace('?t=', '/data?t='));
    expect(data.status).toBe(200);
    expect(data.body.equals(onDisk)).toBe(true);
    const parsed = parseRecording(data.body);
    expect(parsed.header).toMatchObject({ format: RECORDING_FORMAT, id: fillerId, vmId: web });
    expect(parsed.frames).toBeGreaterThan(1);
    const page = await fetch(entry.playbackUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-recording-state="failed"');

    // The recording made before: listed and served as it was.
    expect((await listed(env)).find((n) => n.id === beforeId)).toMatchObject({ state: 'COMPLETE', bytes: beforeBytes.length });
    expect((await fetchBytes(beforeEntry.playbackUrl.replace('?t=', '/data?t='))).body.equals(beforeBytes)).toBe(true);

    // The bystander's console works; its own recording fails on the full disk when it next writes.
    bystander.rfb.requestUpdate(false);
    await bystander.rfb.readUpdate();
    expect(await settledEntry(env, bystanderId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    const bystanderClosed = closed(bystander.ws);
    bystander.ws.close(1000);
    expect((await bystanderClosed).code).toBe(1000);

    // A console opened while the disk is full: it works, and its recording (its status could not
    // even be written) is FAILED disk_full, not CORRUPT or RECORDING. The pages the bystander's final
    // status freed are taken first, or that status could land.
    await finalStatusOnDisk(dir, bystanderId);
    takeRemainingSpace(dir);
    const late = await openLive(env, web, cleanups.sockets);
    const lateId = await recordingOf(env, web);
    late.rfb.requestUpdate(false, CORNER);
    await late.rfb.readUpdate();
    expect(await settledEntry(env, lateId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    const lateClosed = closed(late.ws);
    late.ws.close(1000);
    expect((await lateClosed).code).toBe(1000);
    expect(await metrics(env)).toMatch(/console_recording_failures_total\{reason="disk_full"\} 3\n/);
    expect(env.logs.records().some((l) => l.msg === 'console recording final status held: the disk refused it' && l.recordingId === lateId)).toBe(true);

    // Space freed (the big recording removed): the next console records again, and the status the
    // full disk refused is written now.
    rmSync(join(dir, `${fillerId}.cgrec`));
    rmSync(join(dir, `${fillerId}.json`));
    const afterId = await smallRecording(env, db, cleanups.sockets);
    expect(await settledEntry(env, afterId)).toMatchObject({ state: 'COMPLETE', failure: null });
    await eventually('the refused status written once there is space', () => {
      try {
        const s = JSON.parse(readFileSync(join(dir, `${lateId}.json`), 'utf8'));
        return s.state === 'failed' ? s : undefined;
      } catch {
        return undefined;
      }
    });
    expect(JSON.parse(readFileSync(join(dir, `${lateId}.json`), 'utf8'))).toMatchObject({ failure: 'disk_full' });
    expect((await listed(env)).find((n) => n.id === lateId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    expect((await fetch(`${env.gateway.url}/healthz`)).status).toBe(200);
  });

  it('close-console: the filling console closes with 4020, a console open meanwhile stays open, and the next one records once space is freed', async () => {
    const { env, dir } = await startOnTmpfs(512 * KiB, { onRecordingFailure: 'close-console' });
    const { web, db } = await vmIds(env);
    const bystander = await openLive(env, db, cleanups.sockets);

    const filler = await openLive(env, web, cleanups.sockets);
    const fillerId = await recordingOf(env, web);
    const fillerClosed = closed(filler.ws);
    filler.rfb.requestUpdate(false);
    expect(await fillerClosed).toEqual({ code: ConsoleCloseCode.RecordingFailed, reason: 'recording failed' });
    expect(failures(env).find((l) => l.recordingId === fillerId)).toMatchObject({ reason: 'disk_full', detail: 'ENOSPC', closeConsole: true });
    expect(await settledEntry(env, fillerId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    expect(await metrics(env)).toMatch(/console_recording_failures_total\{reason="disk_full"\} 1\n/);

    // The bystander wrote nothing since: still open, and the gateway answers.
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    expect((await fetch(`${env.gateway.url}/healthz`)).status).toBe(200);

    // While the disk is full a new console cannot be recorded, so the policy closes it with 4020.
    const r: any = await env.gql(OPEN_CONSOLE, { id: web });
    const refused = await mustOpen(r.data.openConsole.url, { track: cleanups.sockets });
    expect((await closed(refused)).code).toBe(ConsoleCloseCode.RecordingFailed);
    expect(await metrics(env)).toMatch(/console_recording_failures_total\{reason="disk_full"\} 2\n/);

    rmSync(join(dir, `${fillerId}.cgrec`));
    const afterId = await smallRecording(env, web, cleanups.sockets);
    expect(await settledEntry(env, afterId)).toMatchObject({ state: 'COMPLETE' });
    const bystanderClosed = closed(bystander.ws);
    bystander.ws.close(1000);
    expect((await bystanderClosed).code).toBe(1000);
  });

  it('retention frees the disk after a failed recording, and the next console records again', async () => {
    const { env } = await startOnTmpfs(512 * KiB, { retention: { maxTotalBytes: 64 * KiB } });
    const { web, db } = await vmIds(env);
    await smallRecording(env, db, cleanups.sockets);
    const filler = await openLive(env, web, cleanups.sockets);
    const fillerId = await recordingOf(env, web);
    await fillUntilFailure(env, filler.rfb, fillerId);
    // The failed recording counts as finished: the sweep after it deletes the oldest until under 64 KiB.
    await eventually('retention deleted both', async () => ((await metrics(env)).includes('console_recordings_deleted_total{reason="size"} 2\n') ? true : undefined));
    expect(await listed(env)).toEqual([]);
    const afterId = await smallRecording(env, db, cleanups.sockets);
    expect(await settledEntry(env, afterId)).toMatchObject({ state: 'COMPLETE' });
    const fillerClosed = closed(filler.ws);
    filler.ws.close(1000);
    expect((await fillerClosed).code).toBe(1000);
  });

  it('maxHeldStatuses: while that many refused statuses wait in memory, no recording starts and the console goes on', async () => {
    const { env, dir } = await startOnTmpfs(512 * KiB, { maxHeldStatuses: 1 });
    const { web, db } = await vmIds(env);
    const filler = await openLive(env, web, cleanups.sockets);
    const fillerId = await recordingOf(env, web);
    await fillUntilFailure(env, filler.rfb, fillerId);
    // The filler's final status, written over its reserve, frees a page or two: once it is written,
    // they are taken, so the next recording's status has no room at all (with a page free it could
    // land, and nothing would be held).
    expect(await settledEntry(env, fillerId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    await finalStatusOnDisk(dir, fillerId);
    takeRemainingSpace(dir);

    // A console opened on the full disk: its recording fails and its final status is held (the one allowed).
    await openLive(env, db, cleanups.sockets); // left open: its recording is the held one
    const heldId = await recordingOf(env, db);
    expect(await settledEntry(env, heldId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    const held = await eventually('the refused status held', () => env.logs.records().find((l) => l.msg === 'console recording final status held: the disk refused it' && l.recordingId === heldId));
    expect(held).toMatchObject({ level: 40, errCode: 'ENOSPC', heldStatuses: 1, maxHeldStatuses: 1 });

    // The next console is not recorded at all, and works.
    const next = await openLive(env, db, cleanups.sockets);
    next.rfb.requestUpdate(false, CORNER);
    await next.rfb.readUpdate();
    const notStarted = env.logs.records().filter((l) => l.msg === 'console recording not started: statuses wait for disk space');
    expect(notStarted).toHaveLength(1);
    expect(notStarted[0]).toMatchObject({ level: 40, heldStatuses: 1, maxHeldStatuses: 1 });
    const sessions: any = await env.gql('query($f: ConsoleSessionFilter) { consoleSessions(filter: $f) { recordingId closeCode } }', { f: { vmId: db } });
    const open = sessions.data.consoleSessions.filter((s: any) => s.closeCode === null).map((s: any) => s.recordingId);
    expect(open.sort()).toEqual([heldId, null].sort());
    expect(await metrics(env)).toMatch(/console_recording_failures_total\{reason="disk_full"\} 3\n/);
  });

  it('the minFreeBytes guard, checked every 4 MiB written, fails the recording before the disk is full', async () => {
    const { env, dir } = await startOnTmpfs(8 * MiB, { minFreeBytes: 7 * MiB });
    const { web } = await vmIds(env);
    const filler = await openLive(env, web, cleanups.sockets);
    const fillerId = await recordingOf(env, web);
    const failure = await fillUntilFailure(env, filler.rfb, fillerId);
    expect(failure).toMatchObject({ reason: 'disk_full', detail: 'minFreeBytes' });
    expect(failures(env).filter((l) => l.detail === 'ENOSPC')).toEqual([]);
    expect(await settledEntry(env, fillerId)).toMatchObject({ state: 'FAILED', failure: 'disk_full' });
    const s = statfsSync(dir);
    expect(s.bavail * s.bsize).toBeGreaterThan(MiB);
    filler.rfb.requestUpdate(false, CORNER);
    await filler.rfb.readUpdate();
  });
});
