/**
 * The demo page in Chromium, with recording on: the recordings pane follows consoles as they open and
 * close (no reload), its link plays the recording in the playback page, and fullscreen takes the
 * console (title, toolbar, picture) to the whole screen with noVNC scaling the picture to it.
 * Screenshots land in SCREENSHOT_DIR for a person to look at.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, SCREENSHOT_DIR, canvasPixels, launchChromium, samePixelShare, waitForPictureChanges } from '../helpers/browser.js';
import { recordConsoleInDemo, startRecordingDemo, type RecordingDemo } from '../helpers/recordings.js';

let browser: Browser | undefined;
let demo: RecordingDemo | undefined;

/** The noVNC canvas's size on the page (CSS pixels): what scaling changes. */
function canvasBox(page: Page): Promise<{ width: number; height: number }> {
  return page.evaluate(() => {
    const c = document.querySelector('#screen canvas') as HTMLCanvasElement;
    return { width: c.clientWidth, height: c.clientHeight };
  });
}

// Skipped, not failed, where Debian's chromium is not installed (.ci/run installs it).
describe.runIf(existsSync(CHROMIUM))('demo page in Chromium: recordings pane and fullscreen', () => {
  beforeAll(async () => {
    demo = await startRecordingDemo();
    browser = await launchChromium();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('lists the recording of a console as it runs and once it closed, without a reload, and its link plays it', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${demo!.embedded.url}/`);
    await page.waitForSelector('#recordings[data-state="listed"]');
    await page.waitForSelector('#events-state.live');
    expect(await page.locator('#recordings li').count()).toBe(0);

    const item = page.locator('#recordings li', { hasText: 'db-primary' });
    // The console's own recording appears while it runs (the page hears `consoles.opened`)...
    const live = await recordConsoleInDemo(page, 'db-primary', 2, async () => {
      await page.locator('#recordings li[data-state="RECORDING"]', { hasText: 'db-primary' }).waitFor({ timeout: 10_000 });
      expect(await item.locator('.state').textContent()).toBe('recording…');
    });
    expect(await page.locator('#close-reason').textContent()).toBe('closed: you disconnected');
    // ...and is shown complete once the console closed, with no reload of the page.
    await page.locator('#recordings li[data-state="COMPLETE"]', { hasText: 'db-primary' }).waitFor({ timeout: 10_000 });
    expect(await item.count()).toBe(1);
    expect(await item.locator('.meta').textContent()).toMatch(/\d+\.\d s$/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'demo-recordings-pane.png') });

    // The link opens the playback page in a new tab, with a URL asked for on the click (its token
    // expires), and the page plays what the live console showed.
    const asked = page.waitForRequest((r) => r.postData()?.includes('consoleRecording(id:') === true);
    const [player] = await Promise.all([context.waitForEvent('page'), item.locator('a').click()]);
    await asked;
    await player.waitForSelector('body[data-player="ready"]', { timeout: 15_000 });
    await player.selectOption('#speed', '16');
    await player.click('#play');
    await player.waitForSelector('body[data-player="ended"]', { timeout: 15_000 });
    const played = await canvasPixels(player, '#screen canvas');
    await player.screenshot({ path: join(SCREENSHOT_DIR, 'demo-recording-played.png') });
    expect([played.width, played.height]).toEqual([live.width, live.height]);
    expect(new Set(played.data.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(1);
    // The same VM's screen: its name and layout; at most the counter's digits may have moved on.
    expect(samePixelShare(live, played)).toBeGreaterThan(0.95);
    await context.close();
  }, 60_000);

  it('shows a console recorded while the page was open in another tab', async () => {
    const page = await browser!.newPage();
    await page.goto(`${demo!.embedded.url}/`);
    await page.waitForSelector('#recordings[data-state="listed"]');
    await page.waitForSelector('#events-state.live');
    const before = await page.locator('#recordings li').count();
    const other = await browser!.newPage();
    await other.goto(`${demo!.embedded.url}/`);
    await recordConsoleInDemo(other, 'web-02', 1);
    await other.close();
    // This page heard `consoles.closed` from the events subscription.
    await page.locator('#recordings li[data-state="COMPLETE"]', { hasText: 'web-02' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#recordings li').count()).toBe(before + 1);
    await page.close();
  }, 60_000);

  it('fullscreen takes the console container, noVNC scales the picture to it, and leaving restores it', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${demo!.embedded.url}/`);
    await page.waitForSelector('#vms tr');
    await page.locator('#vms tr', { hasText: 'web-01' }).locator('button').click();
    await page.waitForSelector('body[data-console="connected"]', { timeout: 15_000 });
    await waitForPictureChanges(page, '#screen canvas', 0);
    const inPage = await canvasBox(page);

    await page.locator('#fullscreen').click();
    await page.waitForFunction(() => document.fullscreenElement?.id === 'console-frame');
    await page.waitForSelector('#fullscreen[aria-pressed="true"]');
    // scaleViewport: noVNC fits the 640x400 picture to the larger screen element, keeping its aspect ratio.
    await page.waitForFunction((h) => (document.querySelector('#screen canvas') as HTMLCanvasElement).clientHeight > h, inPage.height);
    const full = await canvasBox(page);
    expect(full.width / full.height).toBeCloseTo(inPage.width / inPage.height, 1);
    // The toolbar came along: its button now leaves fullscreen.
    expect(await page.locator('#fullscreen').textContent()).toBe('exit fullscreen');
    expect(await page.locator('#fullscreen').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#ctrl-alt-del').isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'demo-fullscreen.png') });

    await page.locator('#fullscreen').click();
    await page.waitForFunction(() => document.fullscreenElement === null);
    await page.waitForFunction((h) => (document.querySelector('#screen canvas') as HTMLCanvasElement).clientHeight === h, inPage.height);
    expect(await page.locator('#fullscreen').textContent()).toBe('fullscreen');

    // Left by the browser (Escape is the browser's, not the page's: headless Chromium has no such key
    // handling, so the test leaves as it would), the button follows; and a console that ends in
    // fullscreen keeps the way out.
    await page.locator('#fullscreen').click();
    await page.waitForFunction(() => document.fullscreenElement?.id === 'console-frame');
    await page.waitForSelector('#fullscreen[aria-pressed="true"]');
    await page.locator('#disconnect').click();
    await page.waitForSelector('body[data-console="disconnected"]');
    expect(await page.locator('#fullscreen').isEnabled()).toBe(true);
    await page.evaluate(() => document.exitFullscreen());
    await page.waitForFunction(() => document.fullscreenElement === null);
    await page.waitForSelector('#fullscreen[aria-pressed="false"]');
    expect(await page.locator('#fullscreen').textContent()).toBe('fullscreen');
    expect(await page.locator('#fullscreen').isDisabled()).toBe(true);
    await page.close();
  }, 60_000);
});
