/**
 * DES (FIPS 46-3), encryption only, in plain TypeScript, for RFB "VNC Authentication".
 *
 * Why not node:crypto: OpenSSL 3 moved single DES to the legacy provider, so `des-ecb` is missing
 * from Node 17+ builds unless the process is started with the legacy provider. VNC auth needs two
 * block encryptions per connection, so a small table-driven implementation is plenty.
 *
 * Bits are numbered as in the standard: bit 1 is the most significant bit of the first byte.
 */

// prettier-ignore
const INITIAL_PERMUTATION = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
  62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
  61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

// prettier-ignore
const FINAL_PERMUTATION = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
  38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
  34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];

// prettier-ignore
const EXPANSION = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11,
  12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18, 19, 20, 21, 20, 21,
  22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];

// prettier-ignore
const ROUND_PERMUTATION = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
  2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];

// prettier-ignore
const PERMUTED_CHOICE_1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
  10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
  14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];

// prettier-ignore
const PERMUTED_CHOICE_2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
  23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
  41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
  44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

const KEY_ROTATIONS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/** S-boxes, each 4 rows of 16; row = outer bits (1 and 6) of the 6-bit group, column = inner bits. */
// prettier-ignore
const S_BOXES = [
  [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
    0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
    15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
  [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
    3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
    13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
  [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
    13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
    1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
  [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
    13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
    3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
  [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
    14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
    11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
  [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
    10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
    4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
  [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
    13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
    6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
  [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
    1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
    2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

/** Bytes -> one 0/1 entry per bit, most significant bit first. */
function toBits(bytes: Uint8Array): Uint8Array {
  const bits = new Uint8Array(bytes.length * 8);
  for (let i = 0; i < bits.length; i++) bits[i] = ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
  return bits;
}

function fromBits(bits: Uint8Array): Buffer {
  const bytes = Buffer.alloc(bits.length >> 3);
  for (let i = 0; i < bits.length; i++) if (bits[i]) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return bytes;
}

/** Picks bits by the standard's 1-based position tables. */
function permute(bits: Uint8Array, table: readonly number[]): Uint8Array {
  const out = new Uint8Array(table.length);
  for (let i = 0; i < table.length; i++) out[i] = bits[table[i]! - 1]!;
  return out;
}

function rotateLeft(bits: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[(i + count) % bits.length]!;
  return out;
}

/** A DES key schedule; reuse one instance to encrypt many blocks under the same key. */
export class DesCipher {
  readonly #subkeys: Uint8Array[];

  /** @param key 8 bytes; the low bit of each byte is parity and is ignored, as the standard says. */
  constructor(key: Uint8Array) {
    if (key.length !== 8) throw new RangeError('DES key must be 8 bytes');
    const permuted = permute(toBits(key), PERMUTED_CHOICE_1);
    let left = permuted.subarray(0, 28);
    let right = permuted.subarray(28, 56);
    this.#subkeys = KEY_ROTATIONS.map((count) => {
      left = rotateLeft(left, count);
      right = rotateLeft(right, count);
      const joined = new Uint8Array(56);
      joined.set(left, 0);
      joined.set(right, 28);
      return permute(joined, PERMUTED_CHOICE_2);
    });
  }

  /** Encrypts one 8-byte block. */
  encryptBlock(block: Uint8Array): Buffer {
    if (block.length !== 8) throw new RangeError('DES block must be 8 bytes');
    const permuted = permute(toBits(block), INITIAL_PERMUTATION);
    let left = permuted.subarray(0, 32);
    let right = permuted.subarray(32, 64);
    for (const subkey of this.#subkeys) {
      const next = feistel(right, subkey);
      for (let i = 0; i < 32; i++) next[i]! ^= left[i]!;
      left = right;
      right = next;
    }
    // The last round's halves are swapped back before the final permutation.
    const preOutput = new Uint8Array(64);
    preOutput.set(right, 0);
    preOutput.set(left, 32);
    return fromBits(permute(preOutput, FINAL_PERMUTATION));
  }

  /** ECB over a whole number of blocks. */
  encryptEcb(data: Uint8Array): Buffer {
    if (data.length % 8 !== 0) throw new RangeError('DES-ECB input must be a multiple of 8 bytes');
    const out = Buffer.alloc(data.length);
    for (let offset = 0; offset < data.length; offset += 8) {
      out.set(this.encryptBlock(data.subarray(offset, offset + 8)), offset);
    }
    return out;
  }
}

function feistel(half: Uint8Array, subkey: Uint8Array): Uint8Array {
  const expanded = permute(half, EXPANSION);
  const substituted = new Uint8Array(32);
  for (let box = 0; box < 8; box++) {
    const b = expanded.subarray(box * 6, box * 6 + 6).map((bit, i) => bit ^ subkey[box * 6 + i]!);
    const row = (b[0]! << 1) | b[5]!;
    const column = (b[1]! << 3) | (b[2]! << 2) | (b[3]! << 1) | b[4]!;
    const value = S_BOXES[box]![row * 16 + column]!;
    for (let i = 0; i < 4; i++) substituted[box * 4 + i] = (value >> (3 - i)) & 1;
  }
  return permute(substituted, ROUND_PERMUTATION);
}

/** Encrypts one 8-byte block with an 8-byte key (standard DES, no VNC bit twist). */
export function desEncryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  return new DesCipher(key).encryptBlock(block);
}

function reverseBits(byte: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) out |= ((byte >> i) & 1) << (7 - i);
  return out;
}

/**
 * The DES key VNC derives from a password: the first 8 bytes, zero-padded, each byte's bits mirrored.
 * The mirroring is a quirk of the original AT&T vncauth code that RFC 6143 section 7.2.2 does not
 * mention; every implementation (noVNC, TigerVNC, QEMU, libvncserver) reproduces it.
 *
 * The password is taken as UTF-8 bytes, as QEMU and TigerVNC store it; for ASCII passwords this is
 * the same as noVNC's char-code reading.
 */
export function vncPasswordKey(password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'utf8').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) key[i] = reverseBits(key[i]!);
  return key;
}

/** The 16-byte answer to an RFB VNC Authentication challenge (RFC 6143 section 7.2.2). */
export function vncAuthResponse(password: string, challenge: Uint8Array): Buffer {
  if (challenge.length !== 16) throw new RangeError('VNC challenge must be 16 bytes');
  return new DesCipher(vncPasswordKey(password)).encryptEcb(challenge);
}
