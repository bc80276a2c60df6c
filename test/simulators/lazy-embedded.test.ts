import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const RECORDER = join(import.meta.dirname, 'module-log', 'register.mjs');
const SIMULATORS = `${join(ROOT, 'src', 'simulators')}/`;

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = dir = undefined;
});

/**
 * `node --import tsx --import <recorder> src/main.ts ...` (one process, as test/observability/child.ts
 * starts it), until `ready` shows in its output; then the files of every module it had loaded.
 */
async function loadedModules(args: string[], env: Record<string, string>, ready: RegExp): Promise<string[]> {
  dir ??= mkdtempSync(join(tmpdir(), 'cg-modules-'));
  const log = join(dir, 'modules.log');
  writeFileSync(log, '');
  const proc = spawn(process.execPath, ['--import', 'tsx', '--import', RECORDER, 'src/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, MODULE_LOG_FILE: log, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let output = '';
  await new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (ready.test(output)) resolveReady();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', () => reject(new Error(`exited before ${ready}:\n${output}`)));
  });
  proc.kill('SIGKILL');
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url.replace(/[?#].*$/u, '')));
}

/** A loopback port nothing listens on: the gateway starts without contacting its upstreams. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe('the embedded default is loaded lazily', () => {
  it('a --config start loads no simulator module', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-modules-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'server:',
        '  host: 127.0.0.1',
        '  port: 0',
        'providers:',
        '  - name: tower',
        '    kind: cloudtower',
        `    url: http://127.0.0.1:${await closedPort()}`,
        '    token: not-used',
        '',
      ].join('\n'),
    );
    const modules = await loadedModules(['--config', config], { CONSOLE_GATEWAY_LOG_LEVEL: 'info' }, /console-gateway listening/);
    // The recorder saw the gateway itself, so an empty answer below is not a recorder that saw nothing.
    expect(modules).toContain(join(ROOT, 'src', 'app.ts'));
    expect(modules.filter((file) => file.startsWith(SIMULATORS))).toEqual([]);
  });

  it('the embedded start does load the simulators', async () => {
    const modules = await loadedModules([], { CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'warn' }, /Try:/);
    const simulators = modules.filter((file) => file.startsWith(SIMULATORS)).map((file) => file.slice(SIMULATORS.length));
    expect(simulators).toEqual(expect.arrayContaining(['embedded.ts', 'cloudtower/index.ts', 'abiquo/index.ts', 'drp/index.ts', 'vnc/index.ts']));
  });
});
