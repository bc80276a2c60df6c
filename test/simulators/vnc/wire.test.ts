import { describe, expect, it } from 'vitest';
import { VncSessionError, VncSessionFailure } from '../../../src/simulators/vnc/errors.js';
import { ReceivedBytes, readClientVersion, stringWithLength } from '../../../src/simulators/vnc/wire.js';

const banner = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('VNC simulator: its own reading of RFB', () => {
  it('maps a client banner onto the handshakes of RFC 6143 7.1.1', () => {
    expect(readClientVersion(banner('RFB 003.008\n'))).toBe('3.8');
    expect(readClientVersion(banner('RFB 003.889\n'))).toBe('3.8'); // Apple
    expect(readClientVersion(banner('RFB 003.007\n'))).toBe('3.7');
    expect(readClientVersion(banner('RFB 003.005\n'))).toBe('3.3');
    expect(readClientVersion(banner('RFB 003.003\n'))).toBe('3.3');
  });

  it('refuses what is not an RFB 3.x banner', () => {
    for (const text of ['RFB 004.000\n', 'GET / HTTP/1.', 'RFB 003.008 ', 'RFB 03.0008\n']) {
      let failure: unknown;
      try {
        readClientVersion(banner(text.padEnd(12, ' ').slice(0, 12)));
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(VncSessionError);
      expect(failure).toMatchObject({ code: VncSessionFailure.Protocol });
    }
  });

  it('frames strings as a u32 length and UTF-8 bytes', () => {
    expect(stringWithLength('vm-ü')).toEqual(Buffer.from([0, 0, 0, 5, 0x76, 0x6d, 0x2d, 0xc3, 0xbc]));
  });

  it('waits for whole fields across split and joined chunks', () => {
    const received = new ReceivedBytes();
    expect(received.take(0)).toEqual(Buffer.alloc(0));
    received.append(Buffer.from([1, 2]));
    expect(received.take(3)).toBeNull();
    received.append(Buffer.from([3, 4, 5]));
    expect(received.peek(3)).toEqual(Buffer.from([1, 2, 3]));
    received.append(Buffer.from([6]));
    expect(received.take(0)).toEqual(Buffer.alloc(0));
    expect(received.take(3)).toEqual(Buffer.from([1, 2, 3]));
    expect(received.take(3)).toEqual(Buffer.from([4, 5, 6]));
    expect(received.peek(1)).toBeNull();
  });
});
