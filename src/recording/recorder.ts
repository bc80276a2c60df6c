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
 * A reload (`prepareReload`) applies to consoles opened after it: each recorder keeps the section it
 * started under (its directory, buffer bound, disk guard and failure policy), so a live console's
 * recording is never switched half-way.
 */
import { createWriteStream, mkdirSync, statfsSync, type WriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
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
  toClient(chunk: Buffer): void;
  toServer(chunk: Buffer): void;
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

  /** Retention: delete finished recordings past `maxAgeHours`, then the oldest while over `maxTotalBytes`. */
  sweep(): Promise<void> {
    return (this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = null)));
  }

  async #sweep(): Promise<void> {
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
  readonly #statusPath: string;
  readonly #failConsole: () => void;
  #stream: WriteStream | null;
  #sinceDiskCheck = 0;
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
    const dir = cfg.dir;
    this.#statusPath = join(dir, id + STATUS_EXT);
    this.#stream = createWriteStream(join(dir, id + RECORDING_EXT), { flags: 'wx' });
    this.#stream.on('error', (err: NodeJS.ErrnoException) => this.#fail(err.code === 'ENOSPC' ? 'disk_full' : 'write_error', err.code ?? null));
    this.#write(Buffer.from(`${JSON.stringify(header)}\n`));
    this.#writeStatus();
    svc.logger.info({ recordingId: id, sessionId: subject.sessionId, vmId: subject.vmId, includesInput: this.includeInput }, 'console recording started');
  }

  get id(): string {
    return this.#status.id;
  }

  toClient(chunk: Buffer): void {
    this.#frame(DIRECTION_TO_CLIENT, chunk);
  }

  toServer(chunk: Buffer): void {
    if (this.includeInput) this.#frame(DIRECTION_TO_SERVER, chunk);
  }

  #frame(direction: number, chunk: Buffer): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#write(frameHead(direction, this.#svc.now() - this.#startMs, chunk.length));
    this.#write(chunk);
    this.#status.frames++;
    if (stream.writableLength > this.#cfg.maxBufferedBytes) {
      this.#fail('disk_too_slow', null);
      return;
    }
    this.#sinceDiskCheck += chunk.length;
    if (this.#sinceDiskCheck >= CHECK_DISK_EVERY_BYTES) {
      this.#sinceDiskCheck = 0;
      void enoughSpace(this.#cfg.dir, this.#cfg.minFreeBytes).then((ok) => {
        if (!ok) this.#fail('disk_full', 'minFreeBytes');
      });
    }
  }

  #write(buf: Buffer): void {
    this.#status.bytes += buf.length;
    this.#stream!.write(buf);
  }

  #fail(reason: string, detail: string | null): void {
    if (this.#status.state !== 'recording') return;
    this.#status.state = 'failed';
    this.#status.failure = reason;
    this.#svc.metrics.failures.inc({ reason });
    const closeConsole = this.#cfg.onRecordingFailure === 'close-console';
    this.#svc.logger.warn({ recordingId: this.id, sessionId: this.#status.sessionId, reason, detail, closeConsole }, 'console recording failed');
    this.#closeFile();
    if (closeConsole) this.#failConsole();
  }

  end(): void {
    if (this.#status.state === 'recording') {
      this.#status.state = 'complete';
      this.#closeFile();
    }
  }

  #closeFile(): void {
    const stream = this.#stream;
    this.#stream = null;
    const now = this.#svc.now();
    this.#status.endedAt = new Date(now).toISOString();
    this.#status.durationMs = now - this.#startMs;
    const done = (): void => {
      // Retention looks at the directory only once the final status is on disk.
      void this.#writeStatus().then(() => this.#svc.finished(this.id));
    };
    if (stream === null) return done();
    if (this.#status.state === 'failed') {
      stream.destroy();
      return done();
    }
    stream.end(done);
  }

  #writeStatus(): Promise<void> {
    const text = `${JSON.stringify(this.#status)}\n`;
    this.#statusWrite = this.#statusWrite
      .then(async () => {
        // Written aside and renamed: a reader (the listing) never sees half a status.
        await writeFile(`${this.#statusPath}.tmp`, text);
        await rename(`${this.#statusPath}.tmp`, this.#statusPath);
      })
      .catch((err: NodeJS.ErrnoException) => {
        this.#svc.logger.warn({ recordingId: this.id, errCode: err.code ?? 'unknown' }, 'console recording status not written');
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
