import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenFileWriter, renderTokenFile, type TokenFileFs } from '../../../src/upstreams/abiquo/token-file.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const vm = (vdrpIP: string | null, vdrpPort: number | null, vdrpEnabled: boolean | null = true) => ({ vdrpIP, vdrpPort, vdrpEnabled });

describe('renderTokenFile', () => {
  it('writes md5("ip:port"): ip:port per VM, sorted, each line ending in a newline', () => {
    const text = renderTokenFile([vm('10.0.0.2', 5902), vm('10.0.0.1', 5901)]);
    const expected = [`${md5('10.0.0.2:5902')}: 10.0.0.2:5902`, `${md5('10.0.0.1:5901')}: 10.0.0.1:5901`].sort();
    expect(text).toBe(expected.join('\n') + '\n');
  });

  it('leaves out VMs without an address, with a bad port or host, or with the remote desktop disabled', () => {
    const text = renderTokenFile([
      vm(null, 5900),
      vm('10.0.0.1', null),
      vm('10.0.0.1', 0),
      vm('10.0.0.1', 70_000),
      vm('10.0.0.1\nevil: 1.2.3.4:22', 5900),
      vm('host name', 5900),
      vm('10.0.0.9', 5909, false),
      vm('10.0.0.3', 5903),
    ]);
    expect(text).toBe(`${md5('10.0.0.3:5903')}: 10.0.0.3:5903\n`);
  });

  it('writes one line for VMs sharing an address, and nothing for no VMs', () => {
    expect(renderTokenFile([vm('h.example', 5900), vm('h.example', 5900)]).split('\n')).toHaveLength(2);
    expect(renderTokenFile([])).toBe('');
  });
});

describe('TokenFileWriter', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(join(tmpdir(), 'abq-tokens-'));
  });
  afterEach(async () => {
    await fsp.chmod(dir, 0o755).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes through a temporary file in the same directory, renamed over the target', async () => {
    const path = join(dir, 'tokens.cfg');
    const calls: string[] = [];
    const spy: TokenFileFs = {
      readFile: (p, e) => fsp.readFile(p, e),
      writeFile: async (p, d, o) => {
        calls.push(`write ${p}`);
        await fsp.writeFile(p, d, o);
      },
      rename: async (a, b) => {
        calls.push(`rename ${a} -> ${b}`);
        await fsp.rename(a, b);
      },
      unlink: (p) => fsp.unlink(p),
    };
    const writer = new TokenFileWriter({ path, fs: spy });
    await writer.write('a: 1.2.3.4:5900\n');
    expect(calls).toHaveLength(2);
    const tmp = /^write (.*)$/.exec(calls[0]!)![1]!;
    expect(tmp.startsWith(join(dir, '.tokens.cfg.'))).toBe(true);
    expect(calls[1]).toBe(`rename ${tmp} -> ${path}`);
    expect(await fsp.readFile(path, 'utf8')).toBe('a: 1.2.3.4:5900\n');
    expect(await fsp.readdir(dir)).toEqual(['tokens.cfg']);
  });

  it('writes only when the text changes, also across restarts', async () => {
    const path = join(dir, 'tokens.cfg');
    const writer = new TokenFileWriter({ path });
    await writer.write('x\n');
    await writer.write('x\n');
    expect(writer.state().writes).toBe(1);
    await writer.write('y\n');
    expect(writer.state().writes).toBe(2);
    const restarted = new TokenFileWriter({ path });
    await restarted.write('y\n');
    expect(restarted.state().writes).toBe(0);
  });

  it('writes the latest text when calls overlap', async () => {
    const path = join(dir, 'tokens.cfg');
    const writer = new TokenFileWriter({ path });
    await Promise.all([writer.write('1\n'), writer.write('2\n'), writer.write('3\n')]);
    expect(await fsp.readFile(path, 'utf8')).toBe('3\n');
    expect(writer.state().writes).toBeLessThanOrEqual(2);
  });

  it('reports an unwritable directory, keeps the old file and recovers', async () => {
    const path = join(dir, 'tokens.cfg');
    await fsp.writeFile(path, 'old\n');
    let denied = true;
    const flaky: TokenFileFs = {
      readFile: (p, e) => fsp.readFile(p, e),
      writeFile: async (p, d, o) => {
        if (denied) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
        await fsp.writeFile(p, d, o);
      },
      rename: (a, b) => fsp.rename(a, b),
      unlink: (p) => fsp.unlink(p),
    };
    const writer = new TokenFileWriter({ path, fs: flaky });
    await expect(writer.write('new\n')).resolves.toBeUndefined();
    expect(writer.state()).toMatchObject({ ok: false, lastError: 'EACCES' });
    expect(await fsp.readFile(path, 'utf8')).toBe('old\n');
    denied = false;
    await writer.write('new\n');
    expect(writer.state()).toMatchObject({ ok: true, lastError: null });
    expect(await fsp.readFile(path, 'utf8')).toBe('new\n');
  });

  it.skipIf(process.getuid?.() === 0)('reports a read-only directory on the real filesystem (not as root)', async () => {
    const path = join(dir, 'tokens.cfg');
    await fsp.writeFile(path, 'old\n');
    await fsp.chmod(dir, 0o555);
    const writer = new TokenFileWriter({ path });
    await writer.write('new\n');
    expect(writer.state()).toMatchObject({ ok: false, lastError: 'EACCES' });
    expect(await fsp.readFile(path, 'utf8')).toBe('old\n');
  });

  it('reports a missing directory', async () => {
    const writer = new TokenFileWriter({ path: join(dir, 'absent', 'tokens.cfg') });
    await writer.write('x\n');
    expect(writer.state()).toMatchObject({ ok: false, lastError: 'ENOENT' });
  });
});
