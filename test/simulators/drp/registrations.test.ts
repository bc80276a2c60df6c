import { describe, expect, it } from 'vitest';
import { parseRegistrationFilter, registrationMatches, SocketRegistrations } from '../../../src/simulators/drp/registrations.js';
import { encodeEvent, readCommand, readPostedEvent } from '../../../src/simulators/drp/wire.js';

const event = (Type: string, Action: string, Key: string) => ({ Type, Action, Key });

describe('DRP simulator: register filters, read from UPSTREAMS.md on their own', () => {
  it('register *.*.* receives every event', () => {
    const all = parseRegistrationFilter('*.*.*')!;
    for (const e of [event('machines', 'create', 'm1'), event('log', 'create', 'x'), event('leases', 'delete', '10.0.0.5')]) {
      expect(registrationMatches(all, e)).toBe(true);
    }
  });

  it('each part is * or an exact value, compared whole', () => {
    const machines = parseRegistrationFilter('machines.*.*')!;
    expect(registrationMatches(machines, event('machines', 'save', 'm1'))).toBe(true);
    expect(registrationMatches(machines, event('machine', 'save', 'm1'))).toBe(false);
    expect(registrationMatches(machines, event('machinesX', 'save', 'm1'))).toBe(false);
    const saves = parseRegistrationFilter('*.save.*')!;
    expect(registrationMatches(saves, event('profiles', 'save', 'global'))).toBe(true);
    expect(registrationMatches(saves, event('profiles', 'update', 'global'))).toBe(false);
    // * is not a glob inside a part: `mach*` only matches a type literally named `mach*`.
    const prefix = parseRegistrationFilter('mach*.*.*')!;
    expect(registrationMatches(prefix, event('machines', 'save', 'm1'))).toBe(false);
    expect(registrationMatches(prefix, event('mach*', 'save', 'm1'))).toBe(true);
  });

  it('the key is everything after the second dot, dots included', () => {
    expect(parseRegistrationFilter('leases.create.10.0.0.5')).toEqual({ type: 'leases', action: 'create', key: '10.0.0.5' });
    const lease = parseRegistrationFilter('leases.*.10.0.0.5')!;
    expect(registrationMatches(lease, event('leases', 'create', '10.0.0.5'))).toBe(true);
    expect(registrationMatches(lease, event('leases', 'create', '10.0.0.50'))).toBe(false);
  });

  it('text without three parts is no filter', () => {
    for (const text of ['machines', 'machines.*', '']) expect(parseRegistrationFilter(text)).toBeNull();
  });

  it('a socket keeps filters by their text: duplicates are reported, deregister names the text', () => {
    const regs = new SocketRegistrations();
    expect(regs.register('machines.*.*')).toBe('registered');
    expect(regs.register('machines.*.*')).toBe('duplicate');
    expect(regs.register('machines')).toBe('ignored');
    expect(regs.register('*.save.*')).toBe('registered');
    expect(regs.list()).toEqual(['machines.*.*', '*.save.*']);
    expect(regs.wants(event('profiles', 'save', 'global'))).toBe(true);
    expect(regs.deregister('*.save.*')).toBe(true);
    expect(regs.wants(event('profiles', 'save', 'global'))).toBe(false);
    // Never registered, still a well-formed filter: acknowledged by the server, so true.
    expect(regs.deregister('params.*.*')).toBe(true);
    expect(regs.deregister('params')).toBe(false);
    expect(regs.size).toBe(1);
  });
});

describe('DRP simulator: socket commands and event frames', () => {
  it('reads `register|deregister <filter>` and nothing else', () => {
    expect(readCommand('register profiles.*.*')).toEqual({ verb: 'register', filter: 'profiles.*.*' });
    expect(readCommand('deregister profiles.*.*\n')).toEqual({ verb: 'deregister', filter: 'profiles.*.*' });
    for (const text of ['register', 'register ', 'subscribe *.*.*', 'REGISTER *.*.*', 'hello world']) expect(readCommand(text)).toBeNull();
  });

  it('sends every event field, PascalCase, in DRP order, null for absent objects', () => {
    const text = encodeEvent({ Time: 't', Type: 'profiles', Action: 'save', Key: 'global', Principal: 'user:rocketskates', Object: { Name: 'global' }, Original: undefined });
    expect(text).toBe('{"Time":"t","Type":"profiles","Action":"save","Key":"global","Principal":"user:rocketskates","Object":{"Name":"global"},"Original":null}');
  });

  it('accepts a posted event only with string Type, Action and Key', () => {
    expect(readPostedEvent('{"Type":"machines","Action":"create","Key":"m1","Object":{"Name":"m1"}}')).toEqual({
      Type: 'machines',
      Action: 'create',
      Key: 'm1',
      Object: { Name: 'm1' },
      Original: null,
    });
    for (const body of ['', 'null', '[]', '{"Type":"machines","Action":"create"}', '{"Type":1,"Action":"create","Key":"m1"}']) {
      expect(readPostedEvent(body)).toBeNull();
    }
  });
});
