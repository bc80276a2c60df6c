import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultCloudTowerVms,
  makeSimulatedVm,
  randomTowerToken,
  startCloudTowerSimulator,
} from '../../../src/simulators/cloudtower/index.js';
import type { CloudTowerSimulator, CloudTowerSimulatorOptions } from '../../../src/simulators/cloudtower/index.js';

const WEB01 = { id: 'clsim0vm000web01000000001', local_id: '6a1f2c3e-0001-4a5b-8c9d-000000000001' };
// The query text of seed 000, as a client sends it.
const VNC_QUERY = 'query vnc($input: VncInput!) { vnc(input: $input) { vm_uuid host_ip cluster_ip raw_token token}}';

let sim: CloudTowerSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: CloudTowerSimulatorOptions = {}): Promise<{ s: CloudTowerSimulator; token: string }> {
  const s = await startCloudTowerSimulator(options);
  sim = s;
  const res = await fetch(`${s.url}/v2/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-language': 'en-US' },
    body: JSON.stringify({ username: 'admin', password: 'HC!r0cks', source: 'LOCAL' }),
  });
  const body = (await res.json()) as { data: { token: string } };
  return { s, token: body.data.token };
}

async function postJson(s: CloudTowerSimulator, path: string, token: string, body: unknown): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-language': 'en-US', authorization: token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

function vncRequest(vm: Record<string, string>): unknown {
  return { operationName: 'vnc', variables: { input: { vm } }, query: VNC_QUERY };
}

describe('CloudTower simulator: vnc over GraphQL', () => {
  it('answers the seed query for a known VM with well-formed credentials', async () => {
    const { s, token } = await start();
    const reply = await postJson(s, '/api', token, vncRequest({ id: WEB01.id }));
    expect(reply.status).toBe(200);
    const vnc = reply.json.data.vnc;
    expect(Object.keys(vnc)).toEqual(['vm_uuid', 'host_ip', 'cluster_ip', 'raw_token', 'token']);
    expect(vnc.vm_uuid).toBe(WEB01.local_id);
    expect(vnc.cluster_ip).toBe('127.0.0.1');
    expect(vnc.host_ip).toBe('127.0.0.1');
    expect(vnc.raw_token).toMatch(/^[0-9a-f]{32}$/);
    expect(vnc.token).toMatch(/^[A-Za-z0-9+/]+={1,2}$/);
    expect(vnc.token).toContain('+');
    expect(vnc.token).toContain('/');
    expect(vnc.token).toContain('=');
    expect(Buffer.from(vnc.token, 'base64').subarray(0, 8).toString('latin1')).toBe('Salted__');
  });

  it('issues fresh credentials on every answer, also when asked by local_id', async () => {
    const { s, token } = await start();
    const first = (await postJson(s, '/api', token, vncRequest({ id: WEB01.id }))).json.data.vnc;
    const second = (await postJson(s, '/api', token, vncRequest({ local_id: WEB01.local_id }))).json.data.vnc;
    expect(second.vm_uuid).toBe(WEB01.local_id);
    expect(second.raw_token).not.toBe(first.raw_token);
    expect(second.token).not.toBe(first.token);
  });

  it('always makes tokens holding +, / and = (so URL encoding is exercised)', () => {
    for (let i = 0; i < 500; i++) {
      const token = randomTowerToken();
      expect(token).toContain('+');
      expect(token).toContain('/');
      expect(token.endsWith('==')).toBe(true);
      expect(Buffer.from(token, 'base64')).toHaveLength(64);
    }
  });

  it('answers an unknown VM with {errors:[{message}], data:null}', async () => {
    const { s, token } = await start();
    const reply = await postJson(s, '/api', token, vncRequest({ id: 'cnosuchvm000000000000000' }));
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ errors: [{ message: expect.any(String) }], data: null });
  });

  it('refuses a malformed query and a query for a field the schema lacks with 400', async () => {
    const { s, token } = await start();
    expect((await postJson(s, '/api', token, { query: 'query { vnc(' })).status).toBe(400);
    const unknownField = await postJson(s, '/api', token, { query: '{ vms { id } }' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.errors[0].message).toContain('vms');
    const missingVariables = await postJson(s, '/api', token, { query: VNC_QUERY, operationName: 'vnc' });
    expect(missingVariables.status).toBe(400);
  });

  it('reproduces the seed worked example byte for byte with a pinned VM', async () => {
    const pinned = makeSimulatedVm({
      id: 'clsim0vm000seed0000000000',
      local_id: '00000000-0000-0000-0000-000000000000',
      name: 'seed-example',
      vnc: {
        raw_token: '1a2bc3d4567e89f0a1b2c3d4e5f6a7b8',
        token: 'MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=',
        cluster_ip: '192.168.5.2',
        host_ip: '192.168.5.4',
      },
    });
    const { s, token } = await start({ vms: [...defaultCloudTowerVms(), pinned] });
    const reply = await postJson(s, '/api', token, vncRequest({ id: pinned.id }));
    expect(reply.text).toBe(
      '{"data":{"vnc":{"vm_uuid":"00000000-0000-0000-0000-000000000000","host_ip":"192.168.5.4",' +
        '"cluster_ip":"192.168.5.2","raw_token":"1a2bc3d4567e89f0a1b2c3d4e5f6a7b8",' +
        '"token":"MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="}}}',
    );
    const vnc = reply.json.data.vnc;
    expect(`wss://${vnc.cluster_ip}/websockify/?uuid=${vnc.vm_uuid}&token=${vnc.raw_token}&host=${vnc.host_ip}`).toBe(
      'wss://192.168.5.2/websockify/?uuid=00000000-0000-0000-0000-000000000000&token=1a2bc3d4567e89f0a1b2c3d4e5f6a7b8&host=192.168.5.4',
    );
    expect(encodeURIComponent(vnc.token)).toBe('MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo%3D');
  });
});

describe('CloudTower simulator: get-vm-vnc-info (REST twin)', () => {
  it('answers in the {task_id, data} envelope, by id or local_id', async () => {
    const { s, token } = await start();
    const byId = await postJson(s, '/v2/api/get-vm-vnc-info', token, { vm: { id: WEB01.id } });
    expect(byId.status).toBe(200);
    expect(byId.json.task_id).toBeNull();
    expect(byId.json.data).toMatchObject({ vm_uuid: WEB01.local_id, cluster_ip: '127.0.0.1', host_ip: '127.0.0.1' });
    expect(byId.json.data.raw_token).toMatch(/^[0-9a-f]{32}$/);
    const byLocalId = await postJson(s, '/v2/api/get-vm-vnc-info', token, { vm: { local_id: WEB01.local_id } });
    expect(byLocalId.json.data.vm_uuid).toBe(WEB01.local_id);
  });

  it('answers 404 for an unknown VM and for id/local_id naming different VMs', async () => {
    const { s, token } = await start();
    const unknown = await postJson(s, '/v2/api/get-vm-vnc-info', token, { vm: { id: 'cnosuchvm000000000000000' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ path: '/get-vm-vnc-info', status: 404, code: 'NotFound' });
    const mismatch = await postJson(s, '/v2/api/get-vm-vnc-info', token, {
      vm: { id: WEB01.id, local_id: '6a1f2c3e-0002-4a5b-8c9d-000000000002' },
    });
    expect(mismatch.status).toBe(404);
  });
});
