/**
 * OpenTelemetry tracing, end to end: a gateway process (`src/main.ts --config`) exporting OTLP/HTTP JSON
 * to an in-process receiver, against a CloudTower simulator that records the headers it receives.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { DEFAULT_CLOUDTOWER_USER, defaultCloudTowerVms, startCloudTowerSimulator, type CloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { newKey } from '../auth/helpers.js';
import { graphqlPost } from '../helpers/graphql.js';
import { mustOpen } from '../helpers/ws.js';
import WebSocket from 'ws';
import { spawnGateway, track, type GatewayProcess } from './child.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

/** The in-process OTLP receiver: every POST /v1/traces body, raw and parsed. */
class Receiver {
  readonly bodies: string[] = [];
  readonly spans: OtlpSpan[] = [];
  #waiters: Array<() => void> = [];
  readonly server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        this.bodies.push(body);
        const parsed = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
        for (const rs of parsed.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) this.spans.push(...(ss.spans ?? []));
        for (const w of this.#waiters.splice(0)) w();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });

  /** Resolves once `pick` finds something in the spans received so far (bounded by the test timeout). */
  async until<T>(pick: (spans: OtlpSpan[]) => T | undefined): Promise<T> {
    for (;;) {
      const found = pick(this.spans);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
}

const key = newKey();
const receiver = new Receiver();
let sim: CloudTowerSimulator;
let farm: ConsoleFarm;
let dir: string;
let gateway: GatewayProcess;
let url: string;
const vmId = `tower:${defaultCloudTowerVms()[0]!.id}`;

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', () => resolve()));
  const port = (receiver.server.address() as { port: number }).port;
  farm = new ConsoleFarm();
  const vms = defaultCloudTowerVms();
  for (const vm of vms) await farm.add(vm.id, { name: vm.name });
  sim = await startCloudTowerSimulator({ consoleFor: (vm) => farm.locate(vm.id), vms });
  dir = mkdtempSync(join(tmpdir(), 'cg-trace-'));
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    auth: { mode: 'apiKey', apiKeys: [{ name: 'alice', hash: key.hash }] },
    providers: [
      {
        name: 'tower',
        kind: 'cloudtower',
        url: sim.url,
        username: DEFAULT_CLOUDTOWER_USER.username,
        password: DEFAULT_CLOUDTOWER_USER.password,
        websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } },
      },
    ],
  };
  writeFileSync(join(dir, 'gateway.json'), JSON.stringify(config));
  gateway = spawnGateway(['--config', join(dir, 'gateway.json')], {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SERVICE_NAME: 'cg-under-test',
  });
  url = (await gateway.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/))[1]!;
}, 60_000);

afterAll(async () => {
  if (gateway && gateway.proc.exitCode === null && gateway.proc.signalCode === null) gateway.proc.kill('SIGKILL');
  await gateway?.exited;
  await sim?.close();
  await farm?.close();
  await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('OpenTelemetry tracing (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  it('one consoleUrl request is one trace, from the HTTP span to the upstream call, continued by CloudTower; the console session has its span; no secret is exported', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await graphqlPost(url, `query MintConsole { consoleUrl(vmId: "${vmId}") }`, {
      headers: { 'x-api-key': key.key, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const consoleUrl = (res.body.data as { consoleUrl: string }).consoleUrl;
    expect(consoleUrl).toContain('ticket=');
    const ticket = new URL(consoleUrl).searchParams.get('ticket')!;

    // The HTTP server span continues the caller's trace; the GraphQL operation and the upstream calls are in it.
    const server = await receiver.until((s) => s.find((x) => x.traceId === traceId && x.kind === 2));
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');
    const operation = await receiver.until((s) => s.find((x) => x.traceId === traceId && x.name === 'query MintConsole'));
    expect(operation.parentSpanId).toBe(server.spanId);
    expect(attr(operation, 'graphql.operation.type')).toBe('query');
    const upstream = await receiver.until((s) => {
      const calls = s.filter((x) => x.traceId === traceId && x.kind === 3 && String(attr(x, 'url.full') ?? '').startsWith(sim.url));
      return calls.length > 0 ? calls : undefined;
    });
    // Every upstream call of this request is in the trace, and CloudTower received that trace in `traceparent`.
    const towerTraces = sim.requests.map((r) => r.headers.traceparent).filter((h): h is string => typeof h === 'string');
    expect(towerTraces.length).toBeGreaterThan(0);
    for (const h of towerTraces) expect(h.split('-')[1]).toBe(traceId);
    for (const call of upstream) expect(call.spanId).not.toBe(server.spanId);
    expect(new Set(receiver.spans.filter((x) => x.traceId === traceId).map((x) => x.traceId)).size).toBe(1);

    // A console session: one span, safe attributes.
    const ws = await mustOpen(consoleUrl);
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.close(1000);
    const session = await receiver.until((s) => s.find((x) => x.name === 'console.session'));
    expect(attr(session, 'console.provider')).toBe('tower');
    expect(attr(session, 'console.close_code')).toBe(1000);
    expect(Number(attr(session, 'console.bytes_to_client'))).toBeGreaterThan(0);
    expect(String(attr(session, 'console.target'))).not.toContain('?');

    // No ticket, API key, upstream password or upstream query string in anything exported.
    const exported = receiver.bodies.join('\n');
    for (const secret of [ticket, key.key, DEFAULT_CLOUDTOWER_USER.password]) expect(exported).not.toContain(secret);
    expect(exported).not.toMatch(/[?&](ticket|token|password)=/i);
    expect(receiver.spans.flatMap((s) => (s.attributes ?? []).map((a) => a.key))).not.toContain('url.query');
    const resource = JSON.parse(receiver.bodies[0]!) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> } }> };
    expect(resource.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('cg-under-test');
  }, 60_000);

  it('a graphql-ws subscription gets a span of its own, with its type and name, ended when it completes', async () => {
    const t = track(new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-api-key': key.key } }));
    await t.opened;
    t.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect(JSON.parse((await t.nextMessage()).toString())).toMatchObject({ type: 'connection_ack' });
    t.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription WatchEvents { events { id } }' } }));
    t.ws.send(JSON.stringify({ id: '1', type: 'complete' }));
    const span = await receiver.until((s) => s.find((x) => x.name === 'subscription WatchEvents'));
    expect(attr(span, 'graphql.transport')).toBe('ws');
    expect(attr(span, 'graphql.operation.type')).toBe('subscription');
    t.ws.close(1000);
    await t.closed;
  }, 30_000);
});
