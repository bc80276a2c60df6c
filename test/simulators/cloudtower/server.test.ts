import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCloudTowerSimulator } from '../../../src/simulators/cloudtower/index.js';
import type { CloudTowerSimulator, CloudTowerSimulatorOptions } from '../../../src/simulators/cloudtower/index.js';

const GiB = 1024 ** 3;
const ID = {
  web01: 'clsim0vm000web01000000001',
  web02: 'clsim0vm000web02000000002',
  db: 'clsim0vm000db001000000003',
  win: 'clsim0vm000win01000000004',
  suspended: 'clsim0vm000test1000000005',
  archive: 'clsim0vm000old01000000006',
};

let sim: CloudTowerSimulator | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await sim?.close();
  sim = undefined;
});

async function start(options: CloudTowerSimulatorOptions = {}): Promise<CloudTowerSimulator> {
  sim = await startCloudTowerSimulator(options);
  return sim;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

async function post(
  s: CloudTowerSimulator,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Reply> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-language': 'en-US', ...headers },
    body: JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

async function login(s: CloudTowerSimulator): Promise<string> {
  const reply = await post(s, '/v2/api/login', { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' });
  expect(reply.status).toBe(200);
  return reply.json().data.token as string;
}

async function getVmIds(s: CloudTowerSimulator, token: string, body: unknown): Promise<string[]> {
  const reply = await post(s, '/v2/api/get-vms', body, { authorization: token });
  expect(reply.status, reply.text).toBe(200);
  return (reply.json() as { id: string }[]).map((vm) => vm.id);
}

describe('CloudTower simulator: login and auth', () => {
  it('logs in and answers in the {task_id, data: {token}} envelope', async () => {
    const s = await start();
    const reply = await post(s, '/v2/api/login', { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' });
    expect(reply.status).toBe(200);
    const body = reply.json();
    expect(body.task_id).toBeNull();
    expect(typeof body.data.token).toBe('string');
    expect(body.data.token.length).toBeGreaterThan(20);
    expect(s.loginCount).toBe(1);
    expect(reply.headers.get('x-tower-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a wrong password with 401 and a REST error body that does not echo the password', async () => {
    const s = await start();
    const reply = await post(s, '/v2/api/login', { username: 'admin', password: 'wrong-secret', source: 'LOCAL' });
    expect(reply.status).toBe(401);
    const body = reply.json();
    expect(body).toEqual({ path: '/login', status: 401, message: expect.any(String), code: 'LoginFailed', props: {} });
    expect(reply.text).not.toContain('wrong-secret');
    expect(s.loginCount).toBe(0);
  });

  it('refuses an unknown source with 400, and a user logging in with another source', async () => {
    const s = await start({ users: [{ username: 'ldapuser', password: 'pw', source: 'LDAP' }] });
    const bad = await post(s, '/v2/api/login', { username: 'ldapuser', password: 'pw', source: 'KERBEROS' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ path: '/login', status: 400, code: 'InvalidInput' });
    const wrongSource = await post(s, '/v2/api/login', { username: 'ldapuser', password: 'pw', source: 'LOCAL' });
    expect(wrongSource.status).toBe(401);
    const ok = await post(s, '/v2/api/login', { username: 'ldapuser', password: 'pw', source: 'LDAP' });
    expect(ok.status).toBe(200);
  });

  it('checks content-language: zh-CN, en-US and * pass, anything else is 400', async () => {
    const s = await start();
    const body = { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' };
    for (const language of ['zh-CN', 'en-US', '*']) {
      expect((await post(s, '/v2/api/login', body, { 'content-language': language })).status).toBe(200);
    }
    const bad = await post(s, '/v2/api/login', body, { 'content-language': 'fr-FR' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ status: 400, code: 'InvalidContentLanguage' });
  });

  it('answers 401 without a token, with a bad token, and with Bearer in front of a good one', async () => {
    const s = await start();
    const token = await login(s);
    const attempts: Record<string, string>[] = [{}, { authorization: 'not-a-token' }, { authorization: `Bearer ${token}` }];
    for (const headers of attempts) {
      const reply = await post(s, '/v2/api/get-vms', {}, headers);
      expect(reply.status).toBe(401);
      expect(reply.json()).toEqual({ path: '/get-vms', status: 401, message: expect.any(String), code: 'Unauthorized', props: {} });
    }
    const graphql = await post(s, '/api', { query: '{ __typename }' });
    expect(graphql.status).toBe(401);
  });

  it('revokeTokens makes issued tokens 401 until the client logs in again; API keys survive', async () => {
    const s = await start({ apiKeys: ['key-123'] });
    const token = await login(s);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(200);
    s.revokeTokens();
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(401);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: 'key-123' })).status).toBe(200);
    const fresh = await login(s);
    expect(fresh).not.toBe(token);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: fresh })).status).toBe(200);
    expect(s.loginCount).toBe(2);
  });

  it('answers 404 for an unknown endpoint and 400 for a body that is not JSON', async () => {
    const s = await start();
    const token = await login(s);
    expect((await post(s, '/v2/api/get-nothing', {}, { authorization: token })).status).toBe(404);
    const res = await fetch(`${s.url}/v2/api/get-vms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ path: '/get-vms', code: 'InvalidInput' });
  });

  it('logs requests with their parsed bodies, without the Authorization value or the login password', async () => {
    const s = await start();
    const token = await login(s);
    expect(s.requests[0]?.body).toEqual({ username: 'admin', password: '[redacted]', source: 'LOCAL' });
    await post(s, '/v2/api/get-vms', { where: { name: 'web-01' }, first: 1 }, { authorization: token });
    const last = s.requests.at(-1);
    expect(last).toMatchObject({ method: 'POST', path: '/v2/api/get-vms', body: { where: { name: 'web-01' }, first: 1 }, status: 200 });
    expect(last?.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(s.requests)).not.toContain(token);
    expect(JSON.stringify(s.requests)).not.toContain('HC!r0cks');
  });
});

describe('CloudTower simulator: get-vms where engine', () => {
  it('returns the VM objects in the API shape', async () => {
    const s = await start();
    const token = await login(s);
    const reply = await post(s, '/v2/api/get-vms', { where: { id: ID.db } }, { authorization: token });
    expect(reply.headers.get('x-tower-request-id')).toBeTruthy();
    expect(reply.json()).toEqual([
      {
        id: ID.db,
        local_id: '6a1f2c3e-0003-4a5b-8c9d-000000000003',
        name: 'db-primary',
        status: 'RUNNING',
        description: 'PostgreSQL primary',
        cluster: { id: 'clsim0cluster0a0000000001', name: 'cluster-a' },
        host: { id: 'clsim0host0a1000000000001', name: 'node-a1', management_ip: '127.0.0.11' },
        vcpu: 8,
        cpu: { cores: 4, sockets: 2 },
        memory: 32 * GiB,
        ips: '198.51.100.21,198.51.100.22',
        node_ip: '127.0.0.11',
        guest_os_type: 'LINUX',
        in_recycle_bin: false,
        labels: [],
      },
    ]);
  });

  const cases: [string, unknown, string[]][] = [
    ['no filter (store order)', {}, [ID.web01, ID.web02, ID.db, ID.win, ID.suspended, ID.archive]],
    ['equality', { where: { name: 'web-01' } }, [ID.web01]],
    ['_not', { where: { status_not: 'RUNNING' } }, [ID.win, ID.suspended, ID.archive]],
    ['_in', { where: { status_in: ['STOPPED', 'SUSPENDED'] } }, [ID.win, ID.suspended, ID.archive]],
    ['_not_in', { where: { name_not_in: ['web-01', 'web-02', 'db-primary'] } }, [ID.win, ID.suspended, ID.archive]],
    ['_contains', { where: { name_contains: 'web' } }, [ID.web01, ID.web02]],
    ['_starts_with', { where: { name_starts_with: 'w' } }, [ID.web01, ID.web02, ID.win]],
    ['_ends_with', { where: { name_ends_with: '-02' } }, [ID.web02]],
    ['boolean equality', { where: { in_recycle_bin: true } }, [ID.archive]],
    ['cluster relation', { where: { cluster: { name: 'cluster-b' } } }, [ID.win, ID.suspended, ID.archive]],
    ['host relation', { where: { host: { name_in: ['node-a1'] } } }, [ID.web01, ID.db]],
    ['_gt on memory', { where: { memory_gt: 4 * GiB } }, [ID.db, ID.win]],
    ['_gte on memory', { where: { memory_gte: 4 * GiB } }, [ID.web01, ID.web02, ID.db, ID.win]],
    ['_lt on vcpu', { where: { vcpu_lt: 2 } }, [ID.suspended, ID.archive]],
    ['AND', { where: { AND: [{ cluster: { name: 'cluster-a' } }, { memory_gt: 4 * GiB }] } }, [ID.db]],
    ['OR', { where: { OR: [{ name: 'web-01' }, { status: 'SUSPENDED' }] } }, [ID.web01, ID.suspended]],
    ['NOT: none of them', { where: { NOT: [{ cluster: { name: 'cluster-a' } }, { in_recycle_bin: true }] } }, [ID.win, ID.suspended]],
    ['orderBy name_ASC', { orderBy: 'name_ASC' }, [ID.db, ID.archive, ID.suspended, ID.web01, ID.web02, ID.win]],
    ['orderBy name_DESC', { orderBy: 'name_DESC' }, [ID.win, ID.web02, ID.web01, ID.suspended, ID.archive, ID.db]],
    ['orderBy memory_DESC keeps store order on ties', { orderBy: 'memory_DESC' }, [ID.db, ID.win, ID.web01, ID.web02, ID.suspended, ID.archive]],
    ['skip/first after orderBy', { orderBy: 'name_ASC', skip: 2, first: 2 }, [ID.suspended, ID.web01]],
    ['first only', { first: 1 }, [ID.web01]],
    ['skip past the end', { skip: 10, first: 5 }, []],
    ['filter + order + page', { where: { status: 'RUNNING' }, orderBy: 'name_DESC', skip: 1, first: 5 }, [ID.web01, ID.db]],
    ['after cursor', { orderBy: 'name_ASC', after: ID.suspended, first: 2 }, [ID.web01, ID.web02]],
    ['last', { orderBy: 'name_ASC', last: 2 }, [ID.web02, ID.win]],
  ];
  it.each(cases)('%s', async (_label, body, expected) => {
    const s = await start();
    const token = await login(s);
    expect(await getVmIds(s, token, body)).toEqual(expected);
  });

  it.each([
    ['unknown field', { where: { nmae: 'x' } }],
    ['unknown relation field', { where: { cluster: { nme: 'x' } } }],
    ['unsupported operator for a boolean', { where: { in_recycle_bin_gt: true } }],
    ['wrong value type', { where: { memory_gt: 'lots' } }],
    ['_in without a list', { where: { status_in: 'RUNNING' } }],
    ['unknown enum value', { where: { status: 'FLYING' } }],
    ['bad orderBy', { orderBy: 'name_SIDEWAYS' }],
    ['negative first', { first: -1 }],
  ])('refuses %s with a 400 REST error', async (_label, body) => {
    const s = await start();
    const token = await login(s);
    const reply = await post(s, '/v2/api/get-vms', body, { authorization: token });
    expect(reply.status).toBe(400);
    expect(reply.json()).toEqual({ path: '/get-vms', status: 400, message: expect.any(String), code: 'InvalidInput', props: {} });
  });

  it('counts with get-vms-connection, honouring where', async () => {
    const s = await start();
    const token = await login(s);
    const all = await post(s, '/v2/api/get-vms-connection', {}, { authorization: token });
    expect(all.json()).toEqual({ aggregate: { count: 6 } });
    const clusterA = await post(s, '/v2/api/get-vms-connection', { where: { cluster: { name: 'cluster-a' } } }, { authorization: token });
    expect(clusterA.json()).toEqual({ aggregate: { count: 3 } });
    const bad = await post(s, '/v2/api/get-vms-connection', { where: { bogus: 1 } }, { authorization: token });
    expect(bad.status).toBe(400);
  });

  it('reflects addVm, removeVm and setVmStatus', async () => {
    const s = await start();
    const token = await login(s);
    const added = s.addVm({ name: 'new-vm', status: 'STOPPED' });
    expect(added.id).toMatch(/^c[0-9a-z]{24}$/);
    expect(added.local_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await getVmIds(s, token, { where: { name: 'new-vm' } })).toEqual([added.id]);
    s.setVmStatus(ID.web01, 'STOPPED');
    expect(await getVmIds(s, token, { where: { status: 'STOPPED' } })).toEqual([ID.web01, ID.win, ID.archive, added.id]);
    expect(s.removeVm(ID.win)).toBe(true);
    expect(s.removeVm(ID.win)).toBe(false);
    expect((await post(s, '/v2/api/get-vms-connection', {}, { authorization: token })).json()).toEqual({ aggregate: { count: 6 } });
    expect(() => s.setVmStatus('nope', 'RUNNING')).toThrow();
  });
});

describe('CloudTower simulator: faults and latency', () => {
  it('error fault: the next request is a 500 with a REST error body, then service resumes', async () => {
    const s = await start();
    const token = await login(s);
    s.injectFault({ kind: 'error' });
    const failed = await post(s, '/v2/api/get-vms', {}, { authorization: token });
    expect(failed.status).toBe(500);
    expect(failed.json()).toEqual({ path: '/get-vms', status: 500, message: 'injected fault', code: 'InternalServerError', props: {} });
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(200);
  });

  it('path-scoped faults with a count and a custom status leave other paths alone', async () => {
    const s = await start();
    const token = await login(s);
    s.injectFault({ kind: 'error', path: '/v2/api/get-vms', times: 2, status: 503 });
    expect((await post(s, '/v2/api/get-vms-connection', {}, { authorization: token })).status).toBe(200);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(503);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(503);
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(200);
  });

  it('faults with times: Infinity last until clearFaults', async () => {
    const s = await start();
    s.injectFault({ kind: 'error', path: '/v2/api/login', times: Infinity });
    for (let i = 0; i < 3; i++) {
      expect((await post(s, '/v2/api/login', { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' })).status).toBe(500);
    }
    s.clearFaults();
    await login(s);
  });

  it('garbage fault: 200 with a body that is not JSON', async () => {
    const s = await start();
    const token = await login(s);
    s.injectFault({ kind: 'garbage' });
    const reply = await post(s, '/v2/api/get-vms', {}, { authorization: token });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('application/json');
    expect(() => JSON.parse(reply.text)).toThrow();
  });

  it('hang fault: the request is read but never answered until the client gives up', async () => {
    const s = await start();
    const token = await login(s);
    s.injectFault({ kind: 'hang' });
    const arrived = s.waitForRequest((entry) => entry.path === '/v2/api/get-vms');
    const abort = new AbortController();
    const pending = post(s, '/v2/api/get-vms', { first: 1 }, { authorization: token }, abort.signal);
    const entry = await arrived;
    expect(entry.status).toBeNull();
    abort.abort();
    await expect(pending).rejects.toThrow();
    expect(entry.status).toBeNull();
    expect((await post(s, '/v2/api/get-vms', {}, { authorization: token })).status).toBe(200);
  });

  it('close() ends a hung request', async () => {
    const s = await start();
    s.injectFault({ kind: 'hang' });
    const arrived = s.waitForRequest();
    const pending = post(s, '/v2/api/login', { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' });
    await arrived;
    await s.close();
    await expect(pending).rejects.toThrow();
  });

  it('latencyMs holds every answer for that long (fake timers)', async () => {
    const s = await start({ latencyMs: 1000 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const arrived = s.waitForRequest();
    const pending = post(s, '/v2/api/login', { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' });
    const entry = await arrived;
    expect(entry.status).toBeNull();
    await vi.advanceTimersByTimeAsync(999);
    expect(entry.status).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(entry.status).toBe(200);
    expect((await pending).status).toBe(200);
  });
});
