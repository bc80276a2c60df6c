import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayError } from '../../../src/errors.js';
import type { AbiquoEvent } from '../../../src/upstreams/abiquo/events.js';
import { AbiquoSimulator, type AbiquoSimulatorOptions } from '../../../src/simulators/abiquo/index.js';
import { AbiquoEventStream, type AbiquoStreamHandlers } from '../../../src/upstreams/abiquo/stream.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { RecordingPublisher } from '../../helpers/recording-publisher.js';
import { abiquoConfig, upstreamDeps } from './helpers.js';

let sim: AbiquoSimulator | null = null;
let stream: AbiquoEventStream | null = null;

afterEach(async () => {
  await stream?.stop();
  await sim?.close();
  stream = null;
  sim = null;
});

/** Collects stream callbacks and lets a test await the n-th of each. */
class Recorder {
  events: AbiquoEvent[] = [];
  connects = 0;
  disconnects: Array<GatewayError | null> = [];
  #waiters: Array<() => boolean> = [];
  #notify() {
    this.#waiters = this.#waiters.filter((check) => !check());
  }
  until(cond: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (cond() ? (resolve(), true) : false);
      if (!check()) this.#waiters.push(check);
    });
  }
  options(): AbiquoStreamHandlers {
    return {
      onEvent: (e) => {
        this.events.push(e);
        this.#notify();
      },
      onConnected: () => {
        this.connects++;
        this.#notify();
      },
      onDisconnected: (err) => {
        this.disconnects.push(err);
        this.#notify();
      },
    };
  }
}

/** `config` is laid over a valid provider entry whose events.url is the simulator's stream. */
async function setup(simOpts: AbiquoSimulatorOptions = {}, config: Record<string, unknown> = {}) {
  sim = await AbiquoSimulator.start(simOpts);
  const rec = new Recorder();
  const timers = new FakeClock();
  const publisher = new RecordingPublisher();
  const { events, ...rest } = config as { events?: Record<string, unknown> };
  stream = new AbiquoEventStream(
    abiquoConfig({ url: sim.apiUrl, username: 'admin', password: 'xabiquo', events: { url: sim.streamUrl, ...events }, ...rest }),
    {},
    upstreamDeps(publisher, timers),
    rec.options(),
    () => 0.5,
  );
  stream.start();
  return { sim, rec, timers, stream, publisher };
}

describe('AbiquoEventStream', () => {
  it('ignores the blank first message and delivers legacy events', async () => {
    const { sim, rec } = await setup();
    await sim.waitForStreams(1);
    await rec.until(() => rec.connects === 1);
    sim.deployVm(2, { id: 20, vdcId: 4, vappId: 5 });
    await rec.until(() => rec.events.length >= 2);
    expect(rec.events.map((e) => [e.format, e.action, e.enterpriseId, e.vmId])).toEqual([
      ['legacy', 'DEPLOY', 2, 20],
      ['legacy', 'DEPLOY_FINISH', 2, 20],
    ]);
    expect(rec.events[0]!.entityUri).toBe('/cloud/virtualdatacenters/4/virtualappliances/5/virtualmachines/20');
  });

  it('delivers 4.7+ trace events', async () => {
    const { sim, rec } = await setup({ eventFormat: 'trace' });
    await sim.waitForStreams(1);
    sim.undeployVm(1, 2);
    await rec.until(() => rec.events.length >= 2);
    expect(rec.events.map((e) => [e.format, e.action, e.enterpriseId, e.vmId, e.entityType])).toEqual([
      ['trace', 'UNDEPLOY', 1, 2, 'VIRTUAL_MACHINE'],
      ['trace', 'UNDEPLOY_FINISH', 1, 2, 'VIRTUAL_MACHINE'],
    ]);
    expect(rec.events[0]!.userUri).toBe('/admin/enterprises/1/users/1');
  });

  it('subscribes with the configured action filter', async () => {
    const { sim, rec } = await setup({}, { events: { actions: ['UNDEPLOY_FINISH'] } });
    await sim.waitForStreams(1);
    sim.deployVm(1, { id: 30 });
    sim.undeployVm(1, 30);
    await rec.until(() => rec.events.length >= 1);
    // Same socket, in order: had DEPLOY, DEPLOY_FINISH or UNDEPLOY passed, they would have come first.
    expect(rec.events.map((e) => e.action)).toEqual(['UNDEPLOY_FINISH']);
  });

  it('reconnects after a drop with full-jitter exponential backoff and reports each connect', async () => {
    const { sim, rec, timers } = await setup({}, { backoff: { initialMs: 1000, maxMs: 3000 } });
    await rec.until(() => rec.connects === 1);

    sim.refuseStreams(503);
    sim.dropStreams();
    await rec.until(() => rec.disconnects.length === 1);
    expect(rec.disconnects[0]).toBeNull();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await timers.nextTimer(() => true);
      delays.push(t.ms);
      timers.fire(t);
      await rec.until(() => rec.disconnects.length === i + 2);
      expect(rec.disconnects[i + 1]).toMatchObject({ code: 'UPSTREAM_ERROR' });
    }
    // random() = 0.5 of a ceiling doubling from 1000 and capped at 3000.
    expect(delays).toEqual([500, 1000, 1500]);

    sim.refuseStreams(null);
    timers.fire(await timers.nextTimer(() => true));
    await rec.until(() => rec.connects === 2);
    expect(stream!.state()).toMatchObject({ connected: true, connects: 2, attempt: 0 });
    await sim.waitForStreams(1);
    sim.emitVmEvent(1, 1, 'DEPLOY_FINISH');
    await rec.until(() => rec.events.length === 1);
  });

  it('publishes upstreams.connected / upstreams.disconnected on connect, drop and reconnect, as DRP does', async () => {
    const { sim, rec, timers, publisher } = await setup();
    const transitions = () =>
      publisher.events
        .filter((e) => e.source === 'GATEWAY' && e.type === 'upstreams')
        .map((e) => [`${e.type}.${e.action}.${e.key}`, (e.object as { kind: string }).kind]);
    await rec.until(() => rec.connects === 1);
    expect(transitions()).toEqual([['upstreams.connected.abq', 'abiquo']]);

    sim.dropStreams();
    await publisher.waitFor((e) => e.action === 'disconnected');
    expect(stream!.state().connected).toBe(false);
    // A failed attempt while down is no second transition.
    sim.refuseStreams(503);
    timers.fire(await timers.nextTimer(() => true));
    await rec.until(() => rec.disconnects.length === 2);
    expect(transitions()).toEqual([
      ['upstreams.connected.abq', 'abiquo'],
      ['upstreams.disconnected.abq', 'abiquo'],
    ]);

    sim.refuseStreams(null);
    timers.fire(await timers.nextTimer(() => true));
    await rec.until(() => rec.connects === 2);
    expect(transitions()).toEqual([
      ['upstreams.connected.abq', 'abiquo'],
      ['upstreams.disconnected.abq', 'abiquo'],
      ['upstreams.connected.abq', 'abiquo'],
    ]);
    expect(publisher.events.filter((e) => e.source === 'GATEWAY').map((e) => e.object)).toContainEqual({
      provider: 'abq',
      kind: 'abiquo',
      connected: false,
      error: null,
    });
  });

  it('reports refused credentials and keeps retrying', async () => {
    const { rec, timers } = await setup({}, { password: 'wrong' });
    await rec.until(() => rec.disconnects.length === 1);
    expect(rec.disconnects[0]).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED' });
    expect(rec.connects).toBe(0);
    await timers.nextTimer(() => true);
  });

  it('schedules nothing after stop', async () => {
    const { rec, timers, stream: s } = await setup();
    await rec.until(() => rec.connects === 1);
    await s.stop();
    expect(timers.pending).toEqual([]);
    expect(rec.disconnects).toEqual([]);
  });
});
