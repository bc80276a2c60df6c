import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { parseHostPort, parseTokenFile } from '../../../src/upstreams/tokenfile/parse.js';
import { TokenFileResolver } from '../../../src/upstreams/tokenfile/resolver.js';
import { Cleanups } from '../../helpers/cleanups.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { mustOpen, openWs } from '../../helpers/ws.js';
import { collect, startConsoleEndpoint, startTcpServer } from '../../console/helpers.js';

const cleanups = new Cleanups();
const clients = new Set<WebSocket>();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfile-'));
});
afterEach(async () => {
  for (const c of clients) c.terminate();
  clients.clear();
  await cleanups.run();
  rmSync(dir, { recursive: true, force: true });
});

function resolver(path: string, opts: { watch?: boolean } = {}) {
  const log = captureLogger('trace', { plain: true });
  const r = new TokenFileResolver({ path, logger: log.logger, debounceMs: 10, ...opts });
  cleanups.add(() => r.close());
  return { r, log };
}

describe('parseTokenFile', () => {
  it('reads websockify TokenFile lines: comments, blanks, whitespace, IPv6 both ways', () => {
    const text = [
      '# tokens for the lab',
      '',
      'vm1: 10.0.0.1:5901',
      '   vm2:\t10.0.0.2:5902   ',
      'v6a: ::1:5900',
      'v6b: [fe80::1]:5903',
      'named: vnc.example.com:5904',
      'a:b: 10.0.0.9:5909',
      '\r',
    ].join('\n');
    const { entries, problems } = parseTokenFile(text, 'f');
    expect(problems).toEqual([]);
    expect(Object.fromEntries(entries)).toEqual({
      vm1: { host: '10.0.0.1', port: 5901 },
      vm2: { host: '10.0.0.2', port: 5902 },
      v6a: { host: '::1', port: 5900 },
      v6b: { host: 'fe80::1', port: 5903 },
      named: { host: 'vnc.example.com', port: 5904 },
      'a:b': { host: '10.0.0.9', port: 5909 },
    });
  });

  it('skips malformed lines, naming file and line but never the token', () => {
    const text = ['good: 1.2.3.4:5900', 'secret-token-1 1.2.3.4:5900', 'secret-token-2: 1.2.3.4', 'secret-token-3: 1.2.3.4:99999', 'secret-token-4: :5900', 'good: 1.2.3.4:5901'].join('\n');
    const { entries, problems } = parseTokenFile(text, '/etc/tokens');
    expect(Object.fromEntries(entries)).toEqual({ good: { host: '1.2.3.4', port: 5901 } });
    expect(problems.map((p) => [p.file, p.line])).toEqual([
      ['/etc/tokens', 2],
      ['/etc/tokens', 3],
      ['/etc/tokens', 4],
      ['/etc/tokens', 5],
      ['/etc/tokens', 6],
    ]);
    expect(JSON.stringify(problems)).not.toContain('secret-token');
  });

  it('parses host:port forms', () => {
    expect(parseHostPort('h:1')).toEqual({ host: 'h', port: 1 });
    expect(parseHostPort('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
    expect(parseHostPort('h:0')).toBe('port out of range');
    expect(parseHostPort('h')).toBe('target has no port');
    expect(parseHostPort('h:x')).toBe('bad port');
  });
});

describe('TokenFileResolver', () => {
  it('looks tokens up in a file and warns about bad lines by file and line number only', () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, '# c\nvm1: 127.0.0.1:5901\nhidden-secret nonsense\nv6: ::1:5900\n');
    const { r, log } = resolver(file, { watch: false });
    expect(r.lookup('vm1')).toEqual({ host: '127.0.0.1', port: 5901 });
    expect(r.lookup('v6')).toEqual({ host: '::1', port: 5900 });
    expect(r.lookup('nope')).toBeNull();
    const warning = log.records().find((x) => x.msg === 'skipping malformed token file line');
    expect(warning).toMatchObject({ file, line: 3 });
    expect(log.text()).not.toContain('hidden-secret');
    expect(log.text()).not.toContain('vm1');
  });

  it('reads every file of a directory, skipping dot-files', () => {
    writeFileSync(join(dir, 'a.conf'), 'a: 10.0.0.1:1\n');
    writeFileSync(join(dir, 'b'), 'b: 10.0.0.2:2\n');
    writeFileSync(join(dir, '.b.swp'), 'c: 10.0.0.3:3\n');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'x'), 'x: 10.0.0.4:4\n');
    const { r } = resolver(dir, { watch: false });
    expect(r.lookup('a')).toEqual({ host: '10.0.0.1', port: 1 });
    expect(r.lookup('b')).toEqual({ host: '10.0.0.2', port: 2 });
    expect(r.lookup('c')).toBeNull();
    expect(r.lookup('x')).toBeNull();
  });

  it('re-reads a changed file when fs.watch reports it (including a replace by rename)', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, 'old: 127.0.0.1:1\n');
    const { r } = resolver(file);
    expect(r.size).toBe(1);

    let reloaded = once(r, 'reload');
    writeFileSync(file, 'old: 127.0.0.1:1\nnew: 127.0.0.1:2\n');
    expect(await reloaded).toEqual([{ tokens: 2, problems: 0 }]);
    expect(r.size).toBe(2);

    reloaded = once(r, 'reload');
    writeFileSync(join(dir, '.tokens.tmp'), 'swapped: 127.0.0.1:3\n');
    renameSync(join(dir, '.tokens.tmp'), file);
    await reloaded;
    expect(r.lookup('swapped')).toEqual({ host: '127.0.0.1', port: 3 });
    expect(r.lookup('new')).toBeNull();
  });

  it('re-reads a directory when a file is added', async () => {
    writeFileSync(join(dir, 'a'), 'a: 127.0.0.1:1\n');
    const { r } = resolver(dir);
    const reloaded = once(r, 'reload');
    writeFileSync(join(dir, 'b'), 'b: 127.0.0.1:2\n');
    await reloaded;
    expect(r.lookup('b')).toEqual({ host: '127.0.0.1', port: 2 });
  });

  it('without watch events, notices a change on lookup from the file stats', () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, 'a: 127.0.0.1:1\n');
    const { r } = resolver(file, { watch: false });
    expect(r.lookup('b')).toBeNull();
    writeFileSync(file, 'a: 127.0.0.1:1\nb: 127.0.0.1:2\n');
    expect(r.lookup('b')).toEqual({ host: '127.0.0.1', port: 2 });
    rmSync(file);
    expect(r.lookup('a')).toBeNull();
  });
});

describe('console endpoint with a token file (?token=)', () => {
  it('proxies to the file target and refuses unknown tokens with 401', async () => {
    const echo = await startTcpServer();
    cleanups.add(() => echo.close());
    const token = randomBytes(16).toString('hex');
    const file = join(dir, 'tokens');
    writeFileSync(file, `${token}: 127.0.0.1:${echo.port}\n`);
    const { r } = resolver(file);
    const gw = await startConsoleEndpoint({ tokenFile: r });
    cleanups.add(() => gw.close());

    const ws = await mustOpen(`${gw.url}?token=${token}`, { track: clients });
    const payload = randomBytes(5000);
    const got = collect(ws, payload.length);
    ws.send(payload);
    expect((await got).equals(payload)).toBe(true);

    const refused = await openWs(`${gw.url}?token=wrong`, { track: clients });
    expect(refused).toMatchObject({ ok: false, status: 401, body: 'TOKEN_UNKNOWN\n' });

    const ended = gw.nextClosed();
    ws.close(1000);
    expect(await ended).toMatchObject({ provider: 'tokenfile', target: `tcp://127.0.0.1:${echo.port}`, vmId: null, caller: 'token-file' });
    expect(gw.log.text()).not.toContain(token);
  });
});
