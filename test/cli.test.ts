import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/gateway.js';
import { NODE_FLAGS, missingNodeFlags } from '../src/runtime-flags.js';

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

function run(args: string[], env: Record<string, string> = {}): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  // Node itself with tsx's loader, not the tsx command: that one relays SIGTERM to its child and, when
  // the child has not acknowledged it within 30 ms (a loaded machine), kills it and exits 143.
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, CONSOLE_GATEWAY_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

describe('CLI', () => {
  it('starts the embedded default, prints where to go, serves the example query, and exits 0 on SIGTERM', async () => {
    const r = run([], { CONSOLE_GATEWAY_PORT: '0' });
    child = r.proc;
    const url = await new Promise<string>((resolve, reject) => {
      r.proc.stdout!.on('data', () => {
        const m = /GraphQL\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/.exec(r.output());
        if (m && r.output().includes('Try:')) resolve(m[1]!);
      });
      void r.exited.then(() => reject(new Error(`exited early:\n${r.output()}`)));
    });
    // The banner's example query, as a person would paste it.
    const example = /-d '(.*)'/.exec(r.output())![1]!;
    const { query } = JSON.parse(example) as { query: string };
    const res: any = await postGraphQL(url, query);
    expect(res.errors).toBeUndefined();
    expect(res.data.vms.nodes.length).toBeGreaterThan(0);
    expect(res.data.consoleUrl).toBe(`${url.replace('http', 'ws')}/websockify?ticket=${new URL(res.data.consoleUrl).searchParams.get('ticket')}`);
    expect(new URL(res.data.consoleUrl).searchParams.get('ticket')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    r.proc.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it('warns when Node 24 runs it without the flags the image passes (src/runtime-flags.ts), and not with them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'server:\n  port: 0\nproviders:\n  - name: t\n    kind: cloudtower\n    url: http://127.0.0.1:9\n    token: abc\n');
    const major = Number(process.versions.node.split('.')[0]);
    // Node 20 has no such V8 flag (it refuses it); Node 22 knows it and needs it not.
    const variants: Array<{ flags: string[]; warns: boolean }> = [{ flags: [], warns: major >= 24 }, ...(major >= 22 ? [{ flags: [...NODE_FLAGS], warns: false }] : [])];
    for (const { flags, warns } of variants) {
      const proc = spawn(process.execPath, [...flags, '--import', 'tsx', 'src/main.ts', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.on('data', () => out.includes('console-gateway listening') && resolve());
        void exited.then(() => reject(new Error(`exited early:\n${out}`)));
      });
      const warning = out.split('\n').find((l) => l.includes('started without the flags'));
      if (warns) expect(JSON.parse(warning!)).toMatchObject({ level: 40, missingFlags: [...NODE_FLAGS] });
      else expect(warning, `node ${process.version} ${flags.join(' ')}`).toBeUndefined();
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('the image starts Node with those flags', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'));
    const argv = JSON.parse(entrypoint![1]!) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.slice(1, argv.indexOf('dist/main.js'))).toEqual([...NODE_FLAGS]);
    expect(missingNodeFlags(argv.slice(1), '24.0.0')).toEqual([]);
    expect(missingNodeFlags([], '24.0.0')).toEqual([...NODE_FLAGS]);
    expect(missingNodeFlags([], '22.15.0')).toEqual([]);
  });

  it('refuses a bad config with a message naming the key and exit code 78', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'providers:\n  - name: t\n    kind: cloudtower\n    url: not-a-url\n    token: abc\n');
    const r = run(['--config', file]);
    child = r.proc;
    expect(await r.exited).toBe(78);
    expect(r.output()).toContain('providers.0.url: must be an absolute http:// or https:// URL');
  });

  it('refuses a recording bound smaller than twice what a console forwards at once, naming both keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    const file = join(dir, 'recording.yaml');
    writeFileSync(file, `recording:\n  dir: ${join(dir, 'rec')}\n  maxBufferedBytes: 1048576\nproviders:\n  - name: t\n    kind: cloudtower\n    url: https://tower.example\n    token: abc\n`);
    const r = run(['--config', file]);
    child = r.proc;
    expect(await r.exited).toBe(78);
    expect(r.output()).toMatch(/recording\.maxBufferedBytes: must be at least 2097152 .*console\.maxFrameBytes \(1048576\)/);
  });

  it('refuses to bind a non-loopback address without server.publicUrl, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-cli-'));
    const file = join(dir, 'open.yaml');
    writeFileSync(file, 'auth:\n  mode: none\nproviders:\n  - name: t\n    kind: cloudtower\n    url: https://tower.example\n    token: abc\n');
    const r = run(['--config', file], { CONSOLE_GATEWAY_HOST: '0.0.0.0' });
    child = r.proc;
    expect(await r.exited).toBe(78);
    expect(r.output()).toMatch(/server\.publicUrl: required when server\.host \(0\.0\.0\.0\) is not a loopback address.*CONSOLE_GATEWAY_SERVER_PUBLIC_URL/);
  });

  it('refuses a bad environment value in the embedded default too, naming the variable and the key', async () => {
    const r = run([], { CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES_PER_CALLER: 'five' });
    child = r.proc;
    expect(await r.exited).toBe(78);
    expect(r.output()).toContain('CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES_PER_CALLER (limits.maxConsolesPerCaller): must be a number');
  });

  it('prints usage for --help and for unknown flags', async () => {
    const help = run(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.output()).toContain('usage: console-gateway');
    // The mapping rule, not a list of variables.
    expect(help.output()).toContain('CONSOLE_GATEWAY_<KEY PATH>');
    expect(help.output()).toContain('CONSOLE_GATEWAY_PROVIDER_<NAME>_<KEY PATH>');
    expect(help.output()).toContain('_FILE');
    const bad = run(['--nope']);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('usage: console-gateway');
  });
});
