/** Chromium for the browser tests: Debian's build, the suite's flags, screenshots under the OS temp dir, and reading canvases. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the frontend tests leave their screenshots (for a person to look at; nothing asserts on the pictures). */
export const SCREENSHOT_DIR = join(tmpdir(), 'console-gateway-frontend');

/** Debian's chromium with the suite's flags; playwright gives each launch a fresh, empty profile directory. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface CanvasPixels {
  width: number;
  height: number;
  /** RGBA, row by row. */
  data: Uint8Array;
}

/** The canvas's pixels. They cross from the page as base64: a plain array of a million numbers takes seconds. */
export async function canvasPixels(page: Page, selector: string): Promise<CanvasPixels> {
  const { width, height, base64 } = await page.evaluate((sel) => {
    const canvas = document.querySelector(sel) as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let binary = '';
    for (let i = 0; i < d.data.length; i += 0x8000) binary += String.fromCharCode(...d.data.subarray(i, i + 0x8000));
    return { width: d.width, height: d.height, base64: btoa(binary) };
  }, selector);
  return { width, height, data: new Uint8Array(Buffer.from(base64, 'base64')) };
}

/** A hash of the canvas's pixels: equal for the same picture, different (in practice) for another. */
export function canvasHash(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel) as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i]! + d[i + 1]! * 7 + d[i + 2]! * 13) | 0;
    return h;
  }, selector);
}

/**
 * Waits until the canvas's picture has changed `changes` times after its first painted picture (the
 * simulated consoles redraw their counter once a second); resolves just after the last change.
 */
export async function waitForPictureChanges(page: Page, selector: string, changes: number, timeoutMs = 15_000): Promise<void> {
  await page.evaluate(() => {
    delete (window as any).__pictureWatch;
  });
  await page.waitForFunction(
    ({ sel, want }) => {
      const c = document.querySelector(sel) as HTMLCanvasElement | null;
      if (!c || c.width < 100) return false;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      const colours = new Set<number>();
      for (let i = 0; i < d.length; i += 4) {
        h = (h * 31 + d[i]! + d[i + 1]! * 7 + d[i + 2]! * 13) | 0;
        if (colours.size < 2) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      }
      if (colours.size < 2) return false; // not painted yet
      const w = window as any;
      w.__pictureWatch ??= { last: h, changes: 0 };
      if (w.__pictureWatch.last !== h) {
        w.__pictureWatch.last = h;
        w.__pictureWatch.changes++;
      }
      return w.__pictureWatch.changes >= want;
    },
    { sel: selector, want: changes },
    { timeout: timeoutMs, polling: 50 },
  );
}

/** The share of pixels (RGB) two pictures of the same size have in common, 0-1. */
export function samePixelShare(a: CanvasPixels, b: CanvasPixels): number {
  if (a.width !== b.width || a.height !== b.height) return 0;
  let same = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data[i] === b.data[i] && a.data[i + 1] === b.data[i + 1] && a.data[i + 2] === b.data[i + 2]) same++;
  }
  return same / (a.width * a.height);
}
