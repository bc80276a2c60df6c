import { describe, expect, it } from 'vitest';
import { vncAuthResponse } from '../../src/rfb/des.js';
import { RfbError, RfbErrorCode } from '../../src/rfb/errors.js';
import { BrowserNoneSecurityServer, UpstreamVncAuthenticator } from '../../src/rfb/handshake.js';
import type { HandshakeStep } from '../../src/rfb/handshake.js';

const banner = (v: string) => Buffer.from(`RFB ${v}\n`, 'latin1');
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const reason = (text: string) => Buffer.concat([u32(Buffer.byteLength(text)), Buffer.from(text)]);
const challenge = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

function catchRfbError(fn: () => unknown): RfbError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RfbError);
    return err as RfbError;
  }
  throw new Error('expected an RfbError');
}

/** Feeds `bytes` one at a time, collecting everything sent; returns the final step. */
function feedBytewise(machine: { feed(chunk: Buffer): HandshakeStep }, bytes: Buffer): { sent: Buffer; last: HandshakeStep } {
  const sent: Buffer[] = [];
  let last: HandshakeStep = { send: [], done: false, rest: Buffer.alloc(0) };
  for (const byte of bytes) {
    last = machine.feed(Buffer.from([byte]));
    sent.push(...last.send);
    if (last.done) break;
  }
  return { sent: Buffer.concat(sent), last };
}

describe('UpstreamVncAuthenticator', () => {
  it('3.8 with None: answers 3.8, picks None, reads SecurityResult, hands back what follows', () => {
    const auth = new UpstreamVncAuthenticator();
    expect(auth.feed(banner('003.008'))).toEqual({ send: [banner('003.008')], done: false, rest: Buffer.alloc(0) });
    expect(auth.feed(Buffer.from([1, 1])).send).toEqual([Buffer.from([1])]);
    const serverInitStart = Buffer.from([2, 128, 1, 144]);
    const step = auth.feed(Buffer.concat([u32(0), serverInitStart]));
    expect(step).toEqual({ send: [], done: true, rest: serverInitStart });
    expect(auth.securityType).toBe(1);
    expect(auth.feed(Buffer.from([9]))).toEqual({ send: [], done: true, rest: Buffer.from([9]) });
  });

  it('3.8 with VNC Authentication: answers the challenge with the DES response', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'secret' });
    auth.feed(banner('003.008'));
    expect(auth.feed(Buffer.from([1, 2])).send).toEqual([Buffer.from([2])]);
    expect(auth.feed(challenge).send).toEqual([vncAuthResponse('secret', challenge)]);
    expect(auth.feed(u32(0))).toEqual({ send: [], done: true, rest: Buffer.alloc(0) });
  });

  it('prefers None over VNC Authentication when both are offered', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'secret' });
    auth.feed(banner('003.008'));
    expect(auth.feed(Buffer.from([3, 16, 2, 1])).send).toEqual([Buffer.from([1])]);
  });

  it('reports the server reason on a failed SecurityResult, without the password', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'hunter22' });
    auth.feed(Buffer.concat([banner('003.008'), Buffer.from([1, 2]), challenge]));
    const err = catchRfbError(() => auth.feed(Buffer.concat([u32(1), reason('Authentication failed')])));
    expect(err.code).toBe(RfbErrorCode.AuthFailed);
    expect(err.reason).toBe('Authentication failed');
    expect(err.message).not.toContain('hunter22');
    expect(() => auth.feed(Buffer.alloc(1))).toThrow(RfbError);
  });

  it('waits for a split failure reason before throwing', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'x' });
    auth.feed(Buffer.concat([banner('003.008'), Buffer.from([1, 2]), challenge]));
    const failure = Buffer.concat([u32(1), reason('too many attempts')]);
    expect(auth.feed(failure.subarray(0, 7)).done).toBe(false);
    expect(catchRfbError(() => auth.feed(failure.subarray(7))).reason).toBe('too many attempts');
  });

  it('3.7 with None: no SecurityResult, done right after the choice', () => {
    const auth = new UpstreamVncAuthenticator();
    expect(auth.feed(banner('003.007')).send).toEqual([banner('003.007')]);
    const step = auth.feed(Buffer.from([1, 1, 0xaa]));
    expect(step).toEqual({ send: [Buffer.from([1])], done: true, rest: Buffer.from([0xaa]) });
  });

  it('3.7 with VNC Authentication: a failed result carries no reason', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'pw' });
    auth.feed(Buffer.concat([banner('003.007'), Buffer.from([1, 2]), challenge]));
    expect(catchRfbError(() => auth.feed(u32(1))).code).toBe(RfbErrorCode.AuthFailed);
  });

  it('3.3: the server picks the type as a u32', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'pw' });
    expect(auth.feed(banner('003.003')).send).toEqual([banner('003.003')]);
    expect(auth.feed(Buffer.concat([u32(2), challenge])).send).toEqual([vncAuthResponse('pw', challenge)]);
    expect(auth.feed(u32(0)).done).toBe(true);

    const none = new UpstreamVncAuthenticator();
    const step = none.feed(Buffer.concat([banner('003.003'), u32(1), Buffer.from([7])]));
    expect(step).toMatchObject({ done: true, rest: Buffer.from([7]) });
  });

  it('3.3: type 0 is a refusal with a reason', () => {
    const auth = new UpstreamVncAuthenticator();
    const err = catchRfbError(() => auth.feed(Buffer.concat([banner('003.003'), u32(0), reason('too many connections')])));
    expect(err).toMatchObject({ code: RfbErrorCode.ServerRefused, reason: 'too many connections' });
  });

  it('3.8: an empty type list is a refusal with a reason', () => {
    const auth = new UpstreamVncAuthenticator();
    const err = catchRfbError(() => auth.feed(Buffer.concat([banner('003.008'), Buffer.from([0]), reason('go away')])));
    expect(err).toMatchObject({ code: RfbErrorCode.ServerRefused, reason: 'go away' });
  });

  it('needs a password when only VNC Authentication is offered', () => {
    const auth = new UpstreamVncAuthenticator({ password: null });
    auth.feed(banner('003.008'));
    expect(catchRfbError(() => auth.feed(Buffer.from([1, 2]))).code).toBe(RfbErrorCode.PasswordRequired);
  });

  it('refuses servers offering only types it does not implement', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'pw' });
    auth.feed(banner('003.008'));
    const err = catchRfbError(() => auth.feed(Buffer.from([2, 16, 19])));
    expect(err.code).toBe(RfbErrorCode.UnsupportedSecurity);
    expect(err.reason).toContain('16, 19');
  });

  it.each([
    ['003.889', '003.008'],
    ['003.005', '003.003'],
    ['003.007', '003.007'],
  ])('answers server version %s with %s', (server, answer) => {
    expect(new UpstreamVncAuthenticator().feed(banner(server)).send).toEqual([banner(answer)]);
  });

  it.each([['HTTP/1.1 200'], ['RFB 004.000\n'], ['RFB 03.008\n\n']])('rejects %j as a version banner', (text) => {
    const err = catchRfbError(() => new UpstreamVncAuthenticator().feed(Buffer.from(text.padEnd(12, ' '))));
    expect(err.code).toBe(RfbErrorCode.Protocol);
  });

  it('handles the whole server side one byte at a time', () => {
    const auth = new UpstreamVncAuthenticator({ password: 'pw' });
    const server = Buffer.concat([banner('003.008'), Buffer.from([1, 2]), challenge, u32(0)]);
    const { sent, last } = feedBytewise(auth, server);
    expect(last.done).toBe(true);
    expect(sent).toEqual(Buffer.concat([banner('003.008'), Buffer.from([2]), vncAuthResponse('pw', challenge)]));
  });
});

describe('BrowserNoneSecurityServer', () => {
  it('starts with the 3.8 banner', () => {
    expect(new BrowserNoneSecurityServer().start()).toEqual(banner('003.008'));
  });

  it('3.8: offers [None], sends SecurityResult OK, keeps a coalesced ClientInit in rest', () => {
    const server = new BrowserNoneSecurityServer();
    expect(server.feed(banner('003.008'))).toEqual({ send: [Buffer.from([1, 1])], done: false, rest: Buffer.alloc(0) });
    expect(server.feed(Buffer.from([1, 1]))).toEqual({ send: [u32(0)], done: true, rest: Buffer.from([1]) });
    expect(server.version).toBe('3.8');
  });

  it('3.7: offers [None] and sends no SecurityResult', () => {
    const server = new BrowserNoneSecurityServer();
    server.feed(banner('003.007'));
    expect(server.feed(Buffer.from([1]))).toEqual({ send: [], done: true, rest: Buffer.alloc(0) });
  });

  it('3.3: sends the u32 type None at once and is done', () => {
    const server = new BrowserNoneSecurityServer();
    expect(server.feed(Buffer.concat([banner('003.003'), Buffer.from([0])]))).toEqual({
      send: [u32(1)],
      done: true,
      rest: Buffer.from([0]),
    });
  });

  it('3.8: a client choosing another type gets a failed SecurityResult with a reason', () => {
    const server = new BrowserNoneSecurityServer();
    server.feed(banner('003.008'));
    const err = catchRfbError(() => server.feed(Buffer.from([2])));
    expect(err.code).toBe(RfbErrorCode.UnsupportedSecurity);
    const reply = Buffer.concat(err.reply);
    expect(reply.readUInt32BE(0)).toBe(1);
    expect(reply.subarray(8).toString()).toBe('security type not offered');
  });

  it('rejects a non-RFB client', () => {
    const err = catchRfbError(() => new BrowserNoneSecurityServer().feed(Buffer.from('GET / HTTP/1.1\r\n')));
    expect(err.code).toBe(RfbErrorCode.Protocol);
  });

  it.each(['003.003', '003.007', '003.008'])('completes against UpstreamVncAuthenticator speaking %s', (version) => {
    const server = new BrowserNoneSecurityServer();
    const client = new UpstreamVncAuthenticator();
    // Pretend the server is older by rewriting its banner.
    let toClient: Buffer[] = [banner(version)];
    server.start();
    let clientDone = false;
    let serverDone = false;
    for (let round = 0; round < 10 && !(clientDone && serverDone); round++) {
      const toServer: Buffer[] = [];
      for (const chunk of toClient) {
        const step = client.feed(chunk);
        toServer.push(...step.send);
        clientDone = step.done;
      }
      toClient = [];
      for (const chunk of toServer) {
        const step = server.feed(chunk);
        toClient.push(...step.send);
        serverDone = step.done;
      }
    }
    expect({ clientDone, serverDone }).toEqual({ clientDone: true, serverDone: true });
    expect(server.version).toBe(version === '003.003' ? '3.3' : version === '003.007' ? '3.7' : '3.8');
  });
});
