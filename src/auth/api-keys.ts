/**
 * API keys: the config holds each key's SHA-256 hash (`sha256:<64 hex>`), never the key. A plain
 * hash is enough because the keys are 256-bit random strings (see generateApiKey): there is no
 * dictionary to run against, so a slow password hash would only cost CPU on every request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Shortest key accepted by `hash-key`: below this a key could be guessed, hash or not. */
export const MIN_API_KEY_LENGTH = 20;

/** The config form of a key's hash. */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** A fresh key: `cgk_` and 43 base64url characters (256 random bits). The prefix makes leaked keys easy to grep for. */
export function generateApiKey(random: (size: number) => Buffer = randomBytes): string {
  return `cgk_${random(32).toString('base64url')}`;
}

export interface ApiKeyEntry {
  /** Name shown in logs and used as the caller id (`apikey:<name>`). */
  name: string;
  /** `sha256:<hex>` of the key. */
  hash: string;
  /** Providers this key may use; absent = all. */
  providers?: readonly string[] | undefined;
  /** Gateway permissions (`PERMISSIONS`); absent = none. */
  permissions?: readonly string[] | undefined;
}

/** Finds the configured key a presented key matches. */
export class ApiKeyVerifier {
  readonly #entries: { entry: ApiKeyEntry; digest: Buffer }[];

  constructor(entries: readonly ApiKeyEntry[]) {
    this.#entries = entries.map((entry) => {
      if (!API_KEY_HASH_PATTERN.test(entry.hash)) throw new RangeError(`API key "${entry.name}": hash must be sha256:<64 hex digits>`);
      return { entry, digest: Buffer.from(entry.hash.slice('sha256:'.length), 'hex') };
    });
  }

  /** The matching entry, or null. Compares against every key in constant time, so timing says nothing about which (if any) came close. */
  verify(key: string): ApiKeyEntry | null {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: ApiKeyEntry | null = null;
    for (const { entry, digest: expected } of this.#entries) {
      if (timingSafeEqual(digest, expected) && found === null) found = entry;
    }
    return found;
  }

  byName(name: string): ApiKeyEntry | undefined {
    return this.#entries.find((e) => e.entry.name === name)?.entry;
  }
}
