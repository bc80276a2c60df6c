/**
 * Recordings for the browser tests: the embedded default (demo page, simulators) with recording on
 * in a temp directory, a console recorded by using it in the demo page, and the listing over GraphQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startEmbedded, type RunningEmbedded } from '../../src/simulators/embedded.js';
import { canvasPixels, waitForPictureChanges, type CanvasPixels } from './browser.js';
import { postGraphQL } from './graphql.js';
import { captureLogger } from './log-capture.js';

export interface RecordingDemo {
  embedded: RunningEmbedded;
  /** The recording directory (CONSOLE_GATEWAY_RECORDING_DIR). */
  dir: string;
  close(): Promise<void>;
}

/** `npm start` with CONSOLE_GATEWAY_RECORDING_DIR set to a fresh temp directory (removed by `close`). */
export async function startRecordingDemo(): Promise<RecordingDemo> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-rec-demo-'));
  const embedded = await startEmbedded({ logger: captureLogger('warn').logger, port: 0, drpEventEveryMs: 0, env: { CONSOLE_GATEWAY_RECORDING_DIR: dir } });
  return {
    embedded,
    dir,
    close: async () => {
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ListedRecording {
  id: string;
  vmId: string | null;
  state: 'RECORDING' | 'COMPLETE' | 'FAILED' | 'CORRUPT';
  durationMs: number | null;
  failure: string | null;
  playbackUrl: string;
}

/**
 * `consoleRecordings` once `done` holds for it. Polled: the listing is the directory, and a recording's
 * final status reaches the disk a moment after its console closes, with no event of its own.
 */
export async function listedRecordings(gatewayUrl: string, done: (nodes: ListedRecording[]) => boolean): Promise<ListedRecording[]> {
  let nodes: ListedRecording[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await postGraphQL<{ consoleRecordings: { nodes: ListedRecording[] } }>(gatewayUrl, '{ consoleRecordings(first: 200) { nodes { id vmId state durationMs failure playbackUrl } } }');
    nodes = r.data!.consoleRecordings.nodes;
    if (done(nodes)) return nodes;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`recordings never settled: ${JSON.stringify(nodes.map((n) => [n.id, n.state]))}`);
}

/**
 * Opens `vmName`'s console from the demo page (already loaded in `page`), lets the picture change
 * `pictureChanges` times (about one a second), runs `whileLive`, captures the canvas, disconnects
 * and waits for the page to show the console closed.
 */
export async function recordConsoleInDemo(page: Page, vmName: string, pictureChanges: number, whileLive?: () => Promise<void>): Promise<CanvasPixels> {
  await page.locator('#vms tr', { hasText: vmName }).first().locator('button').click();
  await page.waitForSelector('body[data-console="connected"]', { timeout: 15_000 });
  await waitForPictureChanges(page, '#screen canvas', pictureChanges);
  await whileLive?.();
  const live = await canvasPixels(page, '#screen canvas');
  await page.locator('#disconnect').click();
  await page.waitForSelector('body[data-console="disconnected"]', { timeout: 15_000 });
  return live;
}
