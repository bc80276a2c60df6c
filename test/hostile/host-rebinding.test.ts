/**
 * DNS rebinding (issue 10, failure 5): with auth off on a loopback-bound gateway, a page on an
 * attacker's name re-pointed at 127.0.0.1 sends `Host: attacker.example` (and a matching Origin).
 * Every route that matters and every WebSocket path refuses it with 421 HOST_NOT_ALLOWED; the
 * gateway's own names (127.0.0.1, localhost on its port, publicUrl, server.allowedHosts) are served.
 * Browsers' requests to HTTP /graphql get the WebSocket Origin policy (scheme, host and port).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { heapUsed, rawRequest, rawUpgrade } from './peers/edge-http.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const VMS = JSON.stringify({ query: '{ vms { nodes { id name } } }' });
const codeOf = (body: string): unknown => {
  try {
    return JSON.parse(body).errors?.[0]?.extensions?.code;
  } catch {
    return body.trim();
  }
};

async function mintTicketUrl(e: TowerGateway): Promise<string> {
  const vms: any = await e.gql('{ vms { nodes { id } } }');
  const res: any = await e.gql(`{ consoleUrl(vmId: "${vms.data.vms.nodes[0].id}") }`);
  return res.data.consoleUrl as string;
}

describe('Host allowlist (DNS rebinding), auth off, bound to 127.0.0.1', () => {
  it('refuses a rebinding Host on /graphql POST and GET, /metrics, and the /graphql and /websockify upgrades; serves 127.0.0.1 meanwhile', async () => {
    env = await startTowerGateway();
    const port = Number(new URL(env.gateway.url).port);
    const evil = `attacker.example:${port}`;
    const evilOrigin = `http://attacker.example:${port}`;
    const consoleUrl = await mintTicketUrl(env);
    const ticketPath = new URL(consoleUrl).pathname + new URL(consoleUrl).search;
    const before = heapUsed();

    // Bounded burst of rebinding attempts on every surface, with a legitimate caller served in between.
    for (let round = 0; round < 20; round++) {
      const [post, get, metrics, gqlWs, console, legit] = await Promise.all([
        rawRequest({ port, path: '/graphql', method: 'POST', host: evil, origin: evilOrigin, body: VMS }),
        rawRequest({ port, path: `/graphql?query=${encodeURIComponent('{ vms { nodes { id } } }')}`, host: evil, origin: evilOrigin, headers: { 'apollo-require-preflight': '1' } }),
        rawRequest({ port, path: '/metrics', host: evil }),
        rawUpgrade({ port, path: '/graphql', host: evil, origin: evilOrigin, protocol: 'graphql-transport-ws' }),
        rawUpgrade({ port, path: ticketPath, host: evil, origin: evilOrigin, protocol: 'binary' }),
        rawRequest({ port, path: '/graphql', method: 'POST', host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, body: VMS }),
      ]);
      for (const refused of [post, get, metrics]) {
        expect(refused.status).toBe(421);
        expect(codeOf(refused.body)).toBe('HOST_NOT_ALLOWED');
        expect(refused.body).not.toContain('tower:');
      }
      expect(gqlWs).toEqual({ status: 421, body: 'HOST_NOT_ALLOWED\n' });
      expect(console).toEqual({ status: 421, body: 'HOST_NOT_ALLOWED\n' });
      expect(legit.status).toBe(200);
      expect(JSON.parse(legit.body).data.vms.nodes.length).toBeGreaterThan(0);
    }
    expect(heapUsed() - before).toBeLessThan(64 * 1024 * 1024);

    // The refused console upgrades did not spend the ticket: the real page still opens it, on its own names.
    expect((await rawUpgrade({ port, path: ticketPath, host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, protocol: 'binary' })).status).toBe(101);
    expect((await rawUpgrade({ port, path: '/graphql', host: `localhost:${port}`, origin: `http://localhost:${port}`, protocol: 'graphql-transport-ws' })).status).toBe(101);
    expect((await rawRequest({ port, path: '/graphql', method: 'POST', host: `[::1]:${port}`, body: VMS })).status).toBe(200);
    // localhost only on the bound port; probes answer any Host (kubelet sends the pod IP, others a name).
    expect((await rawRequest({ port, path: '/graphql', method: 'POST', host: `localhost:${port + 1}`, body: VMS })).status).toBe(421);
    expect((await rawRequest({ port, path: '/healthz', host: evil })).status).toBe(200);

    // The process is up, the refusals were logged and counted.
    expect((await env.gql('{ vms { nodes { id } } }')).errors).toBeUndefined();
    expect(env.logs.text()).toContain('host not allowed');
    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/requests_refused_total\{reason="HOST_NOT_ALLOWED",transport="http"\} 61/);
    expect(metrics).toMatch(/requests_refused_total\{reason="HOST_NOT_ALLOWED",transport="upgrade"\} 40/);
  });

  it('serves the publicUrl host (behind a load balancer) and server.allowedHosts; refuses other names', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, publicUrl: 'https://consoles.example/gw/', allowedHosts: ['gw.internal', 'ops.internal:8443'] } } });
    const port = Number(new URL(env.gateway.url).port);
    const ok = async (host: string, origin?: string) => (await rawRequest({ port, path: '/graphql', method: 'POST', host, body: VMS, ...(origin ? { origin } : {}) })).status;
    expect(await ok('consoles.example', 'https://consoles.example')).toBe(200);
    expect(await ok('consoles.example:443')).toBe(200);
    expect(await ok('gw.internal:4000')).toBe(200);
    expect(await ok('GW.INTERNAL')).toBe(200);
    expect(await ok('ops.internal:8443')).toBe(200);
    expect(await ok('ops.internal:8444')).toBe(421);
    expect(await ok('consoles.example.attacker.example')).toBe(421);
    expect(await ok('consoles.example:8080')).toBe(421);
    expect((await rawUpgrade({ port, path: '/graphql', host: 'consoles.example', origin: 'https://consoles.example', protocol: 'graphql-transport-ws' })).status).toBe(101);
    expect((await rawUpgrade({ port, path: '/graphql', host: 'evil.example', protocol: 'graphql-transport-ws' })).status).toBe(421);
  });

  it('allowedHosts: ["*"] opts out explicitly', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedHosts: ['*'] } } });
    expect((await rawRequest({ port: Number(new URL(env.gateway.url).port), path: '/graphql', method: 'POST', host: 'anything.example', body: VMS })).status).toBe(200);
  });
});

describe('Origin policy on HTTP /graphql and WebSockets: scheme, host and port', () => {
  it('refuses an Origin that differs by port or scheme with 403 ORIGIN_NOT_ALLOWED; same origin and no Origin are served', async () => {
    env = await startTowerGateway();
    const port = Number(new URL(env.gateway.url).port);
    const host = `127.0.0.1:${port}`;
    for (const origin of [`http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const post = await rawRequest({ port, path: '/graphql', method: 'POST', host, origin, body: VMS });
      expect(post.status).toBe(403);
      expect(codeOf(post.body)).toBe('ORIGIN_NOT_ALLOWED');
      expect(await rawUpgrade({ port, path: '/graphql', host, origin, protocol: 'graphql-transport-ws' })).toEqual({ status: 403, body: 'ORIGIN_NOT_ALLOWED\n' });
    }
    expect((await rawRequest({ port, path: '/graphql', method: 'POST', host, origin: `http://${host}`, body: VMS })).status).toBe(200);
    expect((await rawRequest({ port, path: '/graphql', method: 'POST', host, body: VMS })).status).toBe(200);
    // Apollo's CSRF prevention still applies to simple requests.
    const simpleGet = await rawRequest({ port, path: `/graphql?query=${encodeURIComponent('{ vms { nodes { id } } }')}`, host });
    expect(simpleGet.status).toBe(400);
    expect((await env.gql('{ vms { nodes { id } } }')).errors).toBeUndefined();
  });
});
