/**
 * What a console session is, as the rest of the gateway sees it: who it is for, where it goes, and
 * the audit record it leaves. Every field here is safe to log.
 */
import type { ConsoleTarget } from '../upstreams/types.js';

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
}

export type BackpressureDirection = 'toClient' | 'toUpstream';
