/**
 * The offline IDE: with introspection on (the embedded default), a browser navigating to /graphql
 * gets GraphiQL served from the installed package, and it works with every non-loopback request
 * blocked (no CDN). With introspection off there is no IDE page and no IDE assets.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startEmbedded, type RunningEmbedded } from '../../src/simulators/embedded.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startTowerGateway } from '../helpers/gateway.js';
import { CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR } from '../helpers/browser.js';

describe('GraphQL IDE', () => {
  it('is not served when server.introspection is false', async () => {
    const env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: false } } });
    try {
      const page = await fetch(`${env.gateway.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
      expect(await page.text()).not.toContain('graphiql');
      expect((await fetch(`${env.gateway.url}/graphiql/graphiql.min.js`)).status).toBe(404);
    } finally {
      await env.close();
    }
  });

  it('is served from the installed package when introspection is on, by name only', async () => {
    const env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: true } } });
    try {
      const page = await fetch(`${env.gateway.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/graphiql/graphiql.min.js');
      const script = await fetch(`${env.gateway.url}/graphiql/graphiql.min.js`);
      expect(script.status).toBe(200);
      await script.arrayBuffer();
      // Only the named files: nothing else of node_modules is reachable.
      expect((await fetch(`${env.gateway.url}/graphiql/package.json`)).status).toBe(404);
      // Clients asking for JSON still get GraphQL (here: Apollo's answer to a GET without a query).
      const json = await fetch(`${env.gateway.url}/graphql`, { headers: { accept: 'application/json' } });
      expect(json.headers.get('content-type') ?? '').not.toContain('text/html');
    } finally {
      await env.close();
    }
  });
});

let browser: Browser | undefined;
let embedded: RunningEmbedded | undefined;

describe.runIf(existsSync(CHROMIUM))('GraphiQL in Chromium, offline', () => {
  beforeAll(async () => {
    embedded = await startEmbedded({ logger: captureLogger('warn').logger, port: 0, drpEventEveryMs: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await embedded?.close();
  });

  it('loads the schema and runs a query with every non-loopback request blocked', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const blocked: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      blocked.push(url.href);
      return route.abort();
    });
    await page.goto(`${embedded!.url}/graphql`);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    // The schema loaded: the docs explorer lists the root types.
    await page.getByLabel('Show Documentation Explorer').click();
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.result-window').getByText('"nodes"').waitFor({ timeout: 15_000 });
    const result = await page.locator('.result-window').innerText();
    expect(result).toContain('db-primary');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/graphiql.png` });
    expect(blocked).toEqual([]);
    await page.close();
  }, 60_000);
});
