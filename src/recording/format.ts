/**
 * The console recording file format, version 1 (README "Recording").
 *
 *   <header line>  one line of JSON, UTF-8, ending in "\n":
 *                  {"format":"console-gateway-recording","version":1,"id":"<recording id>","sessionId":"...",
 *                   "vmId":"..."|null,"provider":"..."|null,"caller":"...","startedAt":"<ISO 8601>",
 *                   "screen":null,"includesInput":false}
 *                  `screen` is null in version 1 (the size is in the stream's ServerInit, and in the
 *                  sidecar once seen); no ticket, token, password or upstream URL is ever written.
 *   <frame>*       9-byte frame head, then `length` bytes:
 *                    byte 0     direction: 0 = server to browser, 1 = browser to server (only with includeInput)
 *                    bytes 1-4  milliseconds since startedAt, unsigned 32-bit big-endian
 *                    bytes 5-8  length of the bytes that follow, unsigned 32-bit big-endian
 *
 * The server-to-browser frames are the RFB stream exactly as the browser received it (the gateway's
 * own handshake included when it does VNC authentication), so replaying them into an RFB client
 * repaints what the browser showed. Beside each `<id>.cgrec` is `<id>.json`, the recording's status
 * (see RecordingStatus), rewritten when the recording ends or fails.
 */

export const RECORDING_FORMAT = 'console-gateway-recording';
export const RECORDING_VERSION = 1;
export const FRAME_HEAD_BYTES = 9;
export const DIRECTION_TO_CLIENT = 0;
export const DIRECTION_TO_SERVER = 1;
export const RECORDING_EXT = '.cgrec';
export const STATUS_EXT = '.json';
/** ULIDs: what recording ids are; anything else in a URL is refused before it touches the disk. */
export const RECORDING_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: typeof RECORDING_VERSION;
  id: string;
  sessionId: string;
  vmId: string | null;
  provider: string | null;
  caller: string;
  startedAt: string;
  screen: { width: number; height: number } | null;
  includesInput: boolean;
}

export type RecordingState = 'recording' | 'complete' | 'failed';

/** The sidecar `<id>.json`. */
export interface RecordingStatus extends Omit<RecordingHeader, 'format' | 'version'> {
  state: RecordingState;
  endedAt: string | null;
  durationMs: number | null;
  /** Bytes of the recording file. */
  bytes: number;
  frames: number;
  /** Why the recording failed: `write_error`, `disk_full`, `disk_too_slow`. Null otherwise. */
  failure: string | null;
  /** Screen size from the RFB ServerInit, once seen. */
  screen: { width: number; height: number } | null;
}

export function frameHead(direction: number, offsetMs: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEAD_BYTES);
  head[0] = direction;
  head.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(offsetMs))), 1);
  head.writeUInt32BE(length, 5);
  return head;
}
