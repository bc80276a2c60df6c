import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/upstreams/shared/backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling up to maxMs and draws uniformly below it (full jitter)', () => {
    const top = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999_999 });
    const ceilings = Array.from({ length: 9 }, () => top.next());
    expect(ceilings).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999]);
    const bottom = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0 });
    expect([bottom.next(), bottom.next()]).toEqual([0, 0]);
    const half = new Backoff({ initialMs: 100, maxMs: 30_000, random: () => 0.5 });
    expect([half.next(), half.next(), half.next()]).toEqual([50, 100, 200]);
  });

  it('starts again from initialMs after reset()', () => {
    const backoff = new Backoff({ initialMs: 10, maxMs: 1000, random: () => 0.999_999 });
    for (let i = 0; i < 50; i++) backoff.next();
    expect(backoff.next()).toBe(999);
    backoff.reset();
    expect(backoff.next()).toBe(9);
  });
});
