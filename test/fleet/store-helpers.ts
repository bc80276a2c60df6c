/** Shared by the fleet-store tests: bounded polling, and three gateways on one Redis. */

/**
 * Polls `condition` until it holds, at most `timeoutMs` (then rejects naming `what`). For state
 * only observable by asking again (an HTTP status, a metric); bounded, never an open-ended wait.
 */
export async function eventually(what: string, condition: () => Promise<boolean> | boolean, { timeoutMs = 10_000, everyMs = 50 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
