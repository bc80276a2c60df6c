/**
 * End to end in Chromium: a live console in noVNC is captured at a known moment (just after the
 * simulator's counter ticked), then its recording is played back in the playback page to the end
 * (the console was closed right after the capture) and the two canvases are compared.
 * Tolerance: at most 0.1 % of pixels may differ (in practice 0: the same noVNC decodes the same bytes).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { CHROMIUM, SCREENSHOT_DIR, canvasPixels, launchChromium } from '../helpers/browser.js';
import { listedRecordings } from '../helpers/recordings.js';

let browser: Browser | undefined;
let env: TowerGateway | undefined;
let dir = '';

describe.runIf(existsSync(CHROMIUM))('recording playback in Chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-rec-browser-'));
    env = await startTowerGateway({ config: { recording: { dir } } });
    browser = await launchChromium();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await env?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays a recording back to the moment a live console was captured, pixel for pixel', async () => {
    const vm = env!.sim.listVms().find((v) => v.name === 'web-01')!;
    const open: any = await env!.gql('mutation($id: ID!) { openConsole(vmId: $id) { url } }', { id: `tower:${vm.id}` });
    const consoleUrl = open.data.openConsole.url as string;

    // The live console: noVNC (the gateway's copy) in a page of the gateway's origin.
    const live = await browser!.newPage();
    await live.goto(`${env!.gateway.url}/healthz`);
    // A module script (not page.evaluate: the test runner rewrites `import()` inside functions it serialises).
    await live.addScriptTag({
      type: 'module',
      content: `
        import RFB from '/recordings/novnc/core/rfb.js';
        document.body.innerHTML = '<div id="screen" style="width:800px;height:600px"></div>';
        const rfb = new RFB(document.getElementById('screen'), ${JSON.stringify(consoleUrl)}, { wsProtocols: ['binary'] });
        window.rfb = rfb;
        rfb.addEventListener('connect', () => { window.connected = true; });
      `,
    });
    await live.waitForFunction(() => (window as any).connected === true, undefined, { timeout: 15_000 });
    // The known moment: just after the counter ticks (the canvas changes), well before the next tick
    // (1 s later), so no update is on its way when the page disconnects. On a machine too loaded to
    // take the picture within 400 ms of the tick, the next tick is waited for instead (at most 5).
    let captured: { width: number; height: number; data: number[]; png: string } | null = null;
    for (let attempt = 0; attempt < 5 && captured === null; attempt++) {
      await live.waitForFunction(() => {
        const c = document.querySelector('#screen canvas') as HTMLCanvasElement | null;
        if (!c || c.width < 100) return false;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 4 * 13) h = (h * 31 + d[i]! + d[i + 1]! * 7 + d[i + 2]! * 13) | 0;
        const w = window as any;
        const changed = w.lastHash !== undefined && w.lastHash !== h && w.painted;
        w.painted = true;
        w.lastHash = h;
        if (changed) w.changedAt = performance.now();
        return changed;
      }, undefined, { timeout: 15_000, polling: 20 });
      await live.waitForTimeout(150);
      // Pixels, picture and disconnect in one task: no update can land between them.
      captured = await live.evaluate(() => {
        const w = window as any;
        if (performance.now() - w.changedAt > 400) return null;
        const canvas = document.querySelector('#screen canvas') as HTMLCanvasElement;
        const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const picture = canvas.toDataURL('image/png');
        w.rfb.disconnect();
        return { width: d.width, height: d.height, data: Array.from(d.data), png: picture };
      });
    }
    expect(captured, 'the live picture was taken within 400 ms of a tick').not.toBeNull();
    const { png, ...liveShot } = captured!;
    writeFileSync(join(SCREENSHOT_DIR, 'recording-live.png'), Buffer.from(png.split(',')[1]!, 'base64'));
    await live.close();

    // The recording, found and played over the public interface.
    const node = (await listedRecordings(env!.gateway.url, (nodes) => nodes[0]?.state === 'COMPLETE'))[0]!;
    const player = await browser!.newPage();
    await player.goto(node.playbackUrl);
    await player.waitForSelector('body[data-player="ready"]', { timeout: 15_000 });
    expect(await player.locator('#position').textContent()).toMatch(/^0\.0 s \/ \d+\.\d s$/);
    // Play at 16x to the end (the live console closed right after the capture).
    await player.selectOption('#speed', '16');
    await player.click('#play');
    await player.waitForSelector('body[data-player="ended"]', { timeout: 30_000 });
    await player.waitForTimeout(200);
    const played = await canvasPixels(player, '#screen canvas');
    await player.screenshot({ path: join(SCREENSHOT_DIR, 'recording-playback.png') });
    expect(await player.locator('#position').textContent()).toMatch(/^(\d+\.\d) s \/ \1 s$/);

    expect([played.width, played.height]).toEqual([liveShot.width, liveShot.height]);
    let differing = 0;
    const box = { x0: Infinity, y0: Infinity, x1: -1, y1: -1, sample: '' };
    for (let i = 0; i < liveShot.data.length; i += 4) {
      if (liveShot.data[i] !== played.data[i] || liveShot.data[i + 1] !== played.data[i + 1] || liveShot.data[i + 2] !== played.data[i + 2]) {
        differing++;
        const x = (i / 4) % liveShot.width;
        const y = Math.floor(i / 4 / liveShot.width);
        box.x0 = Math.min(box.x0, x); box.y0 = Math.min(box.y0, y); box.x1 = Math.max(box.x1, x); box.y1 = Math.max(box.y1, y);
        box.sample ||= `${liveShot.data.slice(i, i + 4)} vs ${played.data.slice(i, i + 4)}`;
      }
    }
    if (differing > 0) console.log('differing pixels', differing, box);
    expect(differing / (liveShot.width * liveShot.height)).toBeLessThanOrEqual(0.001);
    // And the picture is a console, not two blank canvases.
    expect(new Set(liveShot.data.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(1);
    await player.close();
  }, 90_000);

  it('reports a truncated recording cleanly and plays what is there', async () => {
    const listed: any = await env!.gql('{ consoleRecordings { nodes { id playbackUrl } } }');
    const node = listed.data.consoleRecordings.nodes[0];
    const file = join(dir, `${node.id}.cgrec`);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    const player = await browser!.newPage();
    await player.goto(node.playbackUrl);
    await player.waitForSelector('body[data-player="ready"]', { timeout: 15_000 });
    expect(await player.locator('body').getAttribute('data-truncated')).toBe('true');
    expect(await player.locator('#status').textContent()).toContain('truncated');
    await player.close();
  }, 60_000);
});
