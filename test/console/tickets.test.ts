import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryTicketStore } from '../../src/console/ticket-store.js';
import type { StoredTicket, TicketRecord, TicketStore } from '../../src/console/ticket-store.js';
import { TicketError, TicketService } from '../../src/console/tickets.js';

function fixture(opts: { ttlMs?: number; reusable?: boolean } = {}) {
  let clock = 1_700_000_000_000;
  const now = (): number => clock;
  const store = new MemoryTicketStore({ now, retainAfterExpiryMs: 60_000, sweepIntervalMs: 0 });
  const service = new TicketService({ now, store, ...opts });
  return { service, store, advance: (ms: number) => (clock += ms), now };
}

async function refusal(p: Promise<unknown>): Promise<TicketError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TicketError) return err;
    throw err;
  }
  throw new Error('expected a TicketError');
}

describe('TicketService', () => {
  it('mints 256-bit base64url tickets bound to a VM and a caller, expiring after the TTL', async () => {
    const { service, now } = fixture();
    const { ticket, expiresAt } = await service.mint({ provider: 'ct', upstreamId: 'vm1', caller: 'alice' });
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(ticket, 'base64url')).toHaveLength(32);
    expect(expiresAt.getTime()).toBe(now() + 30_000);
    const record = await service.redeem(ticket);
    expect(record).toMatchObject({ vmId: 'ct:vm1', caller: 'alice' });
    expect(record.ticketId).toMatch(/^[0-9a-f]{12}$/);
  });

  it('uses injected randomness, and stores only the SHA-256 hash', async () => {
    const puts: string[] = [];
    const inner = new MemoryTicketStore();
    const store: TicketStore = {
      put: async (hash, record, exp) => {
        puts.push(hash);
        await inner.put(hash, record, exp);
      },
      take: (hash, o) => inner.take(hash, o),
      close: () => inner.close(),
    };
    const bytes = Buffer.alloc(32, 7);
    const service = new TicketService({ store, randomBytes: () => Buffer.from(bytes) });
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    expect(ticket).toBe(bytes.toString('base64url'));
    expect(puts).toEqual([createHash('sha256').update(ticket).digest('hex')]);
    expect(JSON.stringify(puts)).not.toContain(ticket);
  });

  it('is single use by default', async () => {
    const { service } = fixture();
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    await service.redeem(ticket);
    const err = await refusal(service.redeem(ticket));
    expect(err.code).toBe('TICKET_USED');
    expect(err.status).toBe(403);
  });

  it('is reusable until expiry when configured', async () => {
    const { service, advance } = fixture({ reusable: true, ttlMs: 10_000 });
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    await service.redeem(ticket);
    await service.redeem(ticket);
    advance(9_999);
    await service.redeem(ticket);
    advance(1);
    expect((await refusal(service.redeem(ticket))).code).toBe('TICKET_EXPIRED');
  });

  it('tells expired from unknown until the retention ends, then forgets', async () => {
    const { service, store, advance } = fixture();
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    advance(30_000);
    expect((await refusal(service.redeem(ticket))).code).toBe('TICKET_EXPIRED');
    advance(60_000);
    store.sweep();
    expect(store.size).toBe(0);
    expect((await refusal(service.redeem(ticket))).code).toBe('TICKET_UNKNOWN');
  });

  it('keeps used tombstones until expiry, then the lazy sweep on mint drops them', async () => {
    const { service, store, advance } = fixture();
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    await service.redeem(ticket);
    expect(store.size).toBe(1);
    advance(29_000);
    expect((await refusal(service.redeem(ticket))).code).toBe('TICKET_USED');
    advance(61_000);
    await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    expect(store.size).toBe(1);
  });

  it('refuses missing, malformed and forged tickets with 401', async () => {
    const { service } = fixture();
    for (const [input, code] of [
      [undefined, 'TICKET_MISSING'],
      [null, 'TICKET_MISSING'],
      ['', 'TICKET_MISSING'],
      ['short', 'TICKET_MALFORMED'],
      ['a'.repeat(44), 'TICKET_MALFORMED'],
      ['+'.repeat(43), 'TICKET_MALFORMED'],
      [randomBytes(32).toString('base64url'), 'TICKET_UNKNOWN'],
    ] as const) {
      const err = await refusal(service.redeem(input));
      expect(err.code).toBe(code);
      expect(err.status).toBe(401);
    }
  });

  it('refuses a ticket for another VM, and that uses it up', async () => {
    const { service } = fixture();
    const { ticket } = await service.mint({ provider: 'ct', upstreamId: 'a', caller: 'c' });
    expect((await refusal(service.redeem(ticket, { vmId: 'ct:b' }))).code).toBe('TICKET_WRONG_VM');
    expect((await refusal(service.redeem(ticket, { vmId: 'ct:a' }))).code).toBe('TICKET_USED');
  });

  it('accepts the right VM when asked', async () => {
    const { service } = fixture();
    const { ticket } = await service.mint({ provider: 'ct', upstreamId: 'a', caller: 'c' });
    expect((await service.redeem(ticket, { vmId: 'ct:a' })).vmId).toBe('ct:a');
  });

  it('never puts the ticket into an error message or its fields', async () => {
    const { service } = fixture();
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    await service.redeem(ticket);
    const errors = [await refusal(service.redeem(ticket)), await refusal(service.redeem(`${ticket}x`)), await refusal(service.redeem(ticket, { vmId: 'x' }))];
    for (const e of errors) {
      expect(`${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`).not.toContain(ticket);
    }
  });

  it('consumes atomically: of concurrent redemptions exactly one wins', async () => {
    const { service } = fixture();
    const { ticket } = await service.mint({ provider: 'p', upstreamId: 'v', caller: 'c' });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => service.redeem(ticket)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('MemoryTicketStore', () => {
  it('returns the state before a consuming take', async () => {
    const store = new MemoryTicketStore();
    const record: TicketRecord = { provider: 'p', upstreamId: 'v', vmId: 'p:v', caller: 'c', ticketId: 'x', issuedAt: new Date(0), expiresAt: new Date(1) };
    await store.put('h', record, 10);
    const first: StoredTicket | null = await store.take('h', { consume: true });
    const second = await store.take('h', { consume: false });
    expect(first?.used).toBe(false);
    expect(second?.used).toBe(true);
    expect(await store.take('other', { consume: true })).toBeNull();
  });
});
