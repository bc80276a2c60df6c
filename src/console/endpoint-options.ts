/**
 * The console endpoint's contract: its options, limits, session events and the handle it returns.
 * Apart from endpoint.ts (the upgrade flow) so callers and tests read the options without the flow.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TokenFileResolver } from '../upstreams/tokenfile/resolver.js';
import type { Caps, ConcurrencyLimits } from '../auth/concurrency-caps.js';
import type { SessionRecorder } from '../recording/recorder.js';
import type { BackpressureDirection, ResolvedTarget, SessionIdentity, SessionSummary } from './session.js';
import type { ConsoleSessionDirectory } from './session-directory.js';
import type { TicketRecord, TicketService } from './tickets.js';

export interface ConsoleLimits {
  /** Largest WebSocket message accepted (from the browser or an upstream websockify), bytes; bigger closes with 1009. @default 1_048_576 (1 MiB) */
  maxFrameBytes?: number;
  /** Close a console with no bytes either way for this long, milliseconds; 0 disables. Checked once per tick, so up to one tick late. @default 600_000 (10 min) */
  idleTimeoutMs?: number;
  /** Ping browsers this often, milliseconds; one that has not answered by the next ping is closed with 4005. Also the tick of the shared sweep. 0 disables pings. @default 30_000 */
  pingIntervalMs?: number;
  /** Queue size towards either side at which the other side stops being read, bytes. @default 1_048_576 (1 MiB) */
  highWaterMarkBytes?: number;
  /** Give up connecting to an upstream after this long, milliseconds. @default 10_000 */
  upstreamConnectTimeoutMs?: number;
  /**
   * A session must be piping this long after its upgrade (target resolved, upstream connected, RFB
   * handshakes done), else it closes with 4009; bytes flowing do not extend it. 0 disables. Checked
   * once per tick, so up to one tick late. @default 30_000
   */
  handshakeTimeoutMs?: number;
  /**
   * Bytes a session may hold for a side that cannot take them yet (before piping starts, or read
   * from a paused browser to check it is alive); past it the session closes with 4010. @default 262_144 (256 KiB)
   */
  maxHeldBytes?: number;
  /** After `closeAll`, cut off peers that have not finished their close handshake by then, milliseconds. @default 5_000 */
  shutdownGraceMs?: number;
  /** Close a session this long after its upgrade with 4014, milliseconds; 0 disables. Checked once per tick. @default 0 */
  maxLifetimeMs?: number;
  /** Close a session without a keyboard, mouse or clipboard message from the browser for this long with 4015, milliseconds; 0 disables. Checked once per tick. @default 0 */
  inputIdleTimeoutMs?: number;
}

/**
 * `provider` on `opened` and `closed` is the one the credential names (the ticket's, "tokenfile"
 * for token-file consoles), known even when the target could not be resolved.
 */
export type ConsoleSessionEvent =
  | ({ type: 'opened'; startedAt: string; provider: string } & SessionIdentity)
  | ({ type: 'closed' } & SessionSummary & { provider: string })
  | { type: 'backpressure'; sessionId: string; direction: BackpressureDirection; paused: boolean };

export interface ConsoleEndpointOptions {
  tickets: TicketService;
  /**
   * Where the console of a redeemed ticket's VM is. Called after the WebSocket is accepted, so a
   * failure reaches the browser as close code 4006 with a reason noVNC can show. Must compute the
   * target from the gateway's own data, never from anything the browser sent.
   */
  resolveTarget: (ticket: TicketRecord) => Promise<ResolvedTarget>;
  /** Serves `?token=` like `websockify --token-plugin TokenFile`. Not closed by the endpoint. @default none (`?token=` answers 404) */
  tokenFile?: TokenFileResolver | null;
  logger: Logger;
  /** Registry to register the console metrics on. @default none (no metrics) */
  metrics?: Registry;
  limits?: ConsoleLimits;
  /** Session lifecycle and flow-control notifications (safe fields only). Exceptions are logged and ignored. */
  onSessionEvent?: (e: ConsoleSessionEvent) => void;
  /**
   * The VM the request itself is for, when the mount carries one (e.g. `/websockify/<vmId>`): the
   * ticket must then be for that VM (else 403 TICKET_WRONG_VM). It only narrows; the target still
   * comes from the ticket. @default none
   */
  expectedVmId?: (req: IncomingMessage) => string | undefined;
  /** Clock, epoch ms (session times, idle detection). @default Date.now */
  now?: () => number;
  /**
   * After a ticket is redeemed, before the WebSocket is accepted: may the caller that minted it
   * still open this VM's console (its permissions may have changed since)? false refuses with 403
   * CALLER_FORBIDDEN. @default always true
   */
  authorizeTicket?: (ticket: TicketRecord) => boolean;
  /** Where live and ended sessions are listed (and terminated from). @default none */
  directory?: ConsoleSessionDirectory;
  /**
   * Caps on open sessions, read at each upgrade: over the global one refuses with 429
   * CONSOLE_LIMIT_GLOBAL (before the ticket is spent), over the per-caller one 429
   * CONSOLE_LIMIT_CALLER. Token-file and anonymous consoles count towards the global cap only. @default no caps
   */
  sessionCaps?: () => ConcurrencyLimits;
  /**
   * A recorder for a new session, or null when it is not recorded (src/recording/). `failConsole`
   * closes the session with 4020 (a failed recording under `onRecordingFailure: close-console`). @default none
   */
  recorderFor?: (identity: SessionIdentity, provider: string, failConsole: () => void) => SessionRecorder | null;
  /** Where the console caps are counted instead (a fleet's, src/fleet/caps.ts). @default `sessionCaps` in this process */
  caps?: Caps;
}

export interface ConsoleEndpoint {
  /** Call from the HTTP server's `upgrade` event for the console path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sessions with an accepted WebSocket that have not ended. */
  sessions(): number;
  /** Resolves once no session is open (at once when none is); built on each session's `whenEnded`. */
  whenIdle(): Promise<void>;
  /** Close every session with `code` and wait until all have ended. */
  closeAll(code?: number, reason?: string): Promise<void>;
  /** Refuse new upgrades, drop pending ones, close every session and stop the sweep. */
  close(): Promise<void>;
}

/** What a redeemed credential grants: the session's identity and target. */
export interface Grant {
  identity: Omit<SessionIdentity, 'sessionId' | 'remoteAddress'>;
  /** The provider the credential names ("tokenfile" for token-file consoles). */
  provider: string;
  /** The session id fixed when the ticket was minted (its `ConsoleAccess.sessionId`). @default a fresh one */
  sessionId?: string;
  resolve: () => Promise<ResolvedTarget>;
}

export const DEFAULT_LIMITS: Required<ConsoleLimits> = {
  maxFrameBytes: 1024 * 1024,
  idleTimeoutMs: 10 * 60_000,
  pingIntervalMs: 30_000,
  highWaterMarkBytes: 1024 * 1024,
  upstreamConnectTimeoutMs: 10_000,
  shutdownGraceMs: 5_000,
  handshakeTimeoutMs: 30_000,
  maxHeldBytes: 256 * 1024,
  maxLifetimeMs: 0,
  inputIdleTimeoutMs: 0,
};
