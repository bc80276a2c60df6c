/**
 * Console credentials handed out by the `vnc` query and checked by the simulated websockify.
 *
 * Seed 000: `raw_token` is 32 hex characters and goes into the direct-to-cluster URL; `token` is a
 * base64 string (in practice OpenSSL `enc` output, which starts with `Salted__` + an 8-byte salt)
 * that goes, URL-encoded, into the through-CloudTower URL. How long real credentials stay valid and
 * whether they are single-use is *unverified*; here they are reusable until `ttlMs` has passed.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { SimulatedVm } from './vms.js';

/** The `vnc` answer, fields in the order the seed's query selects them. */
export interface VncAnswer {
  vm_uuid: string;
  host_ip: string;
  cluster_ip: string;
  raw_token: string;
  token: string;
}

/** Which of the two seed URL forms a websockify request used. */
export type WebsockifyUrlForm = 'direct' | 'tower';

interface IssuedCredential {
  vmId: string;
  answer: VncAnswer;
  expiresAt: number;
}

export function randomRawToken(): string {
  return randomBytes(16).toString('hex');
}

const OPENSSL_MAGIC = Buffer.from('Salted__', 'latin1');
const SALT_BYTES = 8;
// 48 bytes = three AES blocks, as `openssl enc -aes-256-cbc` would give for a 32-47 byte plaintext.
// 8 + 8 + 48 = 64 bytes, and 64 % 3 = 1, so the base64 text always ends in `==`.
const CIPHERTEXT_BYTES = 48;

/**
 * A base64 `Salted__` blob that always contains `+`, `/` and `=`, so a client that forgets to
 * URL-encode it (a `+` read back as a space, a `/` or `=` mangled) fails the websockify check.
 */
export function randomTowerToken(): string {
  const blob = Buffer.concat([OPENSSL_MAGIC, randomBytes(SALT_BYTES), randomBytes(CIPHERTEXT_BYTES)]);
  // Base64 turns each 3-byte group into 4 characters; the first character of a group is the
  // group's first byte >> 2. Groups fully inside the ciphertext start at offsets 18, 21, ..., 60.
  const groupStarts: number[] = [];
  for (let offset = 18; offset + 3 <= blob.length; offset += 3) groupStarts.push(offset);
  const plusAt = groupStarts[randomInt(groupStarts.length)] as number;
  let slashAt = groupStarts[randomInt(groupStarts.length - 1)] as number;
  if (slashAt === plusAt) slashAt = groupStarts[groupStarts.length - 1] as number;
  blob[plusAt] = (62 << 2) | ((blob[plusAt] as number) & 0b11); // sextet 62 is '+'
  blob[slashAt] = (63 << 2) | ((blob[slashAt] as number) & 0b11); // sextet 63 is '/'
  return blob.toString('base64');
}

export interface VncCredentialStoreOptions {
  /** How long an issued credential opens a console, in milliseconds. */
  ttlMs: number;
  /** `cluster_ip` / `host_ip` for VMs that do not pin their own. */
  defaultClusterIp: string;
  defaultHostIp: string;
  /** Clock in epoch milliseconds. */
  now: () => number;
}

export class VncCredentialStore {
  readonly #options: VncCredentialStoreOptions;
  readonly #issued: IssuedCredential[] = [];

  constructor(options: VncCredentialStoreOptions) {
    this.#options = options;
  }

  /** Answer a `vnc` query for `vm`: fresh credentials unless the VM pins them. */
  issue(vm: SimulatedVm): VncAnswer {
    this.#prune();
    const pinned = vm.vnc ?? {};
    const answer: VncAnswer = {
      vm_uuid: vm.local_id,
      host_ip: pinned.host_ip ?? this.#options.defaultHostIp,
      cluster_ip: pinned.cluster_ip ?? this.#options.defaultClusterIp,
      raw_token: pinned.raw_token ?? randomRawToken(),
      token: pinned.token ?? randomTowerToken(),
    };
    this.#issued.push({ vmId: vm.id, answer, expiresAt: this.#options.now() + this.#options.ttlMs });
    return { ...answer };
  }

  /**
   * Find the live credential a websockify query refers to. `token` is the decoded query value:
   * the raw_token (direct form) or the base64 token (through-tower form).
   */
  match(query: { uuid: string; token: string; host: string }): { vmId: string; form: WebsockifyUrlForm } | null {
    const now = this.#options.now();
    for (const credential of this.#issued) {
      if (credential.expiresAt <= now) continue;
      const { answer } = credential;
      if (answer.vm_uuid !== query.uuid || answer.host_ip !== query.host) continue;
      if (answer.raw_token === query.token) return { vmId: credential.vmId, form: 'direct' };
      if (answer.token === query.token) return { vmId: credential.vmId, form: 'tower' };
    }
    return null;
  }

  clear(): void {
    this.#issued.length = 0;
  }

  #prune(): void {
    const now = this.#options.now();
    for (let i = this.#issued.length - 1; i >= 0; i--) {
      if ((this.#issued[i] as IssuedCredential).expiresAt <= now) this.#issued.splice(i, 1);
    }
  }
}
