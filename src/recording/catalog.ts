/**
 * Reading recordings back: the listing behind `consoleRecordings`, the permission to see them
 * (`auth.recordingViewers`), and the signed playback URLs the page at `/recordings/<id>` checks.
 *
 * A browser navigating to a playback page sends no Authorization header, so the URL GraphQL hands
 * out carries `?t=<expiry>.<HMAC>`, signed with a key made at start-up: a restart invalidates the
 * URLs, and in a fleet a URL plays only on the replica that signed it (ask again for a fresh one).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gateway } from '../gateway.js';
import type { Principal } from '../auth/principal.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import { ForbiddenError } from '../auth/errors.js';
import { RECORDING_EXT, RECORDING_FORMAT, RECORDING_ID, RECORDING_VERSION, type RecordingState, type RecordingStatus } from './format.js';
import { readStatus } from './status-file.js';

export type CatalogState = RecordingState | 'corrupt';

export interface RecordingEntry extends Omit<RecordingStatus, 'state'> {
  state: CatalogState;
  playbackUrl: string;
}

export interface RecordingPage {
  entries: RecordingEntry[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface RecordingFilter {
  vmId?: string | null;
  caller?: string | null;
  provider?: string | null;
  state?: CatalogState | null;
}

export interface RecordingCatalogOptions {
  /** The recording directory in force (null: recording off). Read on each call, so a reload applies. */
  dir: () => string | null;
  /** Caller ids allowed (`*` = every caller); null = every caller (auth off). Read on each call, so a reload applies. */
  viewers: () => readonly string[] | null;
  publicUrl: () => string;
  playbackTtlMs: () => number;
  now: () => number;
  /** Recordings one listing reads at most (`recording.maxScannedPerListing`). Read on each call, so a reload applies. */
  maxScanned: () => number;
  /** A listing stopped at `maxScanned` before its page was full (logged and counted by the caller). */
  onScanCut?: (scanned: number) => void;
  /** The status this process holds in memory (RecordingService.statusInMemory: a live recording, or a final status the disk refused); it wins over the file's. */
  statusInMemory?: (dir: string, id: string) => RecordingStatus | null;
}

/** The header line is at most this long; a longer first line is a corrupt file. */
const MAX_HEADER_BYTES = 4096;
const HEADER_CUT = 'header missing or truncated';

export class RecordingCatalog {
  readonly #opts: RecordingCatalogOptions;
  readonly #key = randomBytes(32);

  constructor(opts: RecordingCatalogOptions) {
    this.#opts = opts;
  }

  get dir(): string | null {
    return this.#opts.dir();
  }

  mayView(principal: Principal): boolean {
    const viewers = this.#opts.viewers();
    return viewers === null || viewers.includes('*') || viewers.includes(principal.id);
  }

  assertMayView(principal: Principal): void {
    if (!this.mayView(principal)) throw new ForbiddenError('this caller may not list or play console recordings (auth.recordingViewers)', {});
  }

  sign(id: string): string {
    const exp = Math.floor((this.#opts.now() + this.#opts.playbackTtlMs()) / 1000);
    return `${exp}.${this.#mac(id, exp)}`;
  }

  /** Is `token` a live playback token for `id`? */
  verify(id: string, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const exp = Number(m[1]);
    if (exp * 1000 < this.#opts.now()) return false;
    const want = Buffer.from(this.#mac(id, exp));
    const got = Buffer.from(m[2]!);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  #mac(id: string, exp: number): string {
    return createHmac('sha256', this.#key).update(`${id}\n${exp}`).digest('base64url');
  }

  playbackUrl(id: string): string {
    return `${this.#opts.publicUrl().replace(/\/$/, '')}/recordings/${id}?t=${this.sign(id)}`;
  }

  /** Path of a recording's file, or null for an id that is not one (never a path built from arbitrary input). */
  filePath(id: string): string | null {
    return pathIn(this.#opts.dir(), id);
  }

  async get(id: string): Promise<RecordingEntry | null> {
    return this.#getIn(this.#opts.dir(), id);
  }

  async #getIn(dir: string | null, id: string): Promise<RecordingEntry | null> {
    const path = pathIn(dir, id);
    if (path === null) return null;
    const inMemory = this.#opts.statusInMemory?.(dir!, id) ?? null;
    const status = inMemory ?? (await readStatus(dir!, id));
    const header = await readHeader(path);
    if (header === 'missing') return null;
    // A recording this process is writing may not have its header on disk yet, and one that failed
    // before its header reached the disk (a full disk) never will: each is what its status says.
    const headerNotOnDisk = header === HEADER_CUT && (inMemory !== null || status?.state === 'failed');
    if (status === null || (typeof header === 'string' && !headerNotOnDisk)) {
      const base: RecordingEntry = {
        id,
        sessionId: typeof header === 'object' ? header.sessionId : (status?.sessionId ?? ''),
        vmId: typeof header === 'object' ? header.vmId : (status?.vmId ?? null),
        provider: typeof header === 'object' ? header.provider : (status?.provider ?? null),
        caller: typeof header === 'object' ? header.caller : (status?.caller ?? ''),
        startedAt: typeof header === 'object' ? header.startedAt : (status?.startedAt ?? new Date(0).toISOString()),
        includesInput: typeof header === 'object' ? header.includesInput : (status?.includesInput ?? false),
        screen: null,
        endedAt: status?.endedAt ?? null,
        durationMs: status?.durationMs ?? null,
        bytes: status?.bytes ?? 0,
        frames: status?.frames ?? 0,
        state: 'corrupt',
        failure: typeof header === 'string' ? header : 'status file missing or unreadable',
        playbackUrl: this.playbackUrl(id),
      };
      return base;
    }
    return { ...status, playbackUrl: this.playbackUrl(id) };
  }

  /**
   * A page of recordings, newest first. `endCursor` resumes after it: the last entry's id, or, when
   * the page was cut at `maxScanned` recordings read, the last one read.
   */
  async list(filter: RecordingFilter | null | undefined, first: number, after: string | null | undefined): Promise<RecordingPage> {
    if (!Number.isInteger(first) || first < 1 || first > 200) throw new BadUserInputError('`first` must be 1-200', { field: 'first' });
    if (after != null && !RECORDING_ID.test(after)) throw new BadUserInputError('`after` is not a cursor this gateway issued', { field: 'after' });
    const dir = this.#opts.dir();
    const empty: RecordingPage = { entries: [], hasNextPage: false, endCursor: null };
    if (dir === null) return empty;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return empty;
    }
    // Newest first: ULIDs sort by time.
    const ids = names
      .filter((n) => n.endsWith(RECORDING_EXT))
      .map((n) => n.slice(0, -RECORDING_EXT.length))
      .filter((id) => RECORDING_ID.test(id) && (after == null || id < after))
      .sort()
      .reverse();
    const entries: RecordingEntry[] = [];
    const maxScanned = this.#opts.maxScanned();
    let scanned = 0;
    for (const id of ids) {
      if (scanned === maxScanned) {
        this.#opts.onScanCut?.(scanned);
        return { entries, hasNextPage: true, endCursor: ids[scanned - 1]! };
      }
      scanned++;
      const e = await this.#getIn(dir, id);
      if (e === null || !matches(e, filter)) continue;
      if (entries.length === first) return { entries, hasNextPage: true, endCursor: entries.at(-1)!.id };
      entries.push(e);
    }
    return { entries, hasNextPage: false, endCursor: entries.at(-1)?.id ?? null };
  }

  /** For resolvers: the entry, or NOT_FOUND. */
  async require(id: string): Promise<RecordingEntry> {
    const e = await this.get(id);
    if (e === null) throw new NotFoundError(`no console recording "${id.slice(0, 40)}"`, { id: id.slice(0, 40) });
    return e;
  }
}

function pathIn(dir: string | null, id: string): string | null {
  if (dir === null || !RECORDING_ID.test(id)) return null;
  return join(dir, id + RECORDING_EXT);
}

function matches(e: RecordingEntry, f: RecordingFilter | null | undefined): boolean {
  if (!f) return true;
  return (f.vmId == null || e.vmId === f.vmId) && (f.caller == null || e.caller === f.caller) && (f.provider == null || e.provider === f.provider) && (f.state == null || e.state === f.state);
}

/** The parsed header, 'missing', or why it is corrupt. */
async function readHeader(path: string): Promise<Record<string, any> | 'missing' | string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return 'missing';
  }
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, MAX_HEADER_BYTES, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl < 0) return HEADER_CUT;
    const h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
    if (h.format !== RECORDING_FORMAT) return 'not a console-gateway recording';
    if (h.version !== RECORDING_VERSION) return `unsupported format version ${String(h.version)}`;
    return h;
  } catch {
    return 'header is not valid JSON';
  } finally {
    await fh.close();
  }
}

const catalogs = new WeakMap<Gateway, RecordingCatalog>();

/** Ties the catalog to the gateway the GraphQL context carries (keeps the context type unchanged). */
export function attachRecordingCatalog(gateway: Gateway, catalog: RecordingCatalog): void {
  catalogs.set(gateway, catalog);
}

export function recordingCatalogOf(gateway: Gateway): RecordingCatalog | null {
  return catalogs.get(gateway) ?? null;
}
