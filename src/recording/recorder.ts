/**
 * Console recordings: which sessions are recorded (config rules), the service that starts a
 * recorder per session (file-recorder.ts) under the section in force, retention, and the statuses a
 * full disk refused. Format: ./format.ts; status files: ./status-file.ts.
 *
 * A full disk must not leave a recording listed as still running: each live recording keeps
 * STATUS_RESERVE_BYTES beside it for its final status, and a final status the disk refuses anyway is
 * held here (the catalog lists it from memory, at most `maxHeldStatuses`) and written at the next
 * retention sweep.
 *
 * A reload (`prepareReload`) applies to consoles opened after it: each recorder keeps the section it
 * started under (its directory, buffer bound, disk guard and failure policy), so a live console's
 * recording is never switched half-way.
 */
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, type Registry } from 'prom-client';
import { monotonicFactory } from 'ulid';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { RECORDING_EXT, STATUS_EXT, type RecordingStatus } from './format.js';
import { enoughSpaceSync } from './disk-space.js';
import { FileRecorder } from './file-recorder.js';
import { STATUS_ASIDE_EXT, statusText, writeStatusFile } from './status-file.js';

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
  readonly listingsCut: Counter;
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
    this.listingsCut = new Counter({
      name: 'console_recording_listings_cut_total',
      help: 'consoleRecordings pages that ended early at recording.maxScannedPerListing recordings read.',
      registers,
    });
  }
}

export interface RecorderServiceOptions {
  config: RecordingConfig;
  logger: Logger;
  metrics?: Registry | null;
  now: () => number;
}

export class RecordingService {
  /** The section in force: what consoles opened from now on are recorded under. */
  #cfg: RecordingConfig;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #metrics: RecordingMetrics;
  readonly #ulid = monotonicFactory();
  /** Recordings this process is writing, until their final status is on disk (or held). */
  readonly #active = new Map<string, FileRecorder>();
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
    const recorder = new FileRecorder(this, { ...cfg, dir }, id, subject, failConsole);
    this.#active.set(id, recorder);
    return recorder;
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

  /** A listing read `scanned` recordings (`recording.maxScannedPerListing`) and ended its page early. */
  listingCut(scanned: number): void {
    this.#metrics.listingsCut.inc();
    this.#logger.info({ scanned, maxScannedPerListing: this.#cfg.maxScannedPerListing }, 'console recordings listing cut at the scan limit');
  }

  /** The disk refused this final status: listed from memory, written again at each sweep. */
  statusNotWritten(dir: string, status: RecordingStatus, errCode: string): void {
    this.#unwritten.set(status.id, { dir, status: { ...status } });
    this.#logger.warn(
      { recordingId: status.id, errCode, heldStatuses: this.#unwritten.size, maxHeldStatuses: this.#cfg.maxHeldStatuses },
      'console recording final status held: the disk refused it',
    );
  }

  /**
   * The status this process holds for a recording in `dir`, or null: the live one of a recording it
   * is writing (until the final status is on disk), or a final status the disk refused.
   */
  statusInMemory(dir: string, id: string): RecordingStatus | null {
    const live = this.#active.get(id);
    if (live !== undefined && live.dir === dir) return live.currentStatus;
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
