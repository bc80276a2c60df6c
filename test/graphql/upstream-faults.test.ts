import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CLOUDTOWER_USER } from '../../src/simulators/cloudtower/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const LIST = '{ vms(provider: "tower", first: 2) { nodes { id } } }';

function secretsIn(text: string, secrets: string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}

describe('upstream faults', () => {
  it('logs in once, reuses the token, and logs in again once after a 401', async () => {
    env = await startTowerGateway();
    for (let i = 0; i < 3; i++) expect((await env.gql(LIST)).errors).toBeUndefined();
    expect(env.sim.loginCount).toBe(1);
    env.sim.revokeTokens();
    expect((await env.gql(LIST)).errors).toBeUndefined();
    expect(env.sim.loginCount).toBe(2);
    const statuses = env.sim.requests.filter((r) => r.path === '/v2/api/get-vms').map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200, 401, 200]);
  });

  it('reports refused credentials as UPSTREAM_AUTH_FAILED without the password', async () => {
    env = await startTowerGateway({ provider: { password: 'wrong-password-value' } });
    const res = await env.gql(LIST);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED', provider: 'tower' });
    expect(secretsIn(JSON.stringify(res) + env.logs.text(), ['wrong-password-value'])).toEqual([]);
  });

  it('reports a refused API token as UPSTREAM_AUTH_FAILED', async () => {
    env = await startTowerGateway({ provider: { username: undefined, password: undefined, token: 'not-a-valid-api-key' } });
    const res = await env.gql(LIST);
    expect(res.errors?.[0]?.extensions?.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(JSON.stringify(res)).not.toContain('not-a-valid-api-key');
  });

  it('reports an unreachable upstream as UPSTREAM_UNAVAILABLE naming the provider', async () => {
    env = await startTowerGateway();
    const port = env.sim.port;
    await env.sim.close();
    const res = await env.gql(LIST);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'tower' });
    expect(res.errors?.[0]?.message).toContain('"tower"');
    expect(res.errors?.[0]?.message).not.toContain(String(port));
  });

  it('reports a hanging upstream as UPSTREAM_TIMEOUT once the request deadline passes', async () => {
    env = await startTowerGateway({ provider: { timeouts: { connectMs: 1_000, requestMs: 300 } } });
    expect((await env.gql(LIST)).errors).toBeUndefined(); // logged in
    env.sim.injectFault({ kind: 'hang', path: '/v2/api/get-vms' });
    const res = await env.gql(LIST);
    expect(res.errors?.[0]?.extensions?.code).toBe('UPSTREAM_TIMEOUT');
    expect(res.errors?.[0]?.message).toMatch(/did not finish .* within 300 ms \(timeouts.requestMs\)/);
  });

  it('reports garbage and error bodies as UPSTREAM_ERROR and keeps serving', async () => {
    env = await startTowerGateway();
    env.sim.injectFault({ kind: 'garbage', path: '/v2/api/get-vms' });
    const garbage = await env.gql(LIST);
    expect(garbage.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    env.sim.injectFault({ kind: 'error', status: 500, path: '/v2/api/get-vms' });
    const error = await env.gql(LIST);
    expect(error.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status: 500 });
    env.sim.injectFault({ kind: 'garbage', path: '/api' });
    const [vm] = env.sim.listVms();
    const vnc = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }', { id: `tower:${vm!.id}` });
    expect(vnc.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect((await env.gql(LIST)).errors).toBeUndefined();
  });

  it('never writes the upstream password, session token or console tokens to logs or error messages', async () => {
    env = await startTowerGateway();
    const [vm] = env.sim.listVms();
    const direct: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }', { id: `tower:${vm!.id}` });
    const rawToken = new URL(direct.data.consoleUrl).searchParams.get('token')!;
    const upstream: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: UPSTREAM) }', { id: `tower:${vm!.id}` });
    const towerToken = new URL(upstream.data.consoleUrl).searchParams.get('token')!;
    env.sim.injectFault({ kind: 'error', path: '/api' });
    await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }', { id: `tower:${vm!.id}` });
    const loginAnswer = await fetch(`${env.sim.url}/v2/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-language': 'en-US' },
      body: JSON.stringify({ ...DEFAULT_CLOUDTOWER_USER, source: 'LOCAL' }),
    }).then((r) => r.json() as Promise<{ data: { token: string } }>);
    expect(env.logs.lines.length).toBeGreaterThan(0);
    expect(secretsIn(env.logs.text(), [DEFAULT_CLOUDTOWER_USER.password, rawToken, towerToken, loginAnswer.data.token])).toEqual([]);
  });
});
