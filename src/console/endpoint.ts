/**
 * The console endpoint: a websockify-compatible WebSocket proxy mounted on the gateway's HTTP
 * server (`upgrade` for /websockify). noVNC connects here with a ticket minted by GraphQL (or a
 * websockify token-file token); the gateway connects to the VM's console and pipes bytes.
 *
 * Order of an upgrade: read the credential -> redeem it -> only then accept the WebSocket. A
 * refused credential gets a plain HTTP answer (401/403/...) and no WebSocket ever exists.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ConcurrencyCaps, type CapSlot, type Caps } from '../auth/concurrency-caps.js';
import { ANONYMOUS } from '../auth/principal.js';
import { ErrorCode, GatewayError } from '../errors.js';
import { ConsoleMetrics } from './metrics.js';
import { recordConsoleSessionSpan } from '../observability/tracing.js';
import { ConsoleSession } from './session.js';
import { DROPPED_INPUT_TYPES, noDroppedInput } from './view-only.js';
import type { SessionIdentity } from './session.js';
import { isTicketError } from './tickets.js';
import type { TicketRecord } from './tickets.js';
import { BINARY_SUBPROTOCOL, isRefusal, parseUpgradeRequest } from './upgrade-request.js';
import type { ParsedUpgrade } from './upgrade-request.js';
import { ConsoleCloseCode, UpgradeRefusal, closeReason, refuseUpgrade } from '../websocket-codes.js';
import { DEFAULT_LIMITS, type ConsoleEndpoint, type ConsoleEndpointOptions, type ConsoleLimits, type ConsoleSessionEvent, type Grant } from './endpoint-options.js';

export type { ConsoleEndpoint, ConsoleEndpointOptions, ConsoleLimits, ConsoleSessionEvent } from './endpoint-options.js';

export function createConsoleEndpoint(options: ConsoleEndpointOptions): ConsoleEndpoint {
  const limits: Required<ConsoleLimits> = { ...DEFAULT_LIMITS, ...stripUndefined(options.limits ?? {}) };
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const sessions = new Set<ConsoleSession>();
  /** Upgrade sockets waiting for their credential to be checked. */
  const pending = new Set<Duplex>();
  const idPrefix = randomBytes(3).toString('hex');
  let nextId = 0;
  let closing = false;
  let ticker: NodeJS.Timeout | null = null;
  const caps: Caps | null = options.caps ?? (options.sessionCaps ? new ConcurrencyCaps(options.sessionCaps) : null);
  // Without pings the sweep still has idle timeouts and stalled closes to look after.
  const tickMs = limits.pingIntervalMs > 0 ? limits.pingIntervalMs : Math.min(30_000, Math.max(1_000, limits.idleTimeoutMs / 4 || 30_000));

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: limits.maxFrameBytes,
    clientTracking: false,
    // Never select `ticket.*`: echoing it would put the ticket in the response headers.
    handleProtocols: (offered: Set<string>) => (offered.has(BINARY_SUBPROTOCOL) ? BINARY_SUBPROTOCOL : false),
  });

  const metrics = options.metrics
    ? new ConsoleMetrics(options.metrics, () => {
        let bytesToUpstream = 0;
        let bytesToClient = 0;
        const droppedInput = noDroppedInput();
        for (const s of sessions) {
          bytesToUpstream += s.bytesToUpstream;
          bytesToClient += s.bytesToClient;
          const dropped = s.droppedInput;
          if (dropped) for (const type of DROPPED_INPUT_TYPES) droppedInput[type] += dropped[type];
        }
        return { sessions: sessions.size, bytesToUpstream, bytesToClient, droppedInput };
      })
    : null;

  const emit = (e: ConsoleSessionEvent): void => {
    if (!options.onSessionEvent) return;
    try {
      options.onSessionEvent(e);
    } catch (err) {
      logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'console onSessionEvent listener threw');
    }
  };

  const tick = (): void => {
    const t = now();
    const ping = limits.pingIntervalMs > 0;
    for (const s of sessions) s.tick(t, limits.idleTimeoutMs, ping);
  };

  const refuse = (socket: Duplex, refusal: UpgradeRefusal, req: IncomingMessage, ticketId: string | null = null): void => {
    if (refusal.code.startsWith('TICKET_')) metrics?.ticketRefused(refusal.code);
    else metrics?.upgradeRefused(refusal.code);
    // Refusals are part of the audit trail: who tried, and why it failed. Never the credential.
    logger.info({ remoteAddress: req.socket.remoteAddress ?? null, status: refusal.status, reason: refusal.code, ticketId }, 'console upgrade refused');
    refuseUpgrade(socket, refusal);
  };

  async function authorize(parsed: ParsedUpgrade, req: IncomingMessage): Promise<Grant | (UpgradeRefusal & { ticketId?: string | null })> {
    const cred = parsed.credential;
    if (cred.kind === 'token') {
      const tokenFile = options.tokenFile;
      if (!tokenFile) return UpgradeRefusal.TokensNotEnabled;
      const hostPort = tokenFile.lookup(cred.token);
      if (!hostPort) return UpgradeRefusal.TokenUnknown;
      return {
        identity: { caller: 'token-file', vmId: null, ticketId: null },
        provider: 'tokenfile',
        resolve: async () => ({
          kind: 'tcp',
          host: hostPort.host,
          port: hostPort.port,
          describe: `tcp://${formatHostPort(hostPort.host, hostPort.port)}`,
          provider: 'tokenfile',
        }),
      };
    }
    let record: TicketRecord;
    try {
      const expected = options.expectedVmId?.(req);
      record = await options.tickets.redeem(cred.ticket, expected === undefined ? {} : { vmId: expected });
    } catch (err) {
      if (isTicketError(err)) return { status: err.status, code: err.code, ticketId: err.ticketId };
      // A fleet's Redis down: refused as such (503), not as an internal error; open consoles are unaffected.
      if (err instanceof GatewayError && err.code === ErrorCode.StoreUnavailable) return UpgradeRefusal.StoreUnavailable;
      logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'console ticket redemption failed');
      return UpgradeRefusal.Internal;
    }
    metrics?.ticketRedeemed();
    if (options.authorizeTicket && !options.authorizeTicket(record)) return { ...UpgradeRefusal.CallerForbidden, ticketId: record.ticketId };
    return {
      identity: { caller: record.caller, vmId: record.vmId, ticketId: record.ticketId, ...(record.viewOnly ? { viewOnly: true } : {}) },
      ...(record.sessionId ? { sessionId: record.sessionId } : {}),
      provider: record.provider,
      resolve: () => options.resolveTarget(record),
    };
  }

  function open(ws: WebSocket, grant: Grant, req: IncomingMessage, slot: CapSlot | null): void {
    const wanted = grant.sessionId ?? `${idPrefix}-${++nextId}`;
    const sessionId = options.directory ? options.directory.freeId(wanted) : wanted;
    const identity: SessionIdentity = { sessionId, ...grant.identity, remoteAddress: req.socket.remoteAddress ?? null };
    // A recording may fail before the session exists (the disk guard): it is closed as soon as it does.
    let failed = false;
    let recorded: ConsoleSession | null = null;
    const recorder =
      options.recorderFor?.(identity, grant.provider, () => {
        failed = true;
        recorded?.shutdown(ConsoleCloseCode.RecordingFailed, closeReason[ConsoleCloseCode.RecordingFailed]);
      }) ?? null;
    const session = new ConsoleSession(ws, {
      identity,
      recorder,
      limits: {
        connectTimeoutMs: limits.upstreamConnectTimeoutMs,
        highWaterMarkBytes: limits.highWaterMarkBytes,
        maxFrameBytes: limits.maxFrameBytes,
      },
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      maxHeldBytes: limits.maxHeldBytes,
      maxLifetimeMs: limits.maxLifetimeMs,
      inputIdleTimeoutMs: limits.inputIdleTimeoutMs,
      logger,
      now,
      hooks: {
        backpressure: (s, direction, paused) => emit({ type: 'backpressure', sessionId: s.identity.sessionId, direction, paused }),
        ended: (s, summary) => {
          sessions.delete(s);
          options.directory?.ended(summary);
          slot?.release();
          metrics?.sessionEnded(summary);
          logger.info(summary, 'console session');
          recordConsoleSessionSpan(summary);
          emit({ type: 'closed', ...summary, provider: summary.provider ?? grant.provider });
          if (sessions.size === 0 && ticker) {
            clearInterval(ticker);
            ticker = null;
          }
        },
      },
    });
    sessions.add(session);
    options.directory?.opened(session);
    recorded = session;
    if (failed) session.shutdown(ConsoleCloseCode.RecordingFailed, closeReason[ConsoleCloseCode.RecordingFailed]);
    if (!ticker) {
      ticker = setInterval(tick, tickMs);
      ticker.unref();
    }
    emit({ type: 'opened', ...identity, provider: grant.provider, startedAt: new Date(session.startedAtMs).toISOString() });
    void session.start(grant.resolve);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const onSocketError = (): void => {
      socket.destroy();
    };
    socket.on('error', onSocketError);
    if (closing) {
      refuse(socket, UpgradeRefusal.ShuttingDown, req);
      return;
    }
    const parsed = parseUpgradeRequest(req);
    if (isRefusal(parsed)) {
      refuse(socket, parsed, req);
      return;
    }
    // Full already: refuse before the ticket is spent, so the client can retry with the same URL.
    if (caps?.globalFull()) {
      refuse(socket, UpgradeRefusal.ConsoleLimitGlobal, req);
      return;
    }
    pending.add(socket);
    authorize(parsed, req).then(
      async (grant) => {
        pending.delete(socket);
        if ('status' in grant) {
          refuse(socket, grant, req, grant.ticketId ?? null);
          return;
        }
        if (closing) {
          refuse(socket, UpgradeRefusal.ShuttingDown, req);
          return;
        }
        if (socket.destroyed) {
          logger.debug({ remoteAddress: req.socket.remoteAddress ?? null, ticketId: grant.identity.ticketId }, 'console client left before the upgrade completed');
          return;
        }
        // Token-file consoles have no caller of their own, and anonymous ones (auth.mode none) are
        // everyone at once: they count towards the global cap only.
        const perCaller = grant.identity.vmId === null || grant.identity.caller === ANONYMOUS.id ? null : grant.identity.caller;
        const slot = caps ? await caps.tryAcquire(perCaller) : null;
        if (typeof slot === 'string') {
          refuse(socket, slot === 'GLOBAL' ? UpgradeRefusal.ConsoleLimitGlobal : UpgradeRefusal.ConsoleLimitCaller, req, grant.identity.ticketId);
          return;
        }
        // A fleet's cap answers asynchronously: the client may have left, or a shutdown begun, meanwhile.
        if (slot && (socket.destroyed || closing)) {
          slot.release();
          if (closing) refuse(socket, UpgradeRefusal.ShuttingDown, req);
          return;
        }
        // ws does not call back when the handshake cannot complete (the client left): the slot is given back on close then.
        if (slot) socket.once('close', () => slot.release());
        socket.removeListener('error', onSocketError);
        wss.handleUpgrade(req, socket, head, (ws) => open(ws, grant, req, slot));
      },
      (err: unknown) => {
        pending.delete(socket);
        logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'console upgrade failed');
        refuse(socket, UpgradeRefusal.Internal, req);
      },
    );
  }

  async function closeAll(code: number = ConsoleCloseCode.GoingAway, reason: string = closeReason[ConsoleCloseCode.GoingAway]): Promise<void> {
    const closingNow = [...sessions];
    if (closingNow.length === 0) return;
    for (const s of closingNow) s.shutdown(code, reason);
    // One timer for the whole batch: peers that have not completed the close by then are cut off.
    const grace = setTimeout(() => {
      for (const s of closingNow) if (!s.ended) s.terminate();
    }, limits.shutdownGraceMs);
    grace.unref();
    try {
      await Promise.all(closingNow.map((s) => s.whenEnded));
    } finally {
      clearTimeout(grace);
    }
  }

  async function close(): Promise<void> {
    closing = true;
    for (const socket of pending) socket.destroy();
    pending.clear();
    await closeAll();
    if (ticker) {
      clearInterval(ticker);
      ticker = null;
    }
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  async function whenIdle(): Promise<void> {
    // A loop: an upgrade authorized before the wait began may still open a session during it.
    while (sessions.size > 0) await Promise.all([...sessions].map((s) => s.whenEnded));
  }

  return { handleUpgrade, sessions: () => sessions.size, whenIdle, closeAll, close };
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
