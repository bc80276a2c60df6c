import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DesCipher, desEncryptBlock, vncAuthResponse, vncPasswordKey } from '../../src/rfb/des.js';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('DES block encryption', () => {
  // Published vectors: the worked example of "The DES Algorithm Illustrated" (Grabbe), the
  // all-zero/all-one and NBS validation vectors; each also checked with `openssl enc -des-ecb -provider legacy`.
  it.each([
    ['133457799BBCDFF1', '0123456789ABCDEF', '85E813540F0AB405'],
    ['0E329232EA6D0D73', '8787878787878787', '0000000000000000'],
    ['0000000000000000', '0000000000000000', '8CA64DE9C1B123A7'],
    ['FFFFFFFFFFFFFFFF', 'FFFFFFFFFFFFFFFF', '7359B2163E4EDC58'],
    ['3000000000000000', '1000000000000001', '958E6E627A05557B'],
    ['1111111111111111', '1111111111111111', 'F40379AB9E0EC533'],
    ['0123456789ABCDEF', '1111111111111111', '17668DFC7292532D'],
    ['FEDCBA9876543210', '0123456789ABCDEF', 'ED39D950FA74BCC4'],
  ])('key %s, plaintext %s -> %s', (key, plaintext, ciphertext) => {
    expect(desEncryptBlock(hex(key), hex(plaintext)).toString('hex').toUpperCase()).toBe(ciphertext);
  });

  it('ignores the parity bit of each key byte', () => {
    const key = hex('133457799BBCDFF1');
    const flipped = Buffer.from(key.map((b) => b ^ 1));
    expect(desEncryptBlock(flipped, hex('0123456789ABCDEF'))).toEqual(desEncryptBlock(key, hex('0123456789ABCDEF')));
  });

  it('ECB encrypts each block on its own', () => {
    const cipher = new DesCipher(hex('133457799BBCDFF1'));
    const out = cipher.encryptEcb(hex('0123456789ABCDEF0123456789ABCDEF1111111111111111'));
    const third = desEncryptBlock(hex('133457799BBCDFF1'), hex('1111111111111111')).toString('hex').toUpperCase();
    expect(out.toString('hex').toUpperCase()).toBe('85E813540F0AB405'.repeat(2) + third);
  });

  it('rejects wrong key, block and data lengths', () => {
    expect(() => new DesCipher(Buffer.alloc(7))).toThrow(RangeError);
    expect(() => desEncryptBlock(Buffer.alloc(8), Buffer.alloc(9))).toThrow(RangeError);
    expect(() => new DesCipher(Buffer.alloc(8)).encryptEcb(Buffer.alloc(12))).toThrow(RangeError);
  });
});

describe('VNC Authentication', () => {
  it('mirrors the bits of each password byte and zero-pads to 8', () => {
    // 'p' = 0x70 = 0111_0000 -> 0000_1110 = 0x0e; 'a' = 0x61 = 0110_0001 -> 1000_0110 = 0x86
    expect(vncPasswordKey('pa').toString('hex')).toBe('0e86000000000000');
    expect(vncPasswordKey('password').toString('hex')).toBe('0e86ceceeef64e26');
    expect(vncPasswordKey('password-and-more')).toEqual(vncPasswordKey('password'));
  });

  // Each computed two independent ways: OpenSSL's DES (legacy provider) with the bit-mirrored key,
  // and noVNC 1.7's own DES (core/crypto/des.js, from Flashlight VNC).
  it.each([
    ['password', '000102030405060708090a0b0c0d0e0f', 'b866924125c8eebb9debc1db61c538e2'],
    ['', '5a1f0c2e9b3d47a6c8e0f1d2b3a49587', 'f1efb4b6b4eb5cd5d214f465312e69d9'],
    ['secret', '5a1f0c2e9b3d47a6c8e0f1d2b3a49587', 'aeb4648c67582255a95f2afa61d693b8'],
    ['longpassword123', '5a1f0c2e9b3d47a6c8e0f1d2b3a49587', '6c9d356750b9bb625b45b65d39f83cb0'],
    ['P@ss w0rd', '5a1f0c2e9b3d47a6c8e0f1d2b3a49587', '1e437ee5e915357e6aaaa2f9d6189cf3'],
  ])('password %j, challenge %s', (password, challenge, response) => {
    expect(vncAuthResponse(password, hex(challenge)).toString('hex')).toBe(response);
  });

  it('agrees with noVNC for random passwords and challenges', async () => {
    const desPath = fileURLToPath(new URL('../../node_modules/@novnc/novnc/core/crypto/des.js', import.meta.url));
    // noVNC's package "exports" hides this module, so load it by file URL; it has no type declarations.
    const { DESECBCipher } = (await import(pathToFileURL(desPath).href)) as {
      DESECBCipher: { importKey(key: number[]): { encrypt(algorithm: unknown, data: Uint8Array): Uint8Array } };
    };
    for (let i = 0; i < 20; i++) {
      const password = randomBytes(6).toString('base64'); // 8 ASCII characters
      const challenge = randomBytes(16);
      const theirs = DESECBCipher.importKey([...password].map((c) => c.charCodeAt(0))).encrypt({ name: 'DES-ECB' }, challenge);
      expect(vncAuthResponse(password, challenge).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
    }
  });

  it('requires a 16-byte challenge', () => {
    expect(() => vncAuthResponse('x', Buffer.alloc(8))).toThrow(RangeError);
  });
});
