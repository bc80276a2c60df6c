import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { DEFAULT_CLOUDTOWER_USER, defaultCloudTowerVms, startCloudTowerSimulator, type CloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { postGraphQL } from '../helpers/gateway.js';
import { firstVmId, openConsole, openSubscription, rfbSecurityTypes, spawnGateway, type GatewayProcess } from './child.js';

let child: GatewayProcess | undefined;
let sim: CloudTowerSimulator | undefined;
let farm: ConsoleFarm | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  await sim?.close();
  await farm?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = sim = farm = dir = undefined;
});

function towerProvider(name: string, s: CloudTowerSimulator): Record<string, unknown> {
  return {
    name,
    kind: 'cloudtower',
    url: s.url,
    username: DEFAULT_CLOUDTOWER_USER.username,
    password: DEFAULT_CLOUDTOWER_USER.password,
    websockify: { cluster: { scheme: 'ws', port: s.port }, tower: { scheme: 'ws', port: s.port } },
  };
}

/** Three levels below `vms`: over a maxDepth of 3, within the default 10. */
const DEEP_QUERY = '{ vms(first: 1) { nodes { provider { name } } } }';

describe('SIGHUP', () => {
  it('swaps providers and limits without dropping live consoles, and refuses a bad config keeping the old one', async () => {
    farm = new ConsoleFarm();
    const vms = defaultCloudTowerVms();
    for (const vm of vms) await farm.add(vm.id, { name: vm.name });
    sim = await startCloudTowerSimulator({ vms, consoleFor: (vm) => farm!.locate(vm.id) });
    dir = mkdtempSync(join(tmpdir(), 'cg-reload-'));
    const file = join(dir, 'gateway.yaml');
    const write = (config: Record<string, unknown>): void => writeFileSync(file, JSON.stringify(config));
    // Only the signal reloads here; the file watch has its own test below.
    const base = { server: { host: '127.0.0.1', port: 0 }, log: { level: 'info' }, shutdown: { consoleGraceSeconds: 0 }, reload: { watchFile: false } };
    write({ ...base, providers: [towerProvider('tower', sim)] });

    child = spawnGateway(['--config', file]);
    const url = (await child.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/))[1]!;
    const gql = (q: string) => postGraphQL<any>(url, q);
    const liveConsole = await openConsole(url, await firstVmId(url, 'tower'));
    const subscription = await openSubscription(url, 'subscription { events { id } }');
    expect((await gql(DEEP_QUERY)).errors).toBeUndefined();
    expect((await gql('{ vms(provider: "tower2", first: 1) { nodes { id } } }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // 1. A second provider and a tighter depth limit.
    write({ ...base, limits: { maxDepth: 3 }, providers: [towerProvider('tower', sim), towerProvider('tower2', sim)] });
    child.proc.kill('SIGHUP');
    await child.waitFor(/"msg":"config reloaded"/);
    const added = await gql('{ vms(provider: "tower2", first: 1) { nodes { id } } }');
    expect(added.errors).toBeUndefined();
    expect(added.data.vms.nodes[0].id).toMatch(/^tower2:/);
    expect((await gql(DEEP_QUERY)).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await rfbSecurityTypes(liveConsole)).not.toHaveLength(0);

    // 2. A bad file: refused with the key named, the running config kept.
    writeFileSync(file, JSON.stringify({ ...base, providers: [{ ...towerProvider('tower', sim), url: 'not-a-url' }] }));
    child.proc.kill('SIGHUP');
    await child.waitFor(/config reload refused[^\n]*providers\.0\.url/);
    expect((await gql('{ vms(provider: "tower2", first: 1) { nodes { id } } }')).errors).toBeUndefined();
    expect((await gql(DEEP_QUERY)).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    // 3. The console's own provider removed: the provider is closed, the established console goes on.
    write({ ...base, providers: [towerProvider('tower2', sim)] });
    child.proc.kill('SIGHUP');
    await child.waitFor(/"msg":"config reloaded"[^\n]*"stopped":\["tower"\]|"stopped":\["tower"\][^\n]*"msg":"config reloaded"/);
    expect((await gql('{ vms(provider: "tower", first: 1) { nodes { id } } }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gql(DEEP_QUERY)).errors).toBeUndefined();
    // The RFB exchange goes on: pick security type None (1) and read the SecurityResult.
    liveConsole.ws.send(Buffer.from([1]));
    expect([...(await liveConsole.nextMessage())]).toEqual([0, 0, 0, 0]);
    expect(subscription.ws.readyState).toBe(subscription.ws.OPEN);

    child.proc.kill('SIGTERM');
    expect(await liveConsole.closed).toMatchObject({ code: 1001 });
    expect(await child.exited).toBe(0);
    // No line of the whole run carries the upstream password.
    expect(child.output()).not.toContain(DEFAULT_CLOUDTOWER_USER.password);
  }, 60_000);

  it('is ignored (with a warning) by the embedded default, which has no file to re-read', async () => {
    child = spawnGateway([], { CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'info' });
    await child.waitFor(/Try:/);
    child.proc.kill('SIGHUP');
    await child.waitFor(/SIGHUP ignored/);
    expect(child.proc.exitCode).toBe(null);
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  }, 60_000);
});

describe('a change to the config file', () => {
  it('reloads a Kubernetes ConfigMap update (a symlink swap) after the debounce, and refuses a bad one keeping the old config', async () => {
    sim = await startCloudTowerSimulator({ vms: defaultCloudTowerVms() });
    dir = mkdtempSync(join(tmpdir(), 'cg-watch-'));
    // A ConfigMap volume: gateway.yaml -> ..data/gateway.yaml, ..data -> a versioned directory, swapped by rename.
    let version = 0;
    const publish = (config: Record<string, unknown>): void => {
      const v = `..v${++version}`;
      mkdirSync(join(dir!, v));
      writeFileSync(join(dir!, v, 'gateway.yaml'), JSON.stringify(config));
      symlinkSync(v, join(dir!, '..data_tmp'));
      renameSync(join(dir!, '..data_tmp'), join(dir!, '..data'));
    };
    const base = { server: { host: '127.0.0.1', port: 0 }, log: { level: 'info' }, shutdown: { consoleGraceSeconds: 0 }, reload: { debounceMs: 50 } };
    publish({ ...base, providers: [towerProvider('tower', sim)] });
    symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));

    child = spawnGateway(['--config', join(dir, 'gateway.yaml')]);
    const url = (await child.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/))[1]!;
    const gql = (q: string) => postGraphQL<any>(url, q);
    expect((await gql(DEEP_QUERY)).errors).toBeUndefined();

    publish({ ...base, limits: { maxDepth: 3 }, providers: [towerProvider('tower', sim)] });
    await child.waitFor(/"trigger":"file changed"[^\n]*"msg":"config reloaded"/);
    expect((await gql(DEEP_QUERY)).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    publish({ ...base, providers: [{ ...towerProvider('tower', sim), url: 'not-a-url' }] });
    await child.waitFor(/providers\.0\.url[^\n]*"trigger":"file changed"[^\n]*config reload refused/);
    expect((await gql(DEEP_QUERY)).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(child.output()).not.toContain(DEFAULT_CLOUDTOWER_USER.password);
  }, 60_000);
});
