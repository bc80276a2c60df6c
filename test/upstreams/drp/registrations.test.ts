import { describe, expect, it } from 'vitest';
import type { UpstreamUnavailableError } from '../../../src/errors.js';
import { DrpRegistrations } from '../../../src/upstreams/drp/registrations.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const ACK_MS = 1000;

/** Registrations with a recorded "socket": no network, time moves only when the test says so. */
function harness() {
  const clock = new FakeClock();
  const sent: string[] = [];
  const ackTimeouts: UpstreamUnavailableError[] = [];
  let socketOpen = false;
  const registrations = new DrpRegistrations({
    name: 'drp1',
    ackTimeoutMs: ACK_MS,
    clock,
    send: (verb, filter) => {
      if (!socketOpen) return false;
      sent.push(`${verb} ${filter}`);
      return true;
    },
    onAckTimeout: (err) => ackTimeouts.push(err),
  });
  const connect = () => {
    socketOpen = true;
    registrations.connected();
  };
  const disconnect = () => {
    socketOpen = false;
    registrations.disconnected();
  };
  return { clock, sent, ackTimeouts, registrations, connect, disconnect };
}

interface Tracked {
  state: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
  /** Settles (never rejects) once the tracked promise has, after `state` is updated. */
  done: Promise<void>;
}

function track(p: Promise<void>): Tracked {
  const t = { state: 'pending' } as Tracked;
  t.done = p.then(
    () => {
      t.state = 'resolved';
    },
    (err: unknown) => {
      t.state = 'rejected';
      t.error = err;
    },
  );
  return t;
}

describe('DRP registrations', () => {
  it('reference-counts holders: one register for two, one deregister after both release', async () => {
    const h = harness();
    h.connect();
    const a = track(h.registrations.acquire('machines.*.*'));
    const b = track(h.registrations.acquire('machines.*.*'));
    expect(h.sent).toEqual(['register machines.*.*']);
    h.registrations.ack('register', 'machines.*.*');
    await Promise.all([a.done, b.done]);
    expect([a.state, b.state]).toEqual(['resolved', 'resolved']);
    // A third holder of a confirmed filter resolves at once, with nothing sent.
    await h.registrations.acquire('machines.*.*');
    await h.registrations.release('machines.*.*');
    await h.registrations.release('machines.*.*');
    expect(h.sent).toEqual(['register machines.*.*']);
    expect(h.registrations.filters()).toEqual(['machines.*.*']);
    const last = track(h.registrations.release('machines.*.*'));
    expect(h.sent).toEqual(['register machines.*.*', 'deregister machines.*.*']);
    expect(h.registrations.filters()).toEqual([]);
    h.registrations.ack('deregister', 'machines.*.*');
    await last.done;
    expect(last.state).toBe('resolved');
    await h.registrations.release('machines.*.*'); // one too many: ignored
    expect(h.sent).toHaveLength(2);
  });

  it('matches acks by verb and filter, and an ack of a released registration confirms no later one', async () => {
    const h = harness();
    h.connect();
    const first = track(h.registrations.acquire('machines.*.*'));
    const released = track(h.registrations.release('machines.*.*'));
    const second = track(h.registrations.acquire('machines.*.*'));
    expect(h.sent).toEqual(['register machines.*.*', 'deregister machines.*.*', 'register machines.*.*']);
    await first.done;
    expect(first.state).toBe('rejected'); // released before DRP answered

    h.registrations.ack('register', 'profiles.*.*'); // another filter
    h.registrations.ack('save', 'machines.*.*'); // not a command verb
    h.registrations.ack('register', 'machines.*.*'); // answers the first register, whose holder is gone
    // A sentinel registration answered after those acks: callbacks run in the order promises settle,
    // so had one of them resolved `second`, it would be resolved by the time the sentinel is.
    const sentinel = track(h.registrations.acquire('sentinel.*.*'));
    h.registrations.ack('register', 'sentinel.*.*');
    await sentinel.done;
    expect(sentinel.state).toBe('resolved');
    expect(second.state).toBe('pending');
    h.registrations.ack('deregister', 'machines.*.*');
    h.registrations.ack('register', 'machines.*.*');
    await Promise.all([released.done, second.done]);
    expect([released.state, second.state]).toEqual(['resolved', 'resolved']);
  });

  it('registers held filters after (re)connecting, never twice on one connection', async () => {
    const h = harness();
    const early = track(h.registrations.acquire('machines.*.*')); // before any socket
    expect(h.sent).toEqual([]);
    h.connect();
    expect(h.sent).toEqual(['register machines.*.*']);
    h.registrations.ack('register', 'machines.*.*');
    await early.done;
    expect(early.state).toBe('resolved');

    // A deregister in flight when the socket drops resolves then: DRP forgot it with the socket.
    const unacked = track(h.registrations.acquire('profiles.*.*')); // sent, never answered on this socket
    const pendingRelease = track(h.registrations.release('machines.*.*'));
    h.disconnect();
    await pendingRelease.done;
    expect(pendingRelease.state).toBe('resolved');

    h.sent.length = 0;
    const again = track(h.registrations.acquire('profiles.*.*')); // held twice now, still one register
    h.connect();
    expect(h.sent).toEqual(['register profiles.*.*']);
    h.registrations.ack('register', 'profiles.*.*');
    await Promise.all([unacked.done, again.done]);
    expect([unacked.state, again.state]).toEqual(['resolved', 'resolved']);
  });

  it('gives up waiting after ackTimeoutMs, reporting it only when connected, and keeps the hold', async () => {
    const h = harness();
    h.connect();
    const unanswered = track(h.registrations.acquire('machines.*.*'));
    h.clock.advance(ACK_MS);
    await unanswered.done;
    expect(unanswered.state).toBe('rejected');
    expect(unanswered.error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringMatching(/no acknowledgement of register machines/) });
    expect(h.ackTimeouts).toHaveLength(1);
    expect(h.registrations.filters()).toEqual(['machines.*.*']);

    h.disconnect();
    const offline = track(h.registrations.acquire('profiles.*.*'));
    h.clock.advance(ACK_MS);
    await offline.done;
    expect(offline.error).toMatchObject({ message: expect.stringMatching(/not connected; register profiles/) });
    expect(h.ackTimeouts).toHaveLength(1);
    expect(h.clock.size).toBe(0);
  });

  it('fails every waiting holder on failAll()', async () => {
    const h = harness();
    const waiting = track(h.registrations.acquire('machines.*.*'));
    h.registrations.failAll(new Error('closed'));
    await waiting.done;
    expect(waiting).toMatchObject({ state: 'rejected', error: new Error('closed') });
  });
});
