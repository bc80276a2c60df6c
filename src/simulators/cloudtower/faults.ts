/**
 * Fault injection: make upcoming requests fail the ways a real CloudTower (or the proxy in front of
 * it) fails, so clients can be tested for retries, parsing errors and timeouts.
 */

/**
 * - `error`: HTTP `status` (default 500) with a REST error body (`code: "InternalServerError"`).
 * - `garbage`: HTTP 200, `content-type: application/json`, a body that is not JSON.
 * - `hang`: read the request and never answer; the socket stays open until the client gives up
 *   (or the simulator closes).
 */
export type FaultKind = 'error' | 'garbage' | 'hang';

export interface FaultRule {
  kind: FaultKind;
  /** How many matching requests this rule applies to. `Infinity` = until `clearFaults()`. @default 1 */
  times?: number;
  /**
   * Only requests to this path (pathname, trailing `/` ignored), e.g. `/v2/api/get-vms` or `/api`.
   * Without it the rule applies to any REST/GraphQL request. WebSocket upgrades to `/websockify/`
   * are only affected by rules that name that path.
   */
  path?: string;
  /** HTTP status for `error`. @default 500 */
  status?: number;
}

/** The body a `garbage` fault sends: an HTML error page, as a misconfigured proxy would send. */
export const GARBAGE_BODY = '<html><body><h1>502 Bad Gateway</h1></body></html>';

function normalisePath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

export class FaultPlan {
  readonly #rules: ActiveRule[] = [];

  add(rule: FaultRule): void {
    const times = rule.times ?? 1;
    if (!(times > 0)) throw new RangeError('fault times must be > 0');
    this.#rules.push({ rule: { ...rule }, remaining: times });
  }

  clear(): void {
    this.#rules.length = 0;
  }

  /** The first rule matching this request, counted as used; rules are applied in the order added. */
  take(pathname: string, isUpgrade: boolean): FaultRule | null {
    const path = normalisePath(pathname);
    const index = this.#rules.findIndex(({ rule }) =>
      rule.path === undefined ? !isUpgrade : normalisePath(rule.path) === path,
    );
    const active = this.#rules[index];
    if (!active) return null;
    active.remaining -= 1;
    if (active.remaining <= 0) this.#rules.splice(index, 1);
    return active.rule;
  }
}
