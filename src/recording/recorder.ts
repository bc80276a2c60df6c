/**
 * Console recordings: which sessions are recorded (config rules), the per-session writer streamed
 * to disk, retention and the disk guard. Format: ./format.ts.
 *
 * The writer never holds a recording in memory: each chunk goes to a file WriteStream as it is
 * forwarded (a 9-byte head and the chunk itself, no copy). While the disk is slower than the
 * console the stream's own queue grows; past `recording.maxBufferedBytes` the recording fails as
 * `disk_too_slow` (an RFB stream with a gap cannot be replayed past it, so nothing is dropped
 * silently), and `onRecordingFailure` decides whether the console goes on.
 *
 * A full disk must not leave a recording listed as still running: each live recording keeps
 * STATUS_RESERVE_BYTES beside it for its final status, and a final status the disk refuses anyway is
 * held here (the catalog lists it from memory) and written at the next retention sweep.
 *
 * A reload (`prepareReload`) applies to consoles opened after it: each recorder keeps the section it
 * started under (its directory, buffer bound, disk guard and failure policy), so a live console's
 * recording is never switched half-way.
 */
import { createWriteStream, mkdirSync, statfsSync, type WriteStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, type Registry } from 'prom-client';
import { monotonicFactory } from 'ulid';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import {
  DIRECTION_TO_CLIENT,
  DIRECTION_TO_SERVER,
  RECORDING_EXT,
  RECORDING_FORMAT,
  RECORDING_VERSION,
  STATUS_EXT,
  frameHead,
  type RecordingHeader,
  type RecordingStatus,
} from './format.js';

export type RecordingConfig = GatewayConfig['recording'];

/** What a session calls; see SessionOptions.recorder in src/console/session.ts. */
export interface SessionRecorder {
  /** Record browser input too (`recording.includeInput`). */
  readonly includeInput: boolean;
  /** The recording's id (what `consoleRecording(id)` takes). */
  readonly id: string;
  /**
   * Records bytes on their way to the browser. False once the recording's queue has passed half of
   * `recording.maxBufferedBytes`: the session then stops reading the VNC server until `whenDrained`
   * calls back, so a burst waits for the disk instead of failing the recording.
   */
  toClient(chunk: Buffer): boolean;
  toServer(chunk: Buffer): void;
  /** Calls `callback` once, when the queue has drained or the recording has stopped (failed or ended). */
  whenDrained(callback: () => void): void;
  /** The session ended; the file is closed and its status written. */
  end(): void;
}

export interface RecordingSubject {
  sessionId: string;
  vmId: string | null;
  provider: string | null;
  caller: string;
}

const CHECK_DISK_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Bytes each live recording holds in `<id>.json.tmp` for its final status (a status is a few hundred
 * bytes; the header fields are bounded by the catalog's 4 KiB header line). Writing into blocks the
 * file system already gave needs no new space, so the final status lands on a disk the recording
 * itself filled (tmpfs, ext4, xfs; a copy-on-write file system may still refuse it).
 */
const STATUS_RESERVE_BYTES = 8192;
/** What the reserve is filled with: one buffer for every recording (it is only ever read). */
const STATUS_RESERVE = Buffer.alloc(STATUS_RESERVE_BYTES, 0x20);

/** Where a status is written before it is renamed into place; while a recording is live, its reserve. */
const STATUS_ASIDE_EXT = `${STATUS_EXT}.tmp`;

function statusText(status: RecordingStatus): string {
  return `${JSON.stringify(status)}\n`;
}

/**
 * Writes `<id>.json` aside and renames it into place, so a reader (the listing) never sees half a
 * status. With `reserved`, the aside file already holds STATUS_RESERVE_BYTES: the status is written
 * over them and the file cut to its length, instead of asking the file system for new blocks.
 */
async function writeStatusFile(dir: string, id: string, text: string, reserved = false): Promise<void> {
  const path = join(dir, id + STATUS_EXT);
  const aside = join(dir, id + STATUS_ASIDE_EXT);
  const bytes = Buffer.from(text, 'utf8');
  if (reserved && bytes.length <= STATUS_RESERVE_BYTES) {
    const fh = await open(aside, 'r+');
    try {
      await fh.write(bytes, 0, bytes.length, 0);
      await fh.truncate(bytes.length);
    } finally {
      await fh.close();
    }
  } else {
    await writeFile(aside, bytes);
  }
  await rename(aside, path);
}

function patternToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Does `recording.rules` select this console? Absent rules select every console. */
export function matchesRules(rules: RecordingConfig['rules'], s: RecordingSubject): boolean {
  if (rules === undefined) return true;
  return rules.some(
    (r) =>
      (r.providers === undefined || (s.provider !== null && r.providers.includes(s.provider))) &&
      (r.callers === undefined || r.callers.includes(s.caller)) &&
      (r.vmIds === undefined || (s.vmId !== null && r.vmIds.some((p) => patternToRegExp(p).test(s.vmId!)))),
  );
}

export class RecordingMetrics {
  readonly started: Counter;
  readonly failures: Counter<'reason'>;
  readonly deleted: Counter<'reason'>;
  constructor(registry: Registry | null) {
    const registers = registry ? [registry] : [];
    this.started = new Counter({ name: 'console_recordings_started_total', help: 'Console recordings started.', registers });
    this.failures = new Counter({
      name: 'console_recording_failures_total',
      help: 'Console recordings that failed or could not start, by reason (write_error, disk_full, disk_too_slow).',
      labelNames: ['reason'],
      registers,
    });
    this.deleted = new Counter({ name: 'console_recordings_deleted_total', help: 'Recordings deleted by retention, by reason (age, size).', labelNames: ['reason'], registers });
  }
}

export interface RecorderServiceOptions {
  config: RecordingConfig;
  logger: Logger;
  metrics?: Registry | null;
  now: () => number;
}

/** Is there at least `minFreeBytes` free on `dir`'s file system? An unreadable directory has none. */
function enoughSpaceSync(dir: string, minFreeBytes: number): boolean {
  if (minFreeBytes === 0) return true;
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize >= minFreeBytes;
  } catch {
    return false;
  }
}

async function enoughSpace(dir: string, minFreeBytes: number): Promise<boolean> {
  if (minFreeBytes === 0) return true;
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize >= minFreeBytes;
  } catch {
    return false;
  }
}

export class RecordingService {
  /** The section in force: what consoles opened from now on are recorded under. */
  #cfg: RecordingConfig;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #metrics: RecordingMetrics;
  readonly #ulid = monotonicFactory();
  readonly #active = new Set<string>();
  /** Final statuses the disk refused, by recording id, with the directory they belong in. */
  readonly #unwritten = new Map<string, { dir: string; status: RecordingStatus }>();
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;

  constructor(opts: RecorderServiceOptions) {
    this.#cfg = opts.config;
    this.#logger = opts.logger.child({ component: 'recording' });
    this.#now = opts.now;
    this.#metrics = new RecordingMetrics(opts.metrics ?? null);
    if (opts.config.dir !== undefined) mkdirSync(opts.config.dir, { recursive: true });
    this.#startSweeping();
  }

  /** The directory new recordings go to (and `consoleRecordings` lists); null while recording is off. */
  get dir(): string | null {
    return this.#cfg.dir ?? null;
  }

  /**
   * The first half of a reload: creates a new directory, and throws (changing nothing) when it
   * cannot. Returns the second half, which makes `next` the section consoles opened from then on
   * are recorded under; live recorders keep theirs. A directory left behind is no longer listed or
   * swept; the recordings still being written to it finish there.
   */
  prepareReload(next: RecordingConfig): () => void {
    if (next.dir !== undefined && next.dir !== this.#cfg.dir) mkdirSync(next.dir, { recursive: true });
    return () => {
      this.#cfg = next;
      this.#stopSweeping();
      this.#startSweeping();
    };
  }

  /** Retention now (the limits or the directory may be new) and hourly, while there is a directory. */
  #startSweeping(): void {
    if (this.dir === null) return;
    // A sweep already under way read the section it started with: the new one runs after it.
    void (this.#sweeping ?? Promise.resolve()).then(() => this.sweep());
    this.#sweepTimer = setInterval(() => void this.sweep(), 3_600_000);
    this.#sweepTimer.unref();
  }

  #stopSweeping(): void {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
  }

  /**
   * A recorder for this console, or null when it is not recorded. `failConsole` closes the console
   * (used when `onRecordingFailure` is `close-console`).
   */
  recorderFor(subject: RecordingSubject, failConsole: () => void): SessionRecorder | null {
    const cfg = this.#cfg;
    const dir = cfg.dir;
    if (dir === undefined || !matchesRules(cfg.rules, subject)) return null;
    if (!enoughSpaceSync(dir, cfg.minFreeBytes)) {
      this.#metrics.failures.inc({ reason: 'disk_full' });
      this.#logger.warn({ sessionId: subject.sessionId, vmId: subject.vmId, minFreeBytes: cfg.minFreeBytes }, 'console recording not started: disk guard');
      if (cfg.onRecordingFailure === 'close-console') failConsole();
      return null;
    }
    // Each recording the full disk fails may leave its final status here: bounded, so a disk that
    // stays full while consoles keep opening stops recordings instead of growing memory.
    if (this.#unwritten.size >= cfg.maxHeldStatuses) {
      this.#metrics.failures.inc({ reason: 'disk_full' });
      this.#logger.warn({ sessionId: subject.sessionId, vmId: subject.vmId, heldStatuses: this.#unwritten.size, maxHeldStatuses: cfg.maxHeldStatuses }, 'console recording not started: statuses wait for disk space');
      if (cfg.onRecordingFailure === 'close-console') failConsole();
      return null;
    }
    const id = this.#ulid(this.#now());
    this.#metrics.started.inc();
    this.#active.add(id);
    return new FileRecorder(this, { ...cfg, dir }, id, subject, failConsole);
  }

  /** @internal used by FileRecorder */
  get logger(): Logger {
    return this.#logger;
  }
  get metrics(): RecordingMetrics {
    return this.#metrics;
  }
  now(): number {
    return this.#now();
  }
  finished(id: string): void {
    this.#active.delete(id);
    void this.sweep();
  }

  /** The disk refused this final status: listed from memory, written again at each sweep. */
  statusNotWritten(dir: string, status: RecordingStatus): void {
    this.#unwritten.set(status.id, { dir, status: { ...status } });
  }

  /** A final status of a recording in `dir` that the disk refused and this process holds, or null. */
  unwrittenStatus(dir: string, id: string): RecordingStatus | null {
    const held = this.#unwritten.get(id);
    return held !== undefined && held.dir === dir ? held.status : null;
  }

  /** Writes the statuses the disk refused, now that it may have room; drops those whose recording is gone. */
  async #writeUnwritten(): Promise<void> {
    for (const [id, { dir, status }] of this.#unwritten) {
      try {
        await stat(join(dir, id + RECORDING_EXT));
      } catch {
        this.#unwritten.delete(id);
        continue;
      }
      try {
        await writeStatusFile(dir, id, statusText(status));
        this.#unwritten.delete(id);
        this.#logger.info({ recordingId: id }, 'console recording status written after the disk refused it');
      } catch {
        // Still no room: the next sweep tries again.
      }
    }
  }

  /** Retention: delete finished recordings past `maxAgeHours`, then the oldest while over `maxTotalBytes`. */
  sweep(): Promise<void> {
    return (this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = null)));
  }

  async #sweep(): Promise<void> {
    await this.#writeUnwritten();
    const { dir, retention } = this.#cfg;
    if (dir === undefined) return;
    try {
      const names = (await readdir(dir)).filter((n) => n.endsWith(RECORDING_EXT));
      const entries: { id: string; mtimeMs: number; size: number }[] = [];
      for (const name of names) {
        const id = name.slice(0, -RECORDING_EXT.length);
        if (this.#active.has(id)) continue;
        try {
          const st = await stat(join(dir, name));
          entries.push({ id, mtimeMs: st.mtimeMs, size: st.size });
        } catch {
          // deleted meanwhile
        }
      }
      entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
      const cutoff = this.#now() - retention.maxAgeHours * 3_600_000;
      let total = entries.reduce((n, e) => n + e.size, 0);
      for (const e of entries) {
        const reason = e.mtimeMs < cutoff ? 'age' : total > retention.maxTotalBytes ? 'size' : null;
        if (reason === null) continue;
        await rm(join(dir, e.id + RECORDING_EXT), { force: true });
        await rm(join(dir, e.id + STATUS_EXT), { force: true });
        await rm(join(dir, e.id + STATUS_ASIDE_EXT), { force: true });
        this.#unwritten.delete(e.id);
        total -= e.size;
        this.#metrics.deleted.inc({ reason });
        this.#logger.info({ recordingId: e.id, reason }, 'console recording deleted by retention');
      }
    } catch (err) {
      this.#logger.warn({ errCode: (err as { code?: string }).code ?? 'unknown' }, 'console recording retention sweep failed');
    }
  }

  close(): void {
    this.#stopSweeping();
  }
}

/** The section a recorder started under, with its directory. */
type RecorderConfig = RecordingConfig & { dir: string };

class FileRecorder implements SessionRecorder {
  readonly includeInput: boolean;
  readonly #svc: RecordingService;
  readonly #cfg: RecorderConfig;
  readonly #status: RecordingStatus;
  readonly #startMs: number;
  readonly #failConsole: () => void;
  /** Null once the file is closing (ended or failed): nothing more is written to it. */
  #stream: WriteStream | null;
  #sinceDiskCheck = 0;
  /** The session has ended: a failure while the file is flushed does not close the console again. */
  #ended = false;
  /** `<id>.json.tmp` holds STATUS_RESERVE_BYTES for the final status. */
  #reserved = false;
  /** Sessions waiting for the queue to drain (whenDrained), and the bound on that wait. */
  #drainWaiters: Array<() => void> = [];
  #stallTimer: NodeJS.Timeout | null = null;
  /** Status writes in order: the start's never lands after the end's. */
  #statusWrite: Promise<void> = Promise.resolve();

  constructor(svc: RecordingService, cfg: RecorderConfig, id: string, subject: RecordingSubject, failConsole: () => void) {
    this.#svc = svc;
    this.#cfg = cfg;
    this.#failConsole = failConsole;
    this.includeInput = cfg.includeInput;
    this.#startMs = svc.now();
    const header: RecordingHeader = {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      id,
      sessionId: subject.sessionId,
      vmId: subject.vmId,
      provider: subject.provider,
      caller: subject.caller,
      startedAt: new Date(this.#startMs).toISOString(),
      screen: null,
      includesInput: this.includeInput,
    };
    const { format: _f, version: _v, ...rest } = header;
    this.#status = { ...rest, state: 'recording', endedAt: null, durationMs: null, bytes: 0, frames: 0, failure: null };
    // write() returns false past half the bound, and 'drain' follows once the queue is empty.
    this.#stream = createWriteStream(join(cfg.dir, id + RECORDING_EXT), { flags: 'wx', highWaterMark: Math.floor(cfg.maxBufferedBytes / 2) });
    this.#stream.on('error', (err: NodeJS.ErrnoException) => this.#fail(err.code === 'ENOSPC' ? 'disk_full' : 'write_error', err.code ?? null));
    this.#stream.on('drain', () => this.#drained());
    this.#write(Buffer.from(`${JSON.stringify(header)}\n`));
    this.#writeFirstStatus();
    svc.logger.info({ recordingId: id, sessionId: subject.sessionId, vmId: subject.vmId, includesInput: this.includeInput }, 'console recording started');
  }

  get id(): string {
    return this.#status.id;
  }

  toClient(chunk: Buffer): boolean {
    return this.#frame(DIRECTION_TO_CLIENT, chunk);
  }

  toServer(chunk: Buffer): void {
    if (this.includeInput) this.#frame(DIRECTION_TO_SERVER, chunk);
  }

  whenDrained(callback: () => void): void {
    if (this.#stream === null || !this.#stream.writableNeedDrain) {
      callback();
      return;
    }
    this.#drainWaiters.push(callback);
    // A disk that takes writes but never finishes them would hold the console paused for good.
    this.#stallTimer ??= setTimeout(() => this.#fail('disk_too_slow', 'stalled'), this.#cfg.maxStallSeconds * 1000);
    this.#stallTimer.unref?.();
  }

  #drained(): void {
    if (this.#stallTimer !== null) clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const callback of waiters) callback();
  }

  /** false: the queue is past half of maxBufferedBytes (see toClient). */
  #frame(direction: number, chunk: Buffer): boolean {
    const stream = this.#stream;
    if (stream === null) return true;
    this.#write(frameHead(direction, this.#svc.now() - this.#startMs, chunk.length));
    this.#write(chunk);
    this.#status.frames++;
    // Past the whole bound only when one read outgrew the half left (or input, which is not paused, kept coming).
    if (stream.writableLength > this.#cfg.maxBufferedBytes) {
      this.#fail('disk_too_slow', null);
      return true;
    }
    this.#sinceDiskCheck += chunk.length;
    if (this.#sinceDiskCheck >= CHECK_DISK_EVERY_BYTES) {
      this.#sinceDiskCheck = 0;
      void enoughSpace(this.#cfg.dir, this.#cfg.minFreeBytes).then((ok) => {
        // A recording that ended meanwhile is being flushed: what it wrote stands.
        if (!ok && this.#stream === stream) this.#fail('disk_full', 'minFreeBytes');
      });
    }
    return !stream.writableNeedDrain;
  }

  #write(buf: Buffer): void {
    this.#stream!.write(buf);
  }

  #fail(reason: string, detail: string | null): void {
    if (this.#status.state !== 'recording') return;
    this.#status.state = 'failed';
    this.#status.failure = reason;
    this.#svc.metrics.failures.inc({ reason });
    const closeConsole = this.#cfg.onRecordingFailure === 'close-console' && !this.#ended;
    this.#svc.logger.warn({ recordingId: this.id, sessionId: this.#status.sessionId, reason, detail, closeConsole }, 'console recording failed');
    this.#closeFile();
    if (closeConsole) this.#failConsole();
  }

  end(): void {
    this.#ended = true;
    // Still 'recording' while the file is flushed: a write that fails now fails the recording.
    if (this.#status.state === 'recording') this.#closeFile();
  }

  /** Closes the file (at once on a failure, after its queue on an end), then writes the final status. */
  #closeFile(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    // Nothing more is written: a session waiting for the queue to drain goes on.
    this.#drained();
    const now = this.#svc.now();
    this.#status.endedAt = new Date(now).toISOString();
    this.#status.durationMs = now - this.#startMs;
    const closed = (): void => {
      if (this.#status.state === 'recording') this.#status.state = 'complete';
      // What is in the file: a failure cuts what was still queued, and ENOSPC a write half-way.
      this.#status.bytes = stream.bytesWritten;
      // Retention looks at the directory only once the final status is on disk (or held for it).
      void this.#writeFinalStatus().then(() => this.#svc.finished(this.id));
    };
    if (stream.closed) closed();
    else stream.once('close', closed);
    if (this.#status.state === 'failed') stream.destroy();
    else stream.end();
  }

  /**
   * The first status, then the reserve the final one is written into. A recording whose status has
   * no room fails now (a listing could not tell it from a corrupt file), not when the disk is fuller.
   */
  #writeFirstStatus(): void {
    const text = statusText(this.#status);
    this.#statusWrite = (async () => {
      try {
        await writeStatusFile(this.#cfg.dir, this.id, text);
        await writeFile(join(this.#cfg.dir, this.id + STATUS_ASIDE_EXT), STATUS_RESERVE);
        this.#reserved = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? null;
        this.#svc.logger.warn({ recordingId: this.id, errCode: code ?? 'unknown' }, 'console recording status not written');
        this.#fail(code === 'ENOSPC' ? 'disk_full' : 'write_error', code);
      }
    })();
  }

  #writeFinalStatus(): Promise<void> {
    this.#statusWrite = this.#statusWrite.then(async () => {
      try {
        await writeStatusFile(this.#cfg.dir, this.id, statusText(this.#status), this.#reserved);
      } catch (err) {
        this.#svc.logger.warn({ recordingId: this.id, errCode: (err as NodeJS.ErrnoException).code ?? 'unknown' }, 'console recording status not written');
        this.#svc.statusNotWritten(this.#cfg.dir, this.#status);
      }
    });
    return this.#statusWrite;
  }
}

/** Reads `<id>.json` (status) for listing; null when missing or unreadable. */
export async function readStatus(dir: string, id: string): Promise<RecordingStatus | null> {
  try {
    const raw = JSON.parse(await readFile(join(dir, id + STATUS_EXT), 'utf8')) as RecordingStatus;
    return typeof raw === 'object' && raw !== null && raw.id === id ? raw : null;
  } catch {
    return null;
  }
}
