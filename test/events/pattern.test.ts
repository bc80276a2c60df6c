import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../../src/errors.js';
import {
  ALL_EVENTS,
  MAX_INBOUND_MESSAGE_BYTES,
  MAX_PATTERN_BYTES,
  formatEventPattern,
  matchesPattern,
  parseEventPattern,
} from '../../src/events/pattern.js';

function refusal(text: string): BadUserInputError {
  try {
    parseEventPattern(text);
  } catch (err) {
    expect(err).toBeInstanceOf(BadUserInputError);
    expect((err as BadUserInputError).code).toBe('BAD_USER_INPUT');
    return err as BadUserInputError;
  }
  throw new Error(`"${text}" was accepted`);
}

describe('parseEventPattern', () => {
  it('parses three parts', () => {
    expect(parseEventPattern('machines.save.0b6c5a4e')).toEqual({ type: 'machines', action: 'save', key: '0b6c5a4e' });
    expect(parseEventPattern('*.*.*')).toEqual(ALL_EVENTS);
    expect(parseEventPattern('profiles.*.global')).toEqual({ type: 'profiles', action: '*', key: 'global' });
  });

  it('splits on the first two dots only: the key may contain dots', () => {
    expect(parseEventPattern('leases.create.10.0.0.5')).toEqual({ type: 'leases', action: 'create', key: '10.0.0.5' });
    expect(formatEventPattern(parseEventPattern('leases.create.10.0.0.5'))).toBe('leases.create.10.0.0.5');
  });

  it.each(['', 'machines', 'machines.save', 'machines*'])('refuses too few parts: %j', (text) => {
    expect(refusal(text).message).toMatch(/three parts/);
  });

  it.each([
    ['.save.x', 'type'],
    ['machines..x', 'action'],
    ['machines.save.', 'key'],
    ['..', 'type'],
  ])('refuses an empty part: %j', (text, part) => {
    expect(refusal(text).message).toContain(`empty ${part} part`);
  });

  it('refuses whitespace (commands are space-separated) and partial wildcards', () => {
    expect(refusal('machines.save.a b').message).toMatch(/whitespace/);
    expect(refusal('machines.sa\nve.x').message).toMatch(/whitespace|control/);
    expect(refusal('mach*.save.x').message).toMatch(/whole part/);
  });

  it('keeps every accepted pattern within DRP\'s 512-byte message limit', () => {
    expect(MAX_PATTERN_BYTES + 'deregister '.length).toBe(MAX_INBOUND_MESSAGE_BYTES);
    const longest = `m.s.${'k'.repeat(MAX_PATTERN_BYTES - 4)}`;
    expect(Buffer.byteLength(longest)).toBe(MAX_PATTERN_BYTES);
    expect(parseEventPattern(longest).key).toHaveLength(MAX_PATTERN_BYTES - 4);
    expect(refusal(`${longest}k`).message).toMatch(/bytes/);
    expect(refusal(`m.s.${'k'.repeat(600)}`).details).toEqual({ maxBytes: MAX_PATTERN_BYTES });
  });

  it('counts bytes, not characters', () => {
    const chars = Math.floor((MAX_PATTERN_BYTES - 4) / 3) + 1; // 3 bytes each in UTF-8
    expect(refusal(`m.s.${'€'.repeat(chars)}`).message).toMatch(/bytes/);
  });

  it('keeps error messages short even for huge input', () => {
    expect(refusal('x'.repeat(400)).message.length).toBeLessThan(200);
  });
});

describe('matchesPattern', () => {
  const event = { type: 'machines', action: 'save', key: 'm1' };
  it.each([
    ['*.*.*', true],
    ['machines.*.*', true],
    ['*.save.*', true],
    ['*.*.m1', true],
    ['machines.save.m1', true],
    ['profiles.*.*', false],
    ['*.create.*', false],
    ['*.*.m2', false],
    ['machines.save.m', false],
  ])('%s -> %s', (text, expected) => {
    expect(matchesPattern(parseEventPattern(text), event)).toBe(expected);
  });
});
