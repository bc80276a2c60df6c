/**
 * A frontend on another origin, in Chromium: a page served by a second loopback server (another
 * port, so another origin) runs the README's noVNC snippet (examples/novnc.js): openConsole over
 * cross-origin fetch, then noVNC on the gateway's console URL, and the canvas shows the VM's
 * framebuffer. The react-vnc snippet's props (examples/vnc-screen-props.js) are handed to noVNC the
 * way react-vnc's VncScreen does (`new RFB(element, url, rfbOptions)`). From an origin not on
 * server.allowedOrigins the same call fails in the page with a CORS error.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR } from '../helpers/browser.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const NOVNC = dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>frontend on another origin</title>
<script type="importmap">{ "imports": { "@novnc/novnc": "/novnc/core/rfb.js" } }</script>
<style>#screen { width: 800px; height: 600px; }</style></head>
<body><div id="screen"></div>
<script type="module">
  import { showConsole } from '/examples/novnc.js';
  import { vncScreenProps } from '/examples/vnc-screen-props.js';
  import RFB from '@novnc/novnc';
  window.showConsole = showConsole;
  window.vncScreenProps = vncScreenProps;
  window.RFB = RFB;
  document.body.dataset.ready = 'yes';
</script></body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html' };

/** A static server for the page, the example files and noVNC's ES modules; nothing else. */
async function startPageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (root: string, rel: string): void => {
      const file = normalize(join(root, rel));
      if (!file.startsWith(root) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    };
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else if (path.startsWith('/examples/') && path.endsWith('.js')) send(EXAMPLES, path.slice('/examples/'.length));
    else if (path.startsWith('/novnc/')) send(NOVNC, path.slice('/novnc/'.length));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let browser: Browser | undefined;
let env: TowerGateway | undefined;
let allowed: { server: Server; origin: string } | undefined;
let other: { server: Server; origin: string } | undefined;

describe.runIf(existsSync(CHROMIUM))('a frontend on another origin, in Chromium', () => {
  beforeAll(async () => {
    allowed = await startPageServer();
    other = await startPageServer();
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [allowed.origin] } } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await env?.close();
    for (const s of [allowed, other]) await new Promise((r) => s?.server.close(r));
  });

  async function openPage(origin: string): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 820, height: 640 } });
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-ready="yes"]');
    return page;
  }

  it('opens a console with the noVNC snippet from an allowed origin: CORS fetch, then the framebuffer', async () => {
    const vm = env!.sim.listVms().find((v) => v.name === 'db-primary')!;
    const page = await openPage(allowed!.origin);
    await page.evaluate(
      async ({ gatewayUrl, vmId }) => {
        const w = window as any;
        const rfb = await w.showConsole(document.getElementById('screen'), gatewayUrl, vmId);
        await new Promise((resolve, reject) => {
          rfb.addEventListener('connect', resolve);
          rfb.addEventListener('disconnect', () => reject(new Error('disconnected')));
        });
      },
      { gatewayUrl: env!.gateway.url, vmId: `tower:${vm.id}` },
    );
    expect(await framebufferColours(page)).toBeGreaterThan(1);
    expect(env!.consoles.server(vm.id)!.connectionCount).toBeGreaterThanOrEqual(1);
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/cross-origin-novnc.png` });
    await page.close();
  }, 60_000);

  it("hands the react-vnc snippet's props (url, rfbOptions) to noVNC the way VncScreen does, and it connects", async () => {
    const vm = env!.sim.listVms().find((v) => v.name === 'db-primary')!;
    const page = await openPage(allowed!.origin);
    const props = await page.evaluate(
      async ({ gatewayUrl, vmId }) => {
        const w = window as any;
        const res = await fetch(`${gatewayUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'mutation ($vmId: ID!) { openConsole(vmId: $vmId) { url protocols } }', variables: { vmId } }),
        });
        const access = (await res.json()).data.openConsole;
        const p = w.vncScreenProps(access);
        // react-vnc's VncScreen: new RFB(screen, url, rfbOptions).
        const rfb = new w.RFB(document.getElementById('screen'), p.url, p.rfbOptions);
        await new Promise((resolve, reject) => {
          rfb.addEventListener('connect', resolve);
          rfb.addEventListener('disconnect', () => reject(new Error('disconnected')));
        });
        return p;
      },
      { gatewayUrl: env!.gateway.url, vmId: `tower:${vm.id}` },
    );
    expect(props.rfbOptions).toEqual({ wsProtocols: ['binary'] });
    expect(await framebufferColours(page)).toBeGreaterThan(1);
    await page.close();
  }, 60_000);

  it('refuses the same call from an origin not on server.allowedOrigins: the page sees a CORS failure', async () => {
    const vm = env!.sim.listVms()[0]!;
    const page = await openPage(other!.origin);
    const consoleMessages: string[] = [];
    page.on('console', (m) => consoleMessages.push(m.text()));
    const outcome = await page.evaluate(
      async ({ gatewayUrl, vmId }) => {
        try {
          await (window as any).showConsole(document.getElementById('screen'), gatewayUrl, vmId);
          return 'opened';
        } catch (err) {
          return `${(err as Error).name}: ${(err as Error).message}`;
        }
      },
      { gatewayUrl: env!.gateway.url, vmId: `tower:${vm.id}` },
    );
    // fetch rejects with a TypeError, and the only way a page learns why is the console's CORS message.
    expect(outcome).toMatch(/^TypeError: Failed to fetch/);
    await expect.poll(() => consoleMessages.join('\n'), { timeout: 5_000 }).toContain('CORS policy');
    expect(env!.logs.text()).toContain('HTTP request refused: origin not allowed');
    await page.close();
  }, 60_000);
});

/** Waits until the noVNC canvas shows more than one colour (the framebuffer was painted); returns how many. */
async function framebufferColours(page: Page): Promise<number> {
  const distinct = await page.waitForFunction(
    () => {
      const canvas = document.querySelector('#screen canvas') as HTMLCanvasElement | null;
      if (!canvas || canvas.width < 100) return 0;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Set<number>();
      for (let i = 0; i < data.length; i += 4 * 7) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      return colours.size > 1 ? colours.size : 0;
    },
    undefined,
    { timeout: 15_000 },
  );
  return distinct.jsonValue();
}
