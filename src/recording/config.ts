/** The `recording` section of the config. */
import { z } from 'zod';
import { TCP_READ_BYTES } from '../console/legs/tcp.js';

/**
 * Console recording (README "Recording"). Off until `dir` is set (CONSOLE_GATEWAY_RECORDING_DIR);
 * with `dir` and no `rules`, every console is recorded.
 */
export const recordingSchema = z
  .object({
    /** Directory recordings are written to (created if missing). @default none (recording off) */
    dir: z.string().min(1).optional(),
    /**
     * Which consoles are recorded: one rule matching is enough; within a rule every field given must match
     * (`vmIds` are patterns where `*` matches any run of characters). @default none (every console, once `dir` is set)
     */
    rules: z
      .array(
        z
          .object({
            providers: z.array(z.string().min(1)).min(1).optional(),
            vmIds: z.array(z.string().min(1)).min(1).optional(),
            callers: z.array(z.string().min(1)).min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    /** Record the browser's input (keys, pointer, clipboard) too; off because keystrokes can be passwords. @default false */
    includeInput: z.boolean().default(false),
    retention: z
      .object({
        /** Recordings older than this many hours are deleted (checked at start-up, at a reload, hourly and after each recording). @default 720 (30 days) */
        maxAgeHours: z.number().int().min(1).default(720),
        /** The oldest finished recordings are deleted while all of them together are larger than this, bytes. @default 10737418240 (10 GiB) */
        maxTotalBytes: z.number().int().min(1024).default(10 * 1024 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** A recording is not started, and a running one fails, when the directory's file system has less free space than this, bytes. @default 536870912 (512 MiB) */
    minFreeBytes: z.number().int().min(0).default(512 * 1024 * 1024),
    /**
     * Bytes one recording may have queued for a disk slower than the console. Past half of it the
     * console's VNC side stops being read until the disk catches up; the read already under way still
     * lands, so the other half must hold the largest one (checked by checkRecordingAgainstConsole).
     * @default 4194304 (4 MiB)
     */
    maxBufferedBytes: z.number().int().min(2 * TCP_READ_BYTES).default(4 * 1024 * 1024),
    /** Seconds a console may wait for its recording's queue to drain; past it the recording fails `disk_too_slow` and the console goes on. @default 10 */
    maxStallSeconds: z.number().int().min(1).max(3600).default(10),
    /**
     * Final statuses a full disk refused that this process holds in memory (listed from there, written
     * once there is room). While this many wait, no recording is started (`disk_full`). @default 1000
     */
    maxHeldStatuses: z.number().int().min(1).default(1000),
    /** A failed recording (write error, disk full or too slow): `stop-recording` keeps the console, `close-console` closes it with 4020. @default stop-recording */
    onRecordingFailure: z.enum(['stop-recording', 'close-console']).default('stop-recording'),
    /**
     * Recordings one `consoleRecordings` request reads at most (two small reads each: its status and
     * its header), checking its filter against each. A filter that matches little would otherwise read
     * the whole directory on every request. Past it the page ends early: fewer than `first`,
     * `hasNextPage` true and `endCursor` where the reading stopped, to go on from. @default 10000
     */
    maxScannedPerListing: z.number().int().min(1).default(10_000),
    /** Seconds a playback URL (`ConsoleRecording.playbackUrl`) stays valid. @default 600 */
    playbackUrlTtlSeconds: z.number().int().min(10).max(86400).default(600),
  })
  .strict()
  .prefault({});

/**
 * Cross-section check: what a console forwards at once (one TCP read, up to TCP_READ_BYTES, or one
 * upstream WebSocket frame, up to `console.maxFrameBytes`) lands on the recording's queue even when
 * it is already at half of `maxBufferedBytes`. A bound smaller than twice that would fail recordings
 * on an ordinary full-screen update, on a fast disk, so it is refused at start-up and at a reload.
 */
export function checkRecordingAgainstConsole(
  cfg: { recording: { maxBufferedBytes: number }; console: { maxFrameBytes: number } },
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  const largestRead = Math.max(TCP_READ_BYTES, cfg.console.maxFrameBytes);
  if (cfg.recording.maxBufferedBytes < 2 * largestRead) {
    addIssue(
      ['recording', 'maxBufferedBytes'],
      `must be at least ${2 * largestRead} (twice the most a console forwards at once: ${TCP_READ_BYTES} for a TCP read, console.maxFrameBytes (${cfg.console.maxFrameBytes}) for a WebSocket frame); below that one full-screen update can fail a recording on a fast disk`,
    );
  }
}
