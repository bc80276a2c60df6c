/**
 * The CloudTower client parses each answer against its expected shape: a broken answer is an
 * UPSTREAM_ERROR naming the field, with no token or password in the message.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudTowerClient } from '../../../src/upstreams/cloudtower/client.js';
import { captureLogger } from '../../helpers/log-capture.js';

const PASSWORD = 'ct-answer-password-5521';
const TOWER_TOKEN = 'tower-token-SECRET-8812';
const RAW_TOKEN = 'raw-token-SECRET-8813';

/** Answers each path with a fixed JSON body (a stand-in for a CloudTower that changed or broke). */
async function serve(answers: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = answers[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { code: 'NotFound' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const GOOD_VM = { id: 'vm1', name: 'web-1', status: 'RUNNING', cluster: { id: 'c1', name: 'c' }, host: null, vcpu: 2, memory: 1024 };
const GOOD_VNC = { vm_uuid: 'u-1', host_ip: '127.0.0.1', cluster_ip: '127.0.0.1', raw_token: RAW_TOKEN, token: TOWER_TOKEN };

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function clientFor(answers: Record<string, unknown>) {
  const server = await serve({ '/v2/api/login': { data: { token: 'session-1' } }, ...answers });
  const logs = captureLogger();
  const client = new CloudTowerClient({
    name: 'tower',
    url: server.url,
    auth: { username: 'admin', password: PASSWORD, source: 'LOCAL' },
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 2_000,
    logger: logs.logger,
  });
  closers.push(() => client.close(), server.close);
  return { client, logs };
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

describe('CloudTower answers', () => {
  it('reads well-formed answers', async () => {
    const { client } = await clientFor({ '/v2/api/get-vms': [GOOD_VM], '/api': { data: { vnc: GOOD_VNC } } });
    expect(await client.getVms({})).toEqual([GOOD_VM]);
    expect(await client.vnc('vm1')).toEqual(GOOD_VNC);
  });

  it('reads a vnc answer with errors and no data as "no console" (null)', async () => {
    const { client } = await clientFor({ '/api': { data: null, errors: [{ message: 'VM not found' }] } });
    expect(await client.vnc('nope')).toBeNull();
  });

  it('refuses a login answer without a token, naming the field', async () => {
    const { client, logs } = await clientFor({ '/v2/api/login': { data: {} } });
    const err = await failure(client.getVms({}));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toBe('upstream "tower" returned an error: login answer is malformed at data.token (expected string)');
    expect(`${err.message}\n${logs.text()}`).not.toContain(PASSWORD);
  });

  it('refuses a VM list whose entries lack a name or carry a wrong type', async () => {
    const { client } = await clientFor({ '/v2/api/get-vms': [GOOD_VM, { ...GOOD_VM, name: 42 }] });
    expect((await failure(client.getVms({}))).message).toMatch(/get-vms answer is malformed at 1\.name \(expected string\)$/);
    const other = await clientFor({ '/v2/api/get-vms': { vms: [] } });
    expect((await failure(other.client.getVms({}))).message).toMatch(/get-vms answer is malformed at its top level \(expected array\)$/);
  });

  it('refuses a vnc answer missing a credential without echoing the ones it has', async () => {
    const { client, logs } = await clientFor({ '/api': { data: { vnc: { ...GOOD_VNC, raw_token: '' } } } });
    const err = await failure(client.vnc('vm1'));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toMatch(/vnc answer is malformed at data\.vnc\.raw_token \(empty\)$/);
    const seen = `${err.message}\n${logs.text()}`;
    expect(seen).not.toContain(TOWER_TOKEN);
    expect(seen).not.toContain(RAW_TOKEN);
  });

  it('refuses a vnc answer with neither data nor errors', async () => {
    const { client } = await clientFor({ '/api': {} });
    expect((await failure(client.vnc('vm1'))).message).toMatch(/vnc query returned neither data nor errors$/);
  });
});
