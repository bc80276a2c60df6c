/**
 * The websockify token file of seed 001: one line per VM console, `md5hex("ip:port"): ip:port`.
 * The original script rewrote the file in place, so a websockify reading it mid-write saw a partial
 * file; here the new text goes to a temporary file in the same directory (same filesystem) and is
 * renamed over the old one, which readers see atomically. Nothing is written when the text is unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { vdrpTarget, type AbiquoVm } from './model.js';

/**
 * Token file text for these VMs: one line per distinct well-formed console address (see vdrpTarget:
 * VMs with the remote desktop disabled or a missing/malformed address are left out), sorted, each
 * ending in a newline. No VMs: the empty string.
 */
export function renderTokenFile(vms: ReadonlyArray<Pick<AbiquoVm, 'vdrpIP' | 'vdrpPort' | 'vdrpEnabled'>>): string {
  const lines = new Set<string>();
  for (const vm of vms) {
    const target = vdrpTarget(vm);
    if (!target) continue;
    const conn = `${target.host}:${target.port}`;
    lines.add(`${createHash('md5').update(conn).digest('hex')}: ${conn}`);
  }
  return [...lines].sort().map((l) => `${l}\n`).join('');
}

/** The file operations the writer uses; injectable so tests can make them fail. */
export interface TokenFileFs {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string, options: { mode: number; flag: string }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

export interface TokenFileWriterOptions {
  /** Path of the token file websockify reads (`--token-plugin TokenFile --token-source <path>`). */
  path: string;
  /** File mode of the written file. Holds no secrets, only addresses. @default 0o644 */
  mode?: number;
  fs?: TokenFileFs;
}

export interface TokenFileState {
  path: string;
  /** False after a failed write, until a write succeeds. */
  ok: boolean;
  /** Short reason of the last failure (an errno code such as EACCES), or null. */
  lastError: string | null;
  /** Files written (renames done) since start. */
  writes: number;
}

export class TokenFileWriter {
  readonly #path: string;
  readonly #mode: number;
  readonly #fs: TokenFileFs;
  /** Text known to be on disk, or undefined before the first read/write. */
  #onDisk: string | undefined;
  #pending: string | null = null;
  #chain: Promise<void> = Promise.resolve();
  #state: TokenFileState;

  constructor(opts: TokenFileWriterOptions) {
    this.#path = opts.path;
    this.#mode = opts.mode ?? 0o644;
    this.#fs = opts.fs ?? fsp;
    this.#state = { path: opts.path, ok: true, lastError: null, writes: 0 };
  }

  state(): TokenFileState {
    return { ...this.#state };
  }

  /**
   * Make the file hold `text`. Never throws: a failure is recorded in state() and the old file stays.
   * Calls are serialised; when several arrive during a write, only the latest text is written next.
   */
  write(text: string): Promise<void> {
    const queued = this.#pending !== null;
    this.#pending = text;
    if (queued) return this.#chain;
    this.#chain = this.#chain.then(() => this.#flush());
    return this.#chain;
  }

  async #flush(): Promise<void> {
    const text = this.#pending;
    this.#pending = null;
    if (text === null) return;
    if (this.#onDisk === undefined) {
      // A restart with an unchanged VM set leaves the file (and its mtime) alone.
      this.#onDisk = await this.#fs.readFile(this.#path, 'utf8').catch(() => undefined);
    }
    if (text === this.#onDisk && this.#state.ok) return;
    const tmp = join(dirname(this.#path), `.${basename(this.#path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      // `wx`: never write through a file (or symlink) someone planted at the temporary name.
      await this.#fs.writeFile(tmp, text, { mode: this.#mode, flag: 'wx' });
      await this.#fs.rename(tmp, this.#path);
      this.#onDisk = text;
      this.#state = { ...this.#state, ok: true, lastError: null, writes: this.#state.writes + 1 };
    } catch (err) {
      await this.#fs.unlink(tmp).catch(() => undefined);
      const code = (err as { code?: unknown }).code;
      this.#state = { ...this.#state, ok: false, lastError: typeof code === 'string' ? code : 'write failed' };
    }
  }
}
