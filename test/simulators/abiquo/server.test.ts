import { afterEach, describe, expect, it } from 'vitest';
import { AbiquoSimulator, type AbiquoSimulatorOptions } from '../../../src/simulators/abiquo/index.js';

let sim: AbiquoSimulator | null = null;
const readers: Array<ReadableStreamDefaultReader<Uint8Array>> = [];

afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.cancel().catch(() => undefined)));
  await sim?.close();
  sim = null;
});

const BASIC = `Basic ${Buffer.from('admin:xabiquo').toString('base64')}`;

async function start(opts: AbiquoSimulatorOptions = {}) {
  sim = await AbiquoSimulator.start(opts);
  return sim;
}

describe('Abiquo simulator REST', () => {
  it('answers a collection with absolute paging links built from its own URL', async () => {
    const s = await start();
    const res = await fetch(`${s.apiUrl}/admin/enterprises?startwith=1&limit=1`, {
      headers: { authorization: BASIC, accept: 'application/vnd.abiquo.enterprises+json; version=4.7' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.abiquo.enterprises+json; version=4.7');
    const body = (await res.json()) as { links: Array<{ rel: string; href: string }>; collection: Array<{ id: number; links: Array<{ rel: string; href: string }> }>; totalSize: number };
    expect(body.totalSize).toBe(3);
    expect(body.collection.map((e) => e.id)).toEqual([2]);
    expect(Object.fromEntries(body.links.map((l) => [l.rel, l.href]))).toEqual({
      first: `${s.apiUrl}/admin/enterprises?startwith=0&limit=1`,
      prev: `${s.apiUrl}/admin/enterprises?startwith=0&limit=1`,
      next: `${s.apiUrl}/admin/enterprises?startwith=2&limit=1`,
      last: `${s.apiUrl}/admin/enterprises?startwith=2&limit=1`,
    });
    expect(body.collection[0]!.links.find((l) => l.rel === 'virtualmachines')?.href).toBe(`${s.apiUrl}/admin/enterprises/2/action/virtualmachines`);
  });

  it('serves the XML shape the seed reads with XPath', async () => {
    const s = await start();
    const res = await fetch(`${s.apiUrl}/admin/enterprises/1/action/virtualmachines`, {
      headers: { authorization: BASIC, accept: 'application/vnd.abiquo.virtualmachines+xml' },
    });
    const text = await res.text();
    expect(text).toMatch(/<virtualMachines>.*<virtualMachine>.*<vdrpIP>127\.0\.0\.1<\/vdrpIP><vdrpPort>5901<\/vdrpPort>/);
  });

  it.each([
    [{}, 406],
    [{ wrongMediaTypeStatus: 415 as const }, 415],
  ])('refuses a media type for another entity (%o -> %i)', async (opts, status) => {
    const s = await start(opts);
    const res = await fetch(`${s.apiUrl}/admin/enterprises`, {
      headers: { authorization: BASIC, accept: 'application/vnd.abiquo.virtualmachines+json; version=4.7' },
    });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/vnd.abiquo.errors+json');
    expect(((await res.json()) as { collection: unknown[] }).collection).toHaveLength(1);
  });

  it('answers 401 with an Abiquo error body to wrong credentials', async () => {
    const s = await start();
    const res = await fetch(`${s.apiUrl}/admin/enterprises`, { headers: { authorization: `Basic ${Buffer.from('admin:no').toString('base64')}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    expect(await res.json()).toEqual({ collection: [{ code: expect.any(String), message: expect.any(String) }] });
  });

  it('serves vdrp addresses from consoleFor', async () => {
    const s = await start({ consoleFor: (vm) => ({ host: '127.0.0.1', port: 40_000 + vm.id }) });
    const res = await fetch(`${s.apiUrl}/admin/enterprises/2/action/virtualmachines`, { headers: { authorization: BASIC } });
    const body = (await res.json()) as { collection: Array<{ id: number; vdrpPort?: number }> };
    expect(body.collection.map((v) => [v.id, v.vdrpPort])).toEqual([
      [4, 40_004],
      [5, 40_005],
      [6, 40_006],
      [7, undefined],
    ]);
  });
});

describe('Abiquo simulator event stream', () => {
  async function openStream(query: string, auth = BASIC) {
    const res = await fetch(`${sim!.streamUrl}?X-Atmosphere-Transport=sse&X-Atmosphere-Framework=1.0${query}`, { headers: { authorization: auth } });
    return res;
  }

  async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, marker: string): Promise<string> {
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return text;
  }

  it('sends a blank first message, then only the filtered actions', async () => {
    const s = await start();
    const res = await openStream('&action=DEPLOY_FINISH');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    readers.push(reader);
    await s.waitForStreams(1);
    s.deployVm(1, { id: 50 });
    const text = await readUntil(reader, 'DEPLOY_FINISH');
    const messages = text.split('\n\n').filter((m) => m !== '');
    expect(messages[0]).toBe('data: ');
    expect(messages).toHaveLength(2);
    expect(JSON.parse(messages[1]!.slice('data: '.length))).toMatchObject({
      action: 'DEPLOY_FINISH',
      type: 'VIRTUAL_MACHINE',
      enterprise: '/admin/enterprises/1',
      entityIdentifier: '/cloud/virtualdatacenters/1/virtualappliances/1/virtualmachines/50',
      timestamp: expect.stringMatching(/^\d+$/),
    });
  });

  it('refuses a stream without valid Basic auth', async () => {
    await start();
    const res = await openStream('', `Basic ${Buffer.from('admin:bad').toString('base64')}`);
    expect(res.status).toBe(401);
  });
});
