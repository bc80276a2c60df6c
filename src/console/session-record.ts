/**
 * What a console session is, as the rest of the gateway sees it: who it is for, where it goes, and
 * the audit record it leaves (every field safe to log), and the options a session is built with.
 */
import type { Logger } from 'pino';
import type { SessionRecorder } from '../recording/recorder.js';
import type { ConsoleTarget } from '../upstreams/types.js';
import type { LegOptions } from './legs/types.js';
import type { DroppedInputCounts } from './view-only.js';
import type { ConsoleSession } from './session.js';

export type ResolvedTarget = ConsoleTarget & { provider: string };

/** Who and what a session is for; everything here is safe to log. */
export interface SessionIdentity {
  sessionId: string;
  caller: string;
  /** Global VM id; null for token-file consoles, which know only host:port. */
  vmId: string | null;
  /** Correlates with the ticket's mint log line; null for token-file consoles. */
  ticketId: string | null;
  /** The browser's address as the gateway's socket sees it (a load balancer's, behind one). */
  remoteAddress: string | null;
  /** A view-only console: the browser's input is dropped (console/view-only.ts). */
  viewOnly?: boolean;
}

/** The audit record of a finished session. No ticket, token, password or upstream query string. */
export interface SessionSummary extends SessionIdentity {
  provider: string | null;
  /** `ConsoleTarget.describe`, e.g. `wss://10.0.0.2:443/websockify/`. */
  target: string | null;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Bytes received from the browser. */
  bytesToUpstream: number;
  /** Bytes received from the upstream. */
  bytesToClient: number;
  closeCode: number;
  closeReason: string;
  /** Secret-free detail of the cause (an errno code, the upstream's close code). */
  detail: string | null;
  /** Largest queue towards the browser, bytes: shows the high-water mark holding. */
  peakBufferedToClient: number;
  /** Largest queue towards the upstream, bytes. */
  peakBufferedToUpstream: number;
  /** The session's recording (`consoleRecording(id)`), or null when it was not recorded. */
  recordingId: string | null;
  /**
   * A view-only session's browser input that was dropped, by kind (`key`, `pointer`, `cut_text`,
   * `qemu_key`, `set_desktop_size`, `xvp`): an observer that tried to type or click shows here.
   * null for interactive sessions.
   */
  droppedInput: DroppedInputCounts | null;
}

export type BackpressureDirection = 'toClient' | 'toUpstream';

export interface SessionHooks {
  /** Flow control changed: `paused` means the side feeding `direction` stopped being read. */
  backpressure(session: ConsoleSession, direction: BackpressureDirection, paused: boolean): void;
  /** Called once, when both sides are closed. */
  ended(session: ConsoleSession, summary: SessionSummary): void;
}

export interface SessionOptions {
  identity: SessionIdentity;
  limits: LegOptions;
  /** The session must be piping this long after it started, else 4009 (`console.handshakeTimeoutSeconds`). 0 disables. */
  handshakeTimeoutMs: number;
  /** Bytes the session may hold for a side that cannot take them yet, else 4010 (`console.maxHeldBytes`). */
  maxHeldBytes: number;
  /** Close with 4014 this long after the start (`console.maxLifetimeSeconds`). 0 or absent: no limit. */
  maxLifetimeMs?: number;
  /**
   * Close with 4015 after this long without an input message from the browser
   * (`console.inputIdleTimeoutSeconds`). 0 or absent: off, and the browser's stream is not parsed.
   */
  inputIdleTimeoutMs?: number;
  logger: Logger;
  now: () => number;
  hooks: SessionHooks;
  /** Records what is forwarded (src/recording/): bytes sent to the browser, and its input when `includeInput`. @default none */
  recorder?: SessionRecorder | null;
}
