import { describe, expect, it } from 'vitest';
import { normaliseDrpEvent } from '../../../src/upstreams/drp/normalise.js';
import { asDrpEvent, parseCommand } from '../../../src/upstreams/drp/wire.js';

const NOW = Date.UTC(2024, 0, 1, 12);

describe('normaliseDrpEvent', () => {
  it('maps PascalCase fields and truncates nanosecond times to milliseconds', () => {
    const event = asDrpEvent({
      Time: '2017-12-21T23:26:43.412554192Z',
      Type: 'profiles',
      Action: 'save',
      Key: 'global',
      Principal: 'user:rocketskates',
      Object: { Name: 'global' },
      Original: { Name: 'global', Params: {} },
    });
    expect(event).not.toBeNull();
    expect(normaliseDrpEvent('drp1', event!, NOW)).toEqual({
      source: 'DRP',
      provider: 'drp1',
      time: '2017-12-21T23:26:43.412Z',
      type: 'profiles',
      action: 'save',
      key: 'global',
      principal: 'user:rocketskates',
      object: { Name: 'global' },
      original: { Name: 'global', Params: {} },
    });
  });

  it('falls back to the gateway clock and nulls for what an older server omits', () => {
    const event = asDrpEvent({ Time: 'yesterday', Type: 'log', Action: 'create', Key: 'x' });
    expect(normaliseDrpEvent('drp1', event!, NOW)).toMatchObject({
      time: new Date(NOW).toISOString(),
      principal: null,
      object: null,
      original: null,
    });
  });

  it('rejects messages that are not events', () => {
    expect(asDrpEvent(null)).toBeNull();
    expect(asDrpEvent({ Type: 'machines', Action: 'save' })).toBeNull();
    expect(asDrpEvent('register *.*.*')).toBeNull();
  });
});

describe('parseCommand', () => {
  it('accepts register/deregister with a filter and nothing else', () => {
    expect(parseCommand('register *.*.*')).toEqual({ verb: 'register', filter: '*.*.*' });
    expect(parseCommand('deregister machines.save.m1')).toEqual({ verb: 'deregister', filter: 'machines.save.m1' });
    expect(parseCommand('register')).toBeNull();
    expect(parseCommand('register ')).toBeNull();
    expect(parseCommand('REGISTER *.*.*')).toBeNull();
    expect(parseCommand('listen *.*.*')).toBeNull();
  });
});
