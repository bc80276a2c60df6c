/**
 * A drop-in for `websockify --token-plugin TokenFile --token-source PATH`: maps `?token=` to a VNC
 * host:port from a file, or from every file in a directory.
 *
 * websockify re-reads the source on every lookup. We keep the table in memory and re-read when it
 * changes: fs.watch (debounced, because writers such as Abiquo's token-file sync rewrite the whole
 * file and a read mid-write sees half of it), plus a stat check on each lookup for filesystems where
 * watch events never come (NFS, some container bind mounts). No polling timer.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, readdirSync, statSync, watch } from 'node:fs';
import type { FSWatcher, Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { parseTokenFile } from './parse.js';
import type { HostPort, ParsedTokenFile } from './parse.js';

export type { HostPort } from './parse.js';

export interface TokenFileResolverOptions {
  /** A token file, or a directory whose files are all token files (dot-files are skipped). */
  path: string;
  logger: Logger;
  /** Watch the source and re-read after changes settle. @default true */
  watch?: boolean;
  /** Quiet time after the last change event before re-reading, milliseconds. @default 100 */
  debounceMs?: number;
}

export interface TokenFileReload {
  tokens: number;
  problems: number;
}

/**
 * Emits `reload` (TokenFileReload) after each re-read that found a changed source.
 */
export class TokenFileResolver extends EventEmitter<{ reload: [TokenFileReload] }> {
  readonly #path: string;
  readonly #logger: Logger;
  readonly #debounceMs: number;
  #entries = new Map<string, HostPort>();
  /** Identity of the files last read (paths, inodes, sizes, mtimes); null before the first read. */
  #signature: string | null = null;
  #watcher: FSWatcher | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: TokenFileResolverOptions) {
    super();
    this.#path = options.path;
    this.#logger = options.logger.child({ component: 'tokenfile' });
    this.#debounceMs = options.debounceMs ?? 100;
    this.#reloadIfChanged();
    if (options.watch ?? true) this.#startWatching();
  }

  /** Tokens loaded now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The target for a token, or null. Re-reads the source first if its files changed. */
  lookup(token: string): HostPort | null {
    if (this.#closed) return null;
    this.#reloadIfChanged();
    const hit = this.#entries.get(token);
    return hit ? { host: hit.host, port: hit.port } : null;
  }

  close(): void {
    this.#closed = true;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = null;
    this.#watcher?.close();
    this.#watcher = null;
    this.#entries.clear();
  }

  #startWatching(): void {
    let isDir = false;
    try {
      isDir = statSync(this.#path).isDirectory();
    } catch {
      // Not there yet: watch the parent for the file to appear.
    }
    // A file is watched through its directory: writers that replace it by rename would leave a
    // watch on the old inode deaf.
    const watched = isDir ? this.#path : dirname(this.#path);
    const name = basename(this.#path);
    try {
      this.#watcher = watch(watched, { persistent: false }, (_event, filename) => {
        if (!isDir && filename !== null && filename !== name) return;
        this.#scheduleReload();
      });
      this.#watcher.on('error', (err: NodeJS.ErrnoException) => {
        this.#logger.warn({ path: this.#path, errCode: err.code }, 'token source watch failed; changes are picked up on lookup');
        this.#watcher?.close();
        this.#watcher = null;
      });
    } catch (err) {
      this.#logger.warn({ path: this.#path, errCode: (err as NodeJS.ErrnoException).code }, 'cannot watch token source; changes are picked up on lookup');
    }
  }

  #scheduleReload(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      this.#reloadIfChanged();
    }, this.#debounceMs);
    this.#debounce.unref();
  }

  #reloadIfChanged(): void {
    const files = this.#listFiles();
    const signature = files.map((f) => `${f.path}\0${f.stats.ino}\0${f.stats.size}\0${f.stats.mtimeMs}`).join('\n');
    if (signature === this.#signature) return;
    this.#signature = signature;
    const parsed: ParsedTokenFile = { entries: new Map(), problems: [] };
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f.path, 'utf8');
      } catch (err) {
        this.#logger.warn({ file: f.path, errCode: (err as NodeJS.ErrnoException).code }, 'cannot read token file');
        continue;
      }
      parseTokenFile(text, f.path, parsed);
    }
    for (const p of parsed.problems) {
      // File and line only: the line itself holds a token.
      this.#logger.warn({ file: p.file, line: p.line, problem: p.problem }, 'skipping malformed token file line');
    }
    this.#entries = parsed.entries;
    this.#logger.info({ path: this.#path, tokens: parsed.entries.size, files: files.length }, 'token source loaded');
    this.emit('reload', { tokens: parsed.entries.size, problems: parsed.problems.length });
  }

  /** The files that make up the source, with their stats; sorted so later files win predictably. */
  #listFiles(): Array<{ path: string; stats: Stats }> {
    let top: Stats;
    try {
      top = statSync(this.#path);
    } catch {
      return [];
    }
    if (!top.isDirectory()) return top.isFile() ? [{ path: this.#path, stats: top }] : [];
    let names: string[];
    try {
      names = readdirSync(this.#path);
    } catch {
      return [];
    }
    const files: Array<{ path: string; stats: Stats }> = [];
    // Dot-files are skipped (unlike websockify): editors and atomic writers put half-written
    // temporaries there (`.tokens.swp`, `.tokens.tmp`).
    for (const n of names.sort()) {
      if (n.startsWith('.')) continue;
      const p = join(this.#path, n);
      try {
        const st = statSync(p);
        if (st.isFile()) files.push({ path: p, stats: st });
      } catch {
        // removed between readdir and stat
      }
    }
    return files;
  }
}
