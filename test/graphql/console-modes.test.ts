import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { validateConfig } from '../../src/config.js';
import { defaultAbiquoData, startAbiquoSimulator, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { newKey } from '../auth/helpers.js';

let env: TowerGateway | undefined;
let abiquo: AbiquoSimulator | undefined;
afterEach(async () => {
  await env?.close();
  await abiquo?.close();
  env = abiquo = undefined;
});

const alice = newKey();
const auth = { mode: 'apiKey', apiKeys: [{ name: 'alice', hash: alice.hash }] };
/** Time stands still for the minting budget: no token comes back between two requests. */
const frozenClock: Clock = { ...systemClock, now: () => Date.parse('2030-01-01T00:00:00Z') };

async function open(t: TowerGateway, vmId: string, mode: string, field: 'openConsole' | 'console' = 'openConsole'): Promise<{ access: any; error: any }> {
  const op = field === 'openConsole' ? 'mutation' : 'query';
  const res = await graphqlPost(t.gateway.url, `${op}($id: ID!, $mode: ConsoleMode) { ${field}(vmId: $id, mode: $mode) { url mode } }`, {
    variables: { id: vmId, mode },
    headers: { 'x-api-key': alice.key },
  });
  return { access: res.body.data?.[field] ?? null, error: res.body.errors?.[0] ?? null };
}

describe('console modes per provider', () => {
  it('refuses a mode the provider does not allow with FORBIDDEN and the reason, and serves the allowed one', async () => {
    env = await startTowerGateway({ config: { auth }, provider: { consoleModes: ['GATEWAY'] } });
    const vmId = `tower:${env.sim.listVms()[0]!.id}`;
    for (const mode of ['DIRECT', 'UPSTREAM']) {
      for (const field of ['openConsole', 'console'] as const) {
        const { access, error } = await open(env, vmId, mode, field);
        expect(access).toBeNull();
        expect(error.message).toBe(`console mode ${mode} is not allowed for provider "tower": it allows GATEWAY`);
        expect(error.extensions).toEqual({ code: 'FORBIDDEN', reason: 'CONSOLE_MODE_NOT_ALLOWED', provider: 'tower', mode, allowedModes: ['GATEWAY'] });
      }
    }
    // Refused modes never asked CloudTower for a console token (its `vnc` query at /api).
    expect(env.sim.requests.filter((r) => r.path === '/api')).toEqual([]);
    expect((await open(env, vmId, 'GATEWAY')).access.mode).toBe('GATEWAY');
  });

  it('allows every mode by default on CloudTower, and refuses a default mode outside consoleModes at config time', async () => {
    env = await startTowerGateway({ config: { auth } });
    const vmId = `tower:${env.sim.listVms()[0]!.id}`;
    for (const mode of ['GATEWAY', 'DIRECT', 'UPSTREAM']) expect((await open(env, vmId, mode)).access?.mode).toBe(mode);
    expect(() =>
      validateConfig({ providers: [{ name: 't', kind: 'cloudtower', url: 'http://127.0.0.1:1', token: 'x', consoleMode: 'DIRECT', consoleModes: ['GATEWAY'] }] }),
    ).toThrow(/consoleMode.*must be one of `consoleModes`/);
  });

  it('allows only GATEWAY on Abiquo', async () => {
    abiquo = await startAbiquoSimulator({ data: defaultAbiquoData() });
    env = await startTowerGateway({ config: { auth }, extraProviders: [{ name: 'abq', kind: 'abiquo', url: abiquo.url, username: 'admin', password: 'xabiquo' }] });
    const vm = defaultAbiquoData()[0]!;
    const { error } = await open(env, `abq:${vm.id}/${vm.vms[0]!.id}`, 'DIRECT');
    expect(error.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'CONSOLE_MODE_NOT_ALLOWED', allowedModes: ['GATEWAY'] });
  });

  it('counts DIRECT and UPSTREAM URLs against the same per-caller ticket budget as GATEWAY tickets', async () => {
    env = await startTowerGateway({ config: { auth, limits: { ticketBurst: 3, ticketsPerMinute: 1 } }, clock: frozenClock });
    const vmId = `tower:${env.sim.listVms()[0]!.id}`;
    expect((await open(env, vmId, 'DIRECT')).access?.mode).toBe('DIRECT');
    expect((await open(env, vmId, 'UPSTREAM', 'console')).access?.mode).toBe('UPSTREAM');
    expect((await open(env, vmId, 'GATEWAY')).access?.mode).toBe('GATEWAY');
    for (const mode of ['DIRECT', 'UPSTREAM', 'GATEWAY']) {
      const { access, error } = await open(env, vmId, mode);
      expect(access).toBeNull();
      expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 60 });
    }
  });
});
