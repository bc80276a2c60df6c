/**
 * One console: a browser WebSocket joined to one upstream leg. This is the product's hot path, so
 * the per-chunk work is a counter increment, one buffered-size check and a send; no copies, no
 * timers, no clock reads (idle time is judged by the shared ticker from the byte counters).
 *
 * Flow control: when one side's outgoing queue passes the high-water mark, the other side stops
 * being read until that queue has drained, so a slow browser throttles the VNC server through TCP
 * backpressure instead of filling gateway memory (and vice versa). A recording whose disk is behind
 * pauses the VNC side the same way; the upstream is read again only once neither queue is backed up.
 *
 * Longer than the usual module on purpose: it is one state machine (connect, handshake, pipe,
 * close) whose per-chunk paths, flow control and close sequence read and write the same private
 * fields; split into classes, the hot path would pay for accessors. What is not the hot path lives
 * apart: the VNC password handshake in rfb-bridge.ts, the view-only and input reader in view-only.ts,
 * the ticker's deadlines (handshake, lifetime, input idle, byte idle) in session-deadlines.ts, the
 * options and audit record types in session-record.ts, the texts of close reasons in
 * close-reasons.ts, the recording tap in src/recording/. What stays here (about 640 lines) is the
 * state machine itself: phases, pause and resume of both sides (for the browser, the recording and
 * the ping probe of a paused browser), held bytes under their cap, and the close sequence, which all
 * read and write the same fields. Splitting the piping phase from the rest was weighed and left: it
 * would put the flow-control flags the per-chunk path reads behind another object.
 */
import { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { ResolvedTarget, SessionHooks, SessionIdentity, SessionOptions } from './session-record.js';
import { errorCode, sanitizeReason, truncateUtf8, wsErrorCloseCode } from './close-reasons.js';
import { ConsoleCloseCode, closeReason, isSendableCloseCode } from '../websocket-codes.js';
import { LegConnectError } from './legs/types.js';
import type { LegClosed, LegEvents, LegOptions, UpstreamLeg } from './legs/types.js';
import { connectTcpLeg } from './legs/tcp.js';
import { connectWebSocketLeg } from './legs/websocket.js';
import { RfbBridge } from './rfb-bridge.js';
import { ViewOnlyFilter, type DroppedInputCounts } from './view-only.js';
import { SessionDeadlines, type PassedDeadline } from './session-deadlines.js';
import type { SessionRecorder } from '../recording/recorder.js';

export type { BackpressureDirection, ResolvedTarget, SessionHooks, SessionIdentity, SessionOptions, SessionSummary } from './session-record.js';

const BINARY = { binary: true } as const;

type Phase = 'connecting' | 'handshaking' | 'piping';

export class ConsoleSession {
  readonly identity: SessionIdentity;
  /** Settles when both sides are closed and the summary has been handed to `hooks.ended`. */
  readonly whenEnded: Promise<void>;
  #resolveEnded: () => void = () => {};
  readonly #client: WebSocket;
  readonly #limits: LegOptions;
  readonly #maxHeldBytes: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #hooks: SessionHooks;
  readonly #startedAtMs: number;
  readonly #legEvents: LegEvents;
  readonly #deadlines: SessionDeadlines;
  readonly #recorder: SessionRecorder | null;

  #phase: Phase = 'connecting';
  #leg: UpstreamLeg | null = null;
  #provider: string | null = null;
  #target: string | null = null;

  #bytesToUpstream = 0;
  #bytesToClient = 0;
  #peakToClient = 0;
  #peakToUpstream = 0;
  #clientPaused = false;
  #clientPauseReported = false;
  /** The upstream is paused for one of two queues, or both: the browser's, the recording's. */
  #clientBacklogged = false;
  #recorderBacklogged = false;
  #legPaused = false;
  #legPauseReported = false;
  /** The browser is paused, but read for a moment so a ping's answer (or any message) can show it is alive. */
  #probing = false;

  /** Bytes that arrived before the other side could take them (connect and handshake phases). */
  #heldForUpstream: Buffer[] = [];
  #heldForClient: Buffer[] = [];
  /** Bytes in the two held lists; with the RfbBridge's pending bytes, capped by `maxHeldBytes`. */
  #heldBytes = 0;
  /** Set while the gateway does the VNC password handshake itself (phase 'handshaking'). */
  #rfb: RfbBridge | null = null;
  /** Kept only to strike it from a VNC server's failure reason before that is shown or logged. */
  #vncPassword: string | null = null;

  /** Set for view-only sessions: drops the browser's input before it goes anywhere. */
  #viewOnly: ViewOnlyFilter | null = null;
  /** Set for interactive sessions with an input-idle timeout: counts the browser's input messages. */
  #inputReader: ViewOnlyFilter | null = null;

  #awaitingPong = false;

  #closeCode: number | null = null;
  #closeReason = '';
  #detail: string | null = null;
  #ticksSinceClose = 0;
  #clientClosed = false;
  #legClosed = false;
  #ended = false;

  constructor(client: WebSocket, options: SessionOptions) {
    this.identity = options.identity;
    this.whenEnded = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
    this.#client = client;
    this.#limits = options.limits;
    this.#maxHeldBytes = options.maxHeldBytes;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#hooks = options.hooks;
    this.#recorder = options.recorder ?? null;
    this.#startedAtMs = this.#now();
    this.#deadlines = new SessionDeadlines(this.#startedAtMs, {
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxLifetimeMs: options.maxLifetimeMs ?? 0,
      inputIdleTimeoutMs: options.inputIdleTimeoutMs ?? 0,
    });
    this.#legEvents = {
      data: (chunk) => this.#onUpstreamData(chunk),
      drain: () => this.#resumeClient(),
      closed: (info) => this.#onLegClosed(info),
    };
    // View-only sessions read the browser through the filter; interactive ones keep the bare path.
    // The input-idle timeout needs the browser's stream read as RFB; without it, the bare path too.
    if (options.identity.viewOnly) this.#viewOnly = new ViewOnlyFilter();
    else if (this.#deadlines.limits.inputIdleTimeoutMs > 0) this.#inputReader = new ViewOnlyFilter();
    client.on('message', this.#viewOnly ? this.#onViewOnlyMessage : this.#inputReader ? this.#onObservedMessage : this.#onClientMessage);
    client.on('pong', () => {
      this.#awaitingPong = false;
      this.#endProbe();
    });
    client.on('error', this.#onClientError);
    client.once('close', this.#onClientClose);
    // Nothing from the browser can go anywhere until the upstream is connected.
    this.#pauseClient(false);
  }

  get provider(): string | null {
    return this.#provider;
  }

  get target(): string | null {
    return this.#target;
  }

  get startedAtMs(): number {
    return this.#startedAtMs;
  }

  get bytesToUpstream(): number {
    return this.#bytesToUpstream;
  }

  get bytesToClient(): number {
    return this.#bytesToClient;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The session's recording, or null when it is not recorded. */
  get recordingId(): string | null {
    return this.#recorder?.id ?? null;
  }

  /** A close has begun (the session is ending, or has ended). */
  get closing(): boolean {
    return this.#closeCode !== null;
  }

  /** Resolve the target and connect. Never rejects: failures close the browser with a code. */
  async start(resolveTarget: () => Promise<ResolvedTarget>): Promise<void> {
    let target: ResolvedTarget;
    try {
      target = await resolveTarget();
    } catch (err) {
      this.#logger.warn({ sessionId: this.identity.sessionId, vmId: this.identity.vmId, errCode: errorCode(err) }, 'console target unavailable');
      this.#legClosed = true;
      this.#finish(ConsoleCloseCode.TargetUnavailable, errorCode(err));
      return;
    }
    this.#provider = target.provider;
    this.#target = target.describe;
    if (this.#closeCode !== null) {
      // The browser left while we were resolving.
      this.#legClosed = true;
      this.#maybeEnd();
      return;
    }
    let leg: UpstreamLeg;
    try {
      leg =
        target.kind === 'tcp'
          ? await connectTcpLeg(target, this.#limits, this.#legEvents)
          : await connectWebSocketLeg(target, this.#limits, this.#legEvents);
    } catch (err) {
      this.#legClosed = true;
      if (err instanceof LegConnectError) {
        this.#logger.warn({ sessionId: this.identity.sessionId, target: target.describe, detail: err.detail }, 'console upstream unreachable');
        this.#finish(err.closeCode, err.detail);
      } else {
        this.#logger.error({ sessionId: this.identity.sessionId, errCode: errorCode(err) }, 'console upstream connect crashed');
        this.#finish(ConsoleCloseCode.InternalError, 'connect crashed');
      }
      return;
    }
    this.#leg = leg;
    if (this.#legClosed) return; // closed before we got here; #onLegClosed did the rest
    if (this.#closeCode !== null) {
      leg.destroy();
      return;
    }
    if (target.kind === 'tcp' && target.vncPassword != null && target.vncPassword !== '') {
      this.#startRfbHandshake(target.vncPassword);
    } else {
      this.#startPiping();
    }
  }

  /** Called by the shared ticker. `ping`: send a ping (and judge the previous one) this tick. */
  tick(nowMs: number, idleTimeoutMs: number, ping: boolean): void {
    if (this.#ended) return;
    if (this.#closeCode !== null) {
      // A close handshake gets one full tick; a peer that has not finished it by then is cut off.
      if (++this.#ticksSinceClose >= 2) {
        this.#client.terminate();
        this.#leg?.destroy();
      }
      return;
    }
    const passed = this.#deadlines.passed(nowMs, this.#phase === 'piping', this.#bytesToUpstream + this.#bytesToClient, this.#inputSeen, idleTimeoutMs);
    if (passed !== null) {
      this.#deadlinePassed(passed);
      return;
    }
    if (!ping || this.#client.readyState !== WebSocket.OPEN) return;
    // A paused browser's pong would sit unread behind our pause, and a browser that vanished
    // while paused would keep its session until the idle timeout. So it is read ("probed") until
    // its pong arrives; the messages queued ahead of the pong are held (maxHeldBytes). Only the
    // pong counts: bytes the kernel buffered before a browser vanished prove nothing.
    if (this.#awaitingPong) {
      if (this.#clientPaused && !this.#probing) {
        // Paused since this ping went out, so its pong has not been read yet: read for a tick first.
        this.#startProbe();
        return;
      }
      this.#finish(ConsoleCloseCode.PingTimeout, this.#clientPaused ? 'paused' : null);
      return;
    }
    this.#awaitingPong = true;
    this.#client.ping();
    if (this.#clientPaused) this.#startProbe();
  }

  #deadlinePassed(passed: PassedDeadline): void {
    const { sessionId, vmId } = this.identity;
    const { maxLifetimeMs, inputIdleTimeoutMs } = this.#deadlines.limits;
    if (passed === 'handshake') {
      this.#logger.warn({ sessionId, target: this.#target, phase: this.#phase }, 'console handshake timeout');
      this.#finish(ConsoleCloseCode.HandshakeTimeout, this.#phase);
    } else if (passed === 'lifetime') {
      this.#logger.info({ sessionId, vmId, maxLifetimeMs }, 'console lifetime exceeded');
      this.#finish(ConsoleCloseCode.LifetimeExceeded, null);
    } else if (passed === 'inputIdle') {
      this.#logger.info({ sessionId, vmId, inputIdleTimeoutMs }, 'console input idle');
      this.#finish(ConsoleCloseCode.InputIdleTimeout, null);
    } else {
      this.#finish(ConsoleCloseCode.IdleTimeout, null);
    }
  }

  #startProbe(): void {
    if (this.#probing) return;
    this.#probing = true;
    this.#client.resume();
  }

  #endProbe(): void {
    if (!this.#probing) return;
    this.#probing = false;
    if (this.#clientPaused && this.#closeCode === null) this.#client.pause();
  }

  /** Keep `chunk` for later; false (and the session closing with 4010) when that passes `maxHeldBytes`. */
  #hold(list: Buffer[], chunk: Buffer): boolean {
    list.push(chunk);
    this.#heldBytes += chunk.length;
    return this.#withinHeldLimit();
  }

  #withinHeldLimit(): boolean {
    const held = this.#heldBytes + (this.#rfb?.pendingBytes ?? 0);
    if (held <= this.#maxHeldBytes) return true;
    this.#logger.warn({ sessionId: this.identity.sessionId, target: this.#target, phase: this.#phase, heldBytes: held, maxHeldBytes: this.#maxHeldBytes }, 'console held data over limit');
    this.#finish(ConsoleCloseCode.HeldBytesOverLimit, this.#phase);
    return false;
  }

  /**
   * Input messages from the browser so far (forwarded or dropped). A stream the reader cannot
   * follow (an RFB security type it does not know) counts every browser byte instead.
   */
  readonly #inputSeen = (): number => {
    const reader = this.#viewOnly ?? this.#inputReader;
    if (!reader) return 0;
    return reader.failure && !this.#viewOnly ? reader.input + this.#bytesToUpstream : reader.input;
  };

  /** End the session with `code`; `detail` goes to the audit record (e.g. who terminated it). */
  end(code: number, detail: string | null): void {
    this.#finish(code, detail);
  }

  /** Close both sides with `code` (gateway shutdown). */
  shutdown(code: number, reason: string): void {
    this.#finish(code, null, reason);
  }

  /** Drop both connections now, without close handshakes (after a shutdown grace period). */
  terminate(): void {
    this.#finish(ConsoleCloseCode.GoingAway, 'terminated');
    this.#client.terminate();
    this.#leg?.destroy();
  }

  // --- browser side -------------------------------------------------------------------------

  readonly #onClientMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.#closeCode !== null) return;
    if (!isBinary) {
      this.#finish(ConsoleCloseCode.UnsupportedData, null);
      return;
    }
    this.#bytesToUpstream += data.length;
    if (this.#recorder?.includeInput) this.#recorder.toServer(data);
    if (this.#phase === 'piping') {
      // Paused: the upstream is backed up, and this came from a probe or was already read.
      if (this.#clientPaused) this.#hold(this.#heldForUpstream, data);
      else this.#writeUpstream(data);
    } else if (this.#phase === 'handshaking') {
      this.#feedBrowserRfb(data);
    } else {
      this.#hold(this.#heldForUpstream, data);
    }
  };

  readonly #onViewOnlyMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.#closeCode !== null || !this.#viewOnly) return;
    if (!isBinary) {
      this.#finish(ConsoleCloseCode.UnsupportedData, null);
      return;
    }
    const allowed = this.#viewOnly.feed(data);
    if (allowed === null) {
      this.#logger.warn({ sessionId: this.identity.sessionId, vmId: this.identity.vmId, failure: this.#viewOnly.failure }, 'view-only console closed: unknown browser message');
      this.#finish(ConsoleCloseCode.ViewOnlyUnknownMessage, this.#viewOnly.failure);
      return;
    }
    if (allowed.length > 0) this.#onClientMessage(allowed, true);
  };

  readonly #onObservedMessage = (data: Buffer, isBinary: boolean): void => {
    if (isBinary && this.#closeCode === null) this.#inputReader?.observe(data);
    this.#onClientMessage(data, isBinary);
  };

  /** Input messages a view-only session dropped; 0 for interactive sessions. */
  get droppedInputMessages(): number {
    return this.#viewOnly?.dropped ?? 0;
  }

  /** What a view-only session dropped, by kind of input; null for interactive sessions. */
  get droppedInput(): Readonly<DroppedInputCounts> | null {
    return this.#viewOnly?.inputByType ?? null;
  }

  readonly #onClientError = (err: Error & { code?: string }): void => {
    // `ws` closes the connection itself after a receiver error; record why, in its code.
    const code = wsErrorCloseCode(err.code);
    if (code !== null) this.#finish(code, err.code ?? null);
  };

  readonly #onClientClose = (code: number): void => {
    this.#clientClosed = true;
    if (this.#closeCode === null) {
      // The browser's own reason text is not recorded: it is client input and may hold anything.
      this.#closeCode = code;
      this.#closeReason = code === ConsoleCloseCode.Abnormal ? closeReason[ConsoleCloseCode.Abnormal] : 'client closed';
      if (!this.#legClosed && this.#leg) {
        // A paused upstream WebSocket would never read the reply to our close, and linger until
        // `ws` gives up on it (30 s), holding the session's cap slot and its audit line.
        if (this.#legPaused) {
          this.#legPaused = false;
          this.#leg.resume();
        }
        this.#leg.end();
      }
    }
    this.#maybeEnd();
  };

  #sendToClient(chunk: Buffer): void {
    const recorder = this.#recorder;
    if (recorder !== null && !recorder.toClient(chunk) && !this.#recorderBacklogged) {
      // The recording's disk is behind: the VNC server waits for it, as it waits for a slow browser.
      this.#recorderBacklogged = true;
      this.#pauseLeg();
      recorder.whenDrained(this.#onRecorderDrained);
    }
    const client = this.#client;
    const queued = client.bufferedAmount + chunk.length;
    if (queued > this.#peakToClient) this.#peakToClient = queued;
    if (queued > this.#limits.highWaterMarkBytes && !this.#clientBacklogged) {
      this.#clientBacklogged = true;
      client.send(chunk, BINARY, this.#onClientFlushed);
      this.#pauseLeg();
    } else {
      client.send(chunk, BINARY);
    }
  }

  /** `ws` has no 'drain': the callback of the frame that crossed the mark fires once it is flushed. */
  readonly #onClientFlushed = (err?: Error): void => {
    this.#clientBacklogged = false;
    if (!err && !this.#recorderBacklogged) this.#resumeLeg();
  };

  readonly #onRecorderDrained = (): void => {
    this.#recorderBacklogged = false;
    if (!this.#clientBacklogged) this.#resumeLeg();
  };

  /** `report`: false for the pause while connecting, which is not backpressure. */
  #pauseClient(report = true): void {
    if (this.#clientPaused) return;
    this.#clientPaused = true;
    this.#clientPauseReported = report;
    this.#client.pause();
    if (report) this.#hooks.backpressure(this, 'toUpstream', true);
  }

  #resumeClient(): void {
    if (!this.#clientPaused || this.#closeCode !== null) return;
    if (this.#phase === 'piping' && this.#heldForUpstream.length > 0) {
      // Messages read while paused go first; if they fill the upstream again, its next drain resumes us.
      const held = this.#heldForUpstream;
      this.#heldForUpstream = [];
      this.#heldBytes = 0;
      let below = true;
      for (const chunk of held) below = this.#writeUpstream(chunk) && below;
      if (!below) return;
    }
    this.#probing = false;
    this.#clientPaused = false;
    this.#client.resume();
    if (this.#clientPauseReported) this.#hooks.backpressure(this, 'toUpstream', false);
  }

  // --- upstream side ------------------------------------------------------------------------

  #onUpstreamData(chunk: Buffer): void {
    if (this.#closeCode !== null) return;
    this.#bytesToClient += chunk.length;
    if (this.#phase === 'piping') this.#sendToClient(chunk);
    else if (this.#phase === 'handshaking') this.#feedUpstreamRfb(chunk);
    else this.#hold(this.#heldForClient, chunk);
  }

  /** false: the upstream's queue passed the mark and the browser is paused until its drain. */
  #writeUpstream(chunk: Buffer): boolean {
    const leg = this.#leg;
    if (!leg) return true;
    const below = leg.write(chunk);
    const queued = leg.bufferedBytes;
    if (queued > this.#peakToUpstream) this.#peakToUpstream = queued;
    if (!below) this.#pauseClient();
    return below;
  }

  #onLegClosed(info: LegClosed): void {
    this.#legClosed = true;
    this.#finish(info.code, info.detail);
    this.#maybeEnd();
  }

  /** `report`: false for the pause while the browser's handshake catches up, which is not backpressure. */
  #pauseLeg(report = true): void {
    if (this.#legPaused || !this.#leg) return;
    this.#legPaused = true;
    this.#legPauseReported = report;
    this.#leg.pause();
    if (report) this.#hooks.backpressure(this, 'toClient', true);
  }

  #resumeLeg(): void {
    if (!this.#legPaused || this.#closeCode !== null || !this.#leg) return;
    this.#legPaused = false;
    this.#leg.resume();
    if (this.#legPauseReported) this.#hooks.backpressure(this, 'toClient', false);
  }

  // --- phases -------------------------------------------------------------------------------

  /** Both held lists, emptied: what they hold goes on to the phase that starts now. */
  #takeHeld(): { forClient: Buffer[]; forUpstream: Buffer[] } {
    const held = { forClient: this.#heldForClient, forUpstream: this.#heldForUpstream };
    this.#heldForUpstream = [];
    this.#heldForClient = [];
    this.#heldBytes = 0;
    return held;
  }

  #startPiping(): void {
    this.#phase = 'piping';
    const { forClient, forUpstream } = this.#takeHeld();
    // Paused while the browser's handshake caught up; a real backpressure pause is taken again below.
    if (this.#legPaused && !this.#legPauseReported) this.#resumeLeg();
    for (const chunk of forClient) this.#sendToClient(chunk);
    let below = true;
    for (const chunk of forUpstream) below = this.#writeUpstream(chunk) && below;
    if (this.#closeCode === null && below) this.#resumeClient();
  }

  /** The target wants a VNC password the browser must never see: see RfbBridge. */
  #startRfbHandshake(password: string): void {
    this.#phase = 'handshaking';
    this.#vncPassword = password;
    this.#rfb = new RfbBridge(password, { toClient: (chunk) => this.#sendToClient(chunk), toUpstream: (chunk) => this.#leg?.write(chunk) });
    this.#rfb.start();
    const { forClient, forUpstream } = this.#takeHeld();
    for (const chunk of forClient) this.#feedUpstreamRfb(chunk);
    for (const chunk of forUpstream) this.#feedBrowserRfb(chunk);
    // The browser must speak its part now, unless it is through and waiting for the VNC server.
    if (this.#closeCode === null && this.#phase === 'handshaking' && !this.#rfb?.browserDone) this.#resumeClient();
  }

  #feedUpstreamRfb(chunk: Buffer): void {
    if (!this.#rfb || this.#closeCode !== null) return;
    const rfb = this.#rfb;
    const failure = rfb.fromUpstream(chunk);
    if (failure) {
      const upstreamReason = failure.upstreamReason === null ? null : sanitizeReason(failure.upstreamReason, this.#vncPassword);
      this.#logger.warn(
        { sessionId: this.identity.sessionId, target: this.#target, errCode: errorCode(failure.error), upstreamReason },
        'console upstream rfb handshake failed',
      );
      const code = failure.closeCode as ConsoleCloseCode;
      this.#finish(code, errorCode(failure.error), upstreamReason === null ? undefined : `${closeReason[code]}: ${upstreamReason}`);
      return;
    }
    // Through, while the browser is not: what the VNC server sends now has nowhere to go.
    if (rfb.upstreamDone && !rfb.browserDone) this.#pauseLeg(false);
    if (!this.#withinHeldLimit()) return;
    this.#maybeStartPipingAfterRfb();
  }

  #feedBrowserRfb(chunk: Buffer): void {
    if (!this.#rfb || this.#closeCode !== null) return;
    const rfb = this.#rfb;
    const failure = rfb.fromClient(chunk);
    if (failure) {
      this.#finish(failure.closeCode, errorCode(failure.error));
      return;
    }
    // Through, while the VNC server is not: what the browser sends now has nowhere to go.
    if (rfb.browserDone && !rfb.upstreamDone) this.#pauseClient(false);
    if (!this.#withinHeldLimit()) return;
    this.#maybeStartPipingAfterRfb();
  }

  #maybeStartPipingAfterRfb(): void {
    const rfb = this.#rfb;
    if (rfb?.done && this.#closeCode === null) {
      this.#rfb = null;
      this.#heldForClient.push(...rfb.pendingForClient);
      this.#heldForUpstream.push(...rfb.pendingForUpstream);
      this.#startPiping();
    }
  }

  // --- closing ------------------------------------------------------------------------------

  /** The first cause wins; later ones (the echo of our own close) are ignored. */
  #finish(code: number, detail: string | null, reason?: string): void {
    if (this.#closeCode !== null) {
      this.#maybeEnd();
      return;
    }
    this.#closeCode = code;
    this.#closeReason = reason ?? closeReason[code as ConsoleCloseCode] ?? 'closed';
    this.#detail = detail;
    const client = this.#client;
    if (client.readyState === WebSocket.OPEN) {
      // Queued after any data still buffered, so the browser gets every byte before the close.
      // A close reason may not exceed 123 bytes (RFC 6455 5.5); `ws` throws past that.
      client.close(isSendableCloseCode(code) ? code : ConsoleCloseCode.InternalError, truncateUtf8(this.#closeReason, 123));
    }
    // A paused side would never flush or see the close; let both run out.
    this.#probing = false;
    if (this.#clientPaused) {
      this.#clientPaused = false;
      client.resume();
    }
    if (this.#leg && !this.#legClosed) {
      if (this.#legPaused) {
        this.#legPaused = false;
        this.#leg.resume();
      }
      this.#leg.end();
    }
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    // A leg still connecting does not hold the session open: a resolver or connect that hangs
    // must not keep a dead browser's session alive; start() destroys the leg if it turns up late.
    if (this.#ended || !this.#clientClosed || (!this.#legClosed && this.#leg !== null)) return;
    this.#ended = true;
    this.#recorder?.end();
    const endedAtMs = this.#now();
    this.#hooks.ended(this, {
      ...this.identity,
      provider: this.#provider,
      target: this.#target,
      startedAt: new Date(this.#startedAtMs).toISOString(),
      endedAt: new Date(endedAtMs).toISOString(),
      durationMs: endedAtMs - this.#startedAtMs,
      bytesToUpstream: this.#bytesToUpstream,
      bytesToClient: this.#bytesToClient,
      closeCode: this.#closeCode ?? ConsoleCloseCode.Abnormal,
      closeReason: this.#closeReason,
      detail: this.#detail,
      peakBufferedToClient: this.#peakToClient,
      peakBufferedToUpstream: this.#peakToUpstream,
      recordingId: this.recordingId,
      droppedInput: this.#viewOnly ? { ...this.#viewOnly.inputByType } : null,
    });
    this.#resolveEnded();
  }
}
