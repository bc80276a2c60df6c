/**
 * End to end: the demo page in headless Chromium lists VMs over GraphQL, asks for a console URL and
 * shows the simulated VM's framebuffer with noVNC, talking to the gateway only.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startEmbedded, type RunningEmbedded } from '../../src/simulators/embedded.js';
import { captureLogger } from '../helpers/log-capture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser: Browser | undefined;
let embedded: RunningEmbedded | undefined;

// Skipped, not failed, where Debian's chromium is not installed (.ci/run installs it).
describe.runIf(existsSync(CHROMIUM))('demo page in Chromium', () => {
  beforeAll(async () => {
    embedded = await startEmbedded({ logger: captureLogger('warn').logger, port: 0, drpEventEveryMs: 0 });
    // playwright gives each launch a fresh, empty profile directory of its own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await embedded?.close();
  });

  it('opens a live console of the chosen VM through the gateway', async () => {
    const page = await browser!.newPage();
    const hosts = new Set<string>();
    page.on('request', (r) => hosts.add(new URL(r.url()).host));
    page.on('websocket', (ws) => hosts.add(new URL(ws.url()).host));
    await page.goto(`${embedded!.url}/`);
    await page.waitForSelector('#vms tr');
    const rows = await page.locator('#vms tr').count();
    const abiquoVms = embedded!.abiquo.snapshot().reduce((n, e) => n + e.vms.length, 0);
    expect(rows).toBe(embedded!.cloudTower.listVms().length + abiquoVms);

    await page.locator('#vms tr', { hasText: 'db-primary' }).locator('button').click();
    await page.waitForSelector('body[data-console="connected"]', { timeout: 15_000 });
    // Wait for the framebuffer to be painted: the canvas stops being uniformly one colour.
    expect(await framebufferColours(page)).toBeGreaterThan(1);
    const server = embedded!.consoles.server(`tower/${embedded!.cloudTower.listVms().find((v) => v.name === 'db-primary')!.id}`)!;
    expect(server.connectionCount).toBe(1);
    expect(await page.locator('#console-title').textContent()).toContain('db-primary: connected');
    // The browser talked to the gateway only.
    expect([...hosts]).toEqual([new URL(embedded!.url).host]);
    await page.close();
  }, 60_000);

  it('opens a password-protected Abiquo console with no password typed in the browser', async () => {
    const page = await browser!.newPage();
    await page.goto(`${embedded!.url}/`);
    await page.waitForSelector('#vms tr');
    await page.locator('#vms tr', { hasText: 'web-1' }).filter({ hasText: 'abiquo' }).locator('button').click();
    await page.waitForSelector('body[data-console="connected"]', { timeout: 15_000 });
    expect(await framebufferColours(page)).toBeGreaterThan(1);
    expect(await page.locator('#console-title').textContent()).toContain('web-1: connected');
    expect(embedded!.consoles.server('abiquo/1/1')!.connectionCount).toBe(1);
    await page.close();
  }, 60_000);
});

/** Waits until the noVNC canvas shows more than one colour (the framebuffer was painted); returns how many. */
async function framebufferColours(page: import('playwright-core').Page): Promise<number> {
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
