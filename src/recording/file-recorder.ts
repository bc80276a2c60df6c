/**
 * One recording's writer: the RFB stream as the browser sees it, streamed to `<id>.cgrec` (format.ts)
 * as the session forwards it, never held whole in memory (a 9-byte head and the chunk itself, no
 * copy). Past half of `recording.maxBufferedBytes` queued, `toClient` says so and the session pauses
 * the VNC side until `whenDrained` (bounded by `recording.maxStallSeconds`); past all of it the
 * recording fails `disk_too_slow` (an RFB stream with a gap cannot be replayed past it, so nothing is
 * dropped silently), and `onRecordingFailure` decides whether the console goes on.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DIRECTION_TO_CLIENT, DIRECTION_TO_SERVER, RECORDING_EXT, RECORDING_FORMAT, RECORDING_VERSION, frameHead, type RecordingHeader, type RecordingStatus } from './format.js';
import { enoughSpace } from './disk-space.js';
import { reserveStatusSpace, statusText, writeStatusFile } from './status-file.js';
import type { RecordingConfig, RecordingMetrics, RecordingSubject, SessionRecorder } from './recorder.js';

/** How often a recording asks the disk guard again, in bytes written. */
const CHECK_DISK_EVERY_BYTES = 4 * 1024 * 1024;

/** What a recorder needs of the RecordingService that started it. */
export interface RecorderHost {
  readonly logger: Logger;
  readonly metrics: RecordingMetrics;
  now(): number;
  /** The recording is closed and its final status written (or held): retention may look at it. */
  finished(id: string): void;
  /** The disk refused this final status (`errCode`): hold it for the listing and a later write. */
  statusNotWritten(dir: string, status: RecordingStatus, errCode: string): void;
}

/** The section a recorder started under, with its directory. */
export type RecorderConfig = RecordingConfig & { dir: string };

export class FileRecorder implements SessionRecorder {
  readonly includeInput: boolean;
  readonly #svc: RecorderHost;
  readonly #cfg: RecorderConfig;
  readonly #status: RecordingStatus;
  readonly #startMs: number;
  readonly #failConsole: () => void;
  /** Null once the file is closing (ended or failed): nothing more is written to it. */
  #stream: WriteStream | null;
  /** The same stream, kept after closing: what it has written so far. */
  readonly #file: WriteStream;
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

  constructor(svc: RecorderHost, cfg: RecorderConfig, id: string, subject: RecordingSubject, failConsole: () => void) {
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
    this.#stream = this.#file = createWriteStream(join(cfg.dir, id + RECORDING_EXT), { flags: 'wx', highWaterMark: Math.floor(cfg.maxBufferedBytes / 2) });
    this.#stream.on('error', (err: NodeJS.ErrnoException) => this.#fail(err.code === 'ENOSPC' ? 'disk_full' : 'write_error', err.code ?? null));
    this.#stream.on('drain', () => this.#drained());
    this.#write(Buffer.from(`${JSON.stringify(header)}\n`));
    this.#writeFirstStatus();
    svc.logger.info({ recordingId: id, sessionId: subject.sessionId, vmId: subject.vmId, includesInput: this.includeInput }, 'console recording started');
  }

  get id(): string {
    return this.#status.id;
  }

  get dir(): string {
    return this.#cfg.dir;
  }

  /**
   * The status as it stands, for a listing while this process writes the recording: until the final
   * status is on disk, the file's says `recording` (or is not there yet), and its header may not
   * have reached the disk either.
   */
  get currentStatus(): RecordingStatus {
    return { ...this.#status, bytes: this.#file.bytesWritten };
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
        await reserveStatusSpace(this.#cfg.dir, this.id);
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
        this.#svc.statusNotWritten(this.#cfg.dir, this.#status, (err as NodeJS.ErrnoException).code ?? 'unknown');
      }
    });
    return this.#statusWrite;
  }
}
