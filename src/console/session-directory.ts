/**
 * The live and recently ended console sessions of this replica, for `consoleSessions` and
 * `terminateConsoleSession`. The endpoint tells it when a session opens and ends; the domain layer
 * asks it. Ended sessions are kept in a bounded ring (`console.endedSessionsKept`), newest first.
 * Every field here is safe to show to the session's caller and to admins (no ticket, no target).
 */
import type { SessionSummary } from './session-record.js';
import type { ConsoleSession } from './session.js';

export interface ConsoleSessionInfo {
  sessionId: string;
  /** Global VM id; null for token-file consoles. */
  vmId: string | null;
  caller: string;
  viewOnly: boolean;
  startedAt: string;
  /** null while live. */
  endedAt: string | null;
  /** Bytes received from the browser. */
  bytesFromBrowser: number;
  /** Bytes sent towards the browser (received from the upstream). */
  bytesToBrowser: number;
  /** The session's recording; null when it is not recorded. */
  recordingId: string | null;
  /** null while live. */
  closeCode: number | null;
  closeReason: string | null;
}

export interface SessionQuery {
  /** Only this caller's sessions; null = everyone's (admins). */
  caller: string | null;
  vmId?: string | null;
  state?: 'LIVE' | 'ENDED' | null;
}

export type TerminateResult = { outcome: 'terminated'; session: ConsoleSessionInfo } | { outcome: 'ended'; session: ConsoleSessionInfo } | { outcome: 'unknown' };

export class ConsoleSessionDirectory {
  readonly #live = new Map<string, ConsoleSession>();
  /** Oldest first; trimmed to `endedKept()` on each insert. */
  readonly #ended: ConsoleSessionInfo[] = [];
  readonly #endedKept: () => number;

  /** `endedKept`: read at each end. */
  constructor(options: { endedKept: () => number }) {
    this.#endedKept = options.endedKept;
  }

  /** A session id not in use here (live or kept): a reusable ticket redeemed again gets a suffix. */
  freeId(wanted: string): string {
    if (!this.#known(wanted)) return wanted;
    for (let n = 2; ; n++) if (!this.#known(`${wanted}-${n}`)) return `${wanted}-${n}`;
  }

  #known(id: string): boolean {
    return this.#live.has(id) || this.#ended.some((s) => s.sessionId === id);
  }

  opened(session: ConsoleSession): void {
    this.#live.set(session.identity.sessionId, session);
  }

  ended(summary: SessionSummary): void {
    this.#live.delete(summary.sessionId);
    const keep = this.#endedKept();
    if (keep <= 0) {
      this.#ended.length = 0;
      return;
    }
    this.#ended.push({
      sessionId: summary.sessionId,
      vmId: summary.vmId,
      caller: summary.caller,
      viewOnly: summary.viewOnly === true,
      startedAt: summary.startedAt,
      endedAt: summary.endedAt,
      bytesFromBrowser: summary.bytesToUpstream,
      bytesToBrowser: summary.bytesToClient,
      recordingId: summary.recordingId,
      closeCode: summary.closeCode,
      closeReason: summary.closeReason,
    });
    if (this.#ended.length > keep) this.#ended.splice(0, this.#ended.length - keep);
  }

  /** Live sessions first (newest first), then ended ones (newest first). */
  list(query: SessionQuery): ConsoleSessionInfo[] {
    const match = (s: ConsoleSessionInfo): boolean =>
      (query.caller === null || s.caller === query.caller) && (query.vmId == null || s.vmId === query.vmId);
    const out: ConsoleSessionInfo[] = [];
    if (query.state !== 'ENDED') out.push(...[...this.#live.values()].map(liveInfo).filter(match).reverse());
    if (query.state !== 'LIVE') for (let i = this.#ended.length - 1; i >= 0; i--) if (match(this.#ended[i]!)) out.push(this.#ended[i]!);
    return out;
  }

  get(sessionId: string): ConsoleSessionInfo | null {
    const live = this.#live.get(sessionId);
    if (live) return liveInfo(live);
    return this.#ended.find((s) => s.sessionId === sessionId) ?? null;
  }

  /** End a live session with `code`; `detail` (who did it) goes to its audit record. */
  terminate(sessionId: string, code: number, detail: string): TerminateResult {
    const live = this.#live.get(sessionId);
    if (!live || live.closing) {
      const known = this.get(sessionId);
      return known ? { outcome: 'ended', session: known } : { outcome: 'unknown' };
    }
    const session = liveInfo(live);
    live.end(code, detail);
    return { outcome: 'terminated', session };
  }
}

function liveInfo(s: ConsoleSession): ConsoleSessionInfo {
  return {
    sessionId: s.identity.sessionId,
    vmId: s.identity.vmId,
    caller: s.identity.caller,
    viewOnly: s.identity.viewOnly === true,
    startedAt: new Date(s.startedAtMs).toISOString(),
    endedAt: null,
    bytesFromBrowser: s.bytesToUpstream,
    bytesToBrowser: s.bytesToClient,
    recordingId: s.recordingId,
    closeCode: null,
    closeReason: null,
  };
}
