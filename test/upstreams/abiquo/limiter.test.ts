import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../../src/upstreams/abiquo/limiter.js';

describe('createLimiter', () => {
  it('never runs more than max tasks at once and runs them all', async () => {
    const limit = createLimiter(3);
    const total = 10;
    let running = 0;
    let peak = 0;
    let finished = 0;
    const gates: Array<() => void> = [];
    // Each task waits on a gate; one is opened only once as many tasks wait as the limit allows
    // (or as are left), so a limiter that ran more at once shows in `peak`, and one that ran
    // fewer never gets its gates opened.
    const openOne = (): void => {
      if (gates.length > 0 && gates.length === Math.min(3, total - finished)) gates.shift()!();
    };
    const tasks = Array.from({ length: total }, (_, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => {
          gates.push(resolve);
          openOne();
        });
        running--;
        finished++;
        openOne();
        return i;
      }),
    );
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
  });

  it('frees the slot when a task fails', async () => {
    const limit = createLimiter(1);
    await expect(limit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit(() => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('rejects a non-positive limit', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});
