/**
 * The playback page's controls in Chromium, on the page's own clock (Playwright's `page.clock`: the
 * player's interval and `performance.now()` advance only when the test says so): pause holds the
 * position and the picture, play resumes, the speed multiplies the rate. And a recording whose frames
 * are damaged says so on the page. The recording comes from a console used in the demo page.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, SCREENSHOT_DIR, canvasHash, launchChromium } from '../helpers/browser.js';
import { listedRecordings, recordConsoleInDemo, startRecordingDemo, type ListedRecording, type RecordingDemo } from '../helpers/recordings.js';
import { postGraphQL } from '../helpers/graphql.js';
import { FRAME_HEAD_BYTES } from '../../src/recording/format.js';

let browser: Browser | undefined;
let demo: RecordingDemo | undefined;
let recording: ListedRecording | undefined;

/** The player's position in milliseconds, as its slider shows it. */
async function position(page: Page): Promise<number> {
  return Number(await page.locator('#seek').inputValue());
}

describe.runIf(existsSync(CHROMIUM))('playback page controls in Chromium', () => {
  beforeAll(async () => {
    demo = await startRecordingDemo();
    browser = await launchChromium();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const page = await browser.newPage();
    await page.goto(`${demo.embedded.url}/`);
    // Three redraws of the counter: over two seconds of a picture that changes once a second.
    await recordConsoleInDemo(page, 'web-01', 3);
    await page.close();
    [recording] = await listedRecordings(demo.embedded.url, (nodes) => nodes.length === 1 && nodes[0]!.state === 'COMPLETE');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('pause holds the position and the picture, play resumes, and 4× runs four times as fast as 1×', async () => {
    expect(recording!.durationMs).toBeGreaterThan(2000);
    const page = await browser!.newPage();
    await page.clock.install();
    await page.goto(recording!.playbackUrl);
    await page.waitForSelector('body[data-player="ready"]', { timeout: 15_000 });
    // Installed, the page's clock still flows with real time (a click on a loaded machine took 100 ms
    // of it in CI); paused, it moves only by runFor.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);

    await page.click('#play');
    await page.clock.runFor(500);
    expect(await page.locator('body').getAttribute('data-player')).toBe('playing');
    expect(await position(page)).toBe(500);

    // The first picture comes with the recorded RFB handshake, which on a loaded machine can be more
    // than 500 ms into the recording: play on (at most 5 s of the recording) until it is drawn.
    const canvasWidth = (): Promise<number> => page.evaluate(() => document.querySelector<HTMLCanvasElement>('#screen canvas')?.width ?? 0);
    for (let i = 0; i < 50 && (await canvasWidth()) === 0; i++) await page.clock.runFor(100);
    expect(await canvasWidth()).toBeGreaterThan(0);

    await page.click('#pause');
    expect(await page.locator('body').getAttribute('data-player')).toBe('paused');
    const pausedAt = await position(page);
    const pausedText = await page.locator('#position').textContent();
    const pausedPicture = await canvasHash(page, '#screen canvas');
    // Longer than the counter's one second: playing on would have redrawn it.
    await page.clock.runFor(1500);
    expect(await position(page)).toBe(pausedAt);
    expect(await page.locator('#position').textContent()).toBe(pausedText);
    expect(await canvasHash(page, '#screen canvas')).toBe(pausedPicture);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'player-paused.png') });

    await page.click('#play');
    await page.clock.runFor(300);
    const atOne = (await position(page)) - pausedAt;
    await page.selectOption('#speed', '4');
    const before = await position(page);
    await page.clock.runFor(300);
    const atFour = (await position(page)) - before;
    expect(atOne).toBeGreaterThan(0);
    expect(atFour).toBeGreaterThan(3 * atOne);
    // Past a redraw of the counter since the pause: the picture moves again.
    expect(await position(page)).toBeGreaterThan(pausedAt + 1000);
    expect(await canvasHash(page, '#screen canvas')).not.toBe(pausedPicture);
    await page.close();
  }, 60_000);

  /** The `n`th copy of the recording under another id, damaged by `damage`; its status file copied along. */
  function damagedCopy(n: number, damage: (bytes: Buffer) => Buffer): string {
    const id = recording!.id.slice(0, -1) + [...'WXYZ'].filter((c) => c !== recording!.id.at(-1))[n];
    const bytes = readFileSync(join(demo!.dir, `${recording!.id}.cgrec`));
    writeFileSync(join(demo!.dir, `${id}.cgrec`), damage(bytes));
    const status = JSON.parse(readFileSync(join(demo!.dir, `${recording!.id}.json`), 'utf8'));
    writeFileSync(join(demo!.dir, `${id}.json`), JSON.stringify({ ...status, id }));
    return id;
  }

  async function openPlayback(id: string): Promise<{ page: Page; state: string }> {
    const one = await postGraphQL<{ consoleRecording: { state: string; playbackUrl: string } }>(demo!.embedded.url, 'query($id: ID!) { consoleRecording(id: $id) { state playbackUrl } }', { id });
    const page = await browser!.newPage();
    await page.goto(one.data!.consoleRecording.playbackUrl);
    await page.waitForSelector('body[data-player="error"]', { timeout: 15_000 });
    expect(await page.locator('#status').getAttribute('data-kind')).toBe('error');
    expect(await page.locator('#status').isVisible()).toBe(true);
    // Nothing offers to play what cannot be played.
    for (const control of ['#play', '#pause', '#speed', '#seek']) expect(await page.locator(control).isDisabled()).toBe(true);
    return { page, state: one.data!.consoleRecording.state };
  }

  it('says a recording whose frames are damaged cannot be played, and offers no controls', async () => {
    // One frame's direction byte made impossible. The header is whole, so the listing calls it
    // COMPLETE: only the page, reading the frames, finds the damage.
    let second = 0;
    const id = damagedCopy(0, (bytes) => {
      const first = bytes.indexOf(0x0a) + 1;
      second = first + FRAME_HEAD_BYTES + bytes.readUInt32BE(first + 5);
      bytes[second] = 7;
      return bytes;
    });
    const { page, state } = await openPlayback(id);
    expect(state).toBe('COMPLETE');
    expect(await page.locator('#status').textContent()).toBe(`This recording cannot be played: unknown frame direction at byte ${second}`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'player-damaged-frames.png') });
    await page.close();
  }, 60_000);

  it('says a recording whose header is damaged cannot be played, and offers no controls', async () => {
    const id = damagedCopy(1, (bytes) => Buffer.concat([Buffer.from('{"format":'), bytes.subarray(bytes.indexOf(0x0a))]));
    const { page, state } = await openPlayback(id);
    expect(state).toBe('CORRUPT');
    expect(await page.locator('#status').textContent()).toBe('This recording cannot be played: header is not valid JSON');
    await page.close();
  }, 60_000);
});
