/**
 * Recorded consoles through the public interface, for the recording tests: the GraphQL documents,
 * the simulator's VMs, a console opened past its RFB handshake, and a recording directory waited on.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createWebSocketStream, type WebSocket } from 'ws';
import { RfbTestClient, keyEventMessage } from '../rfb/rfb-test-client.js';
import type { TowerGateway } from './gateway.js';
import { closed, mustOpen } from './ws.js';

export const OPEN_CONSOLE = 'mutation($id: ID!) { openConsole(vmId: $id) { url } }';
export const LIST_RECORDINGS =
  'query($f: ConsoleRecordingFilter) { consoleRecordings(filter: $f) { nodes { id vmId caller state failure includesInput bytes playbackUrl } pageInfo { hasNextPage } } }';

/** The two simulated VMs the recording tests use, as gateway VM ids. */
export async function vmIds(e: TowerGateway): Promise<{ web: string; db: string }> {
  const vms = e.sim.listVms();
  return { web: `tower:${vms.find((v) => v.name === 'web-01')!.id}`, db: `tower:${vms.find((v) => v.name === 'db-primary')!.id}` };
}

/** A console opened over GraphQL, past its RFB handshake, left open. `track` collects the socket for cleanup. */
export async function openLive(e: TowerGateway, vmId: string, track?: Set<WebSocket>): Promise<{ url: string; ws: WebSocket; rfb: RfbTestClient }> {
  const r: any = await e.gql(OPEN_CONSOLE, { id: vmId });
  if (r.errors) throw new Error(`openConsole failed: ${JSON.stringify(r.errors)}`);
  const url = r.data.openConsole.url as string;
  const ws = await mustOpen(url, track ? { track } : {});
  return { url, ws, rfb: await RfbTestClient.handshake(createWebSocketStream(ws)) };
}

/** Opens a console, does the RFB handshake, reads one full update, sends a key, closes; returns the URL it used. */
export async function useConsole(e: TowerGateway, vmId: string, opts: { key?: boolean } = {}): Promise<{ url: string; code: number }> {
  const { url, ws, rfb } = await openLive(e, vmId);
  if (opts.key) rfb.send(keyEventMessage(true, 0x70), keyEventMessage(false, 0x70));
  rfb.requestUpdate(false);
  await rfb.readUpdate();
  const done = closed(ws);
  ws.close(1000);
  return { url, code: (await done).code };
}

/** Resolves with the status files of `dir` once none of them says it is still recording. */
export async function settled(dir: string): Promise<Record<string, any>[]> {
  for (let i = 0; i < 200; i++) {
    const statuses = readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')));
    if (statuses.length > 0 && statuses.every((s) => s.state !== 'recording')) return statuses;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('recording never settled');
}
