/**
 * The production start, as the image runs it: `node dist/main.js --config <file>` (after `npm run build`)
 * against a CloudTower simulator and its VNC consoles in this process. Run by .ci/run:
 *
 *   npx tsx test/smoke/production-start.ts [--app DIR]
 *
 * `--app DIR`: run DIR/dist/main.js with DIR as its working directory, DIR holding what the image
 * holds (dist, schema and a production-only `npm ci --omit=dev`); default: this checkout.
 *
 * Prints each step; any failure prints the gateway's output and exits 1. Checks: the start is
 * ready, a GraphQL query lists VMs, a console opens and speaks RFB through the gateway, an env
 * variable mapped from the schema applies, no simulator module is loaded, `hash-key` works from
 * dist, and SIGTERM exits 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { DEFAULT_CLOUDTOWER_USER, defaultCloudTowerVms, startCloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { firstVmId, openConsole, rfbSecurityTypes } from '../observability/child.js';
import { NODE_FLAGS } from '../../src/runtime-flags.js';

const ROOT = resolve(import.meta.dirname, '../..');
const appFlag = process.argv.indexOf('--app');
const APP = appFlag > 0 && process.argv[appFlag + 1] ? resolve(process.argv[appFlag + 1]!) : ROOT;
const MAIN = join(APP, 'dist', 'main.js');
const RECORDER = join(ROOT, 'test', 'simulators', 'module-log', 'register.mjs');
const STEP_TIMEOUT_MS = 30_000;

const step = (text: string): void => console.log(`smoke: ${text}`);

async function within<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  step(`app: ${APP}`);
  const dir = mkdtempSync(join(tmpdir(), 'cg-smoke-'));
  const farm = new ConsoleFarm();
  const vms = defaultCloudTowerVms();
  for (const vm of vms) await farm.add(vm.id, { name: vm.name });
  const sim = await startCloudTowerSimulator({ vms, consoleFor: (vm) => farm.locate(vm.id) });
  step(`CloudTower simulator on ${sim.url}`);
  let output = '';
  let proc: ReturnType<typeof spawn> | undefined;
  try {
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'info' },
        providers: [
          {
            name: 'tower',
            kind: 'cloudtower',
            url: sim.url,
            username: DEFAULT_CLOUDTOWER_USER.username,
            websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } },
          },
        ],
      }),
    );
    const passwordFile = join(dir, 'tower-password');
    writeFileSync(passwordFile, `${DEFAULT_CLOUDTOWER_USER.password}\n`);
    const log = join(dir, 'modules.log');
    writeFileSync(log, '');

    // The image's V8 flags (its ENTRYPOINT), where this Node knows them (22 and later; Node 20 refuses them).
    const nodeFlags = Number(process.versions.node.split('.')[0]) >= 22 ? [...NODE_FLAGS] : [];
    step(`starting node ${nodeFlags.join(' ')} dist/main.js --config ${config} (password from CONSOLE_GATEWAY_PROVIDER_TOWER_PASSWORD_FILE, limits.maxDepth=3 from CONSOLE_GATEWAY_LIMITS_MAX_DEPTH)`);
    const child = spawn(process.execPath, [...nodeFlags, '--import', RECORDER, MAIN, '--config', config], {
      cwd: APP,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        MODULE_LOG_FILE: log,
        CONSOLE_GATEWAY_PROVIDER_TOWER_PASSWORD_FILE: passwordFile,
        CONSOLE_GATEWAY_LIMITS_MAX_DEPTH: '3',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = child;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const url = await within(
      'start',
      new Promise<string>((done, reject) => {
        const onData = (d: Buffer): void => {
          output += d.toString('utf8');
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/.exec(output);
          if (m) done(m[1]!);
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        void exited.then((code) => reject(new Error(`the gateway exited (${code}) before it was listening`)));
      }),
    );
    step(`listening on ${url}`);
    if (output.includes('started without the flags')) throw new Error('the gateway warns that it was started without the image\'s Node flags');

    const ready = await within('readyz', fetch(`${url}/readyz`));
    if (!ready.ok) throw new Error(`/readyz answered ${ready.status}`);
    step('/readyz ok');

    const res = await within('query', fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ vms(first: 3) { nodes { id name status } } }' }) }));
    const body = (await res.json()) as { data?: { vms?: { nodes: unknown[] } }; errors?: unknown };
    if (body.errors || !body.data?.vms?.nodes.length) throw new Error(`the smoke query failed: ${JSON.stringify(body)}`);
    step(`query: ${body.data.vms.nodes.length} VMs listed`);

    const deep = (await (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ vms(first: 1) { nodes { provider { name } } } }' }) })).json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    if (deep.errors?.[0]?.extensions?.code !== 'GRAPHQL_VALIDATION_FAILED') throw new Error(`CONSOLE_GATEWAY_LIMITS_MAX_DEPTH=3 did not apply: ${JSON.stringify(deep)}`);
    step('environment: limits.maxDepth=3 applied');

    const vmId = await within('first VM', firstVmId(url, 'tower'));
    const console_ = await within('console', openConsole(url, vmId));
    const types = await within('RFB', rfbSecurityTypes(console_));
    if (types.length === 0) throw new Error('the console offered no RFB security types');
    step(`console ${vmId}: RFB through the gateway, security types [${types.join(', ')}]`);
    console_.ws.close();

    const simulators = readFileSync(log, 'utf8')
      .split('\n')
      .filter((u) => u.startsWith('file:'))
      .map((u) => fileURLToPath(u.replace(/[?#].*$/u, '')))
      .filter((f) => f.includes(`${join('dist', 'simulators')}/`) || /[\\/]node_modules[\\/]selfsigned[\\/]/.test(f));
    if (simulators.length > 0) throw new Error(`the production start loaded simulator modules: ${simulators.join(', ')}`);
    step('no simulator module loaded');

    child.kill('SIGTERM');
    const code = await within('SIGTERM', exited);
    if (code !== 0) throw new Error(`SIGTERM: exit code ${code}`);
    step('SIGTERM: exit 0');
    if (output.includes(DEFAULT_CLOUDTOWER_USER.password)) throw new Error('the upstream password reached the output');

    const hash = spawnSync(process.execPath, [MAIN, 'hash-key'], { cwd: APP, input: 'smoke-test-key-0123456789abcdef', encoding: 'utf8' });
    if (hash.status !== 0 || !/^sha256:[0-9a-f]{64}$/m.test(hash.stdout)) throw new Error(`node dist/main.js hash-key failed (${hash.status}): ${hash.stdout}${hash.stderr}`);
    step('node dist/main.js hash-key prints a sha256 hash');
  } catch (err) {
    console.error(`smoke: FAILED: ${err instanceof Error ? err.message : String(err)}\n--- gateway output ---\n${output}`);
    process.exitCode = 1;
  } finally {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await sim.close();
    await farm.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.exitCode !== 1) step('production start OK');
}

await main();
