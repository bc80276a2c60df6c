/**
 * A recording's status file, `<id>.json`: written aside and renamed into place (a reader never sees
 * half of one), over space set aside when the recording started (so a recording that filled the disk
 * can still say so), and read back for the listing.
 */
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STATUS_EXT, type RecordingStatus } from './format.js';

/**
 * Bytes each live recording holds in `<id>.json.tmp` for its final status (a status is a few hundred
 * bytes; the header fields are bounded by the catalog's 4 KiB header line). Writing into blocks the
 * file system already gave needs no new space, so the final status lands on a disk the recording
 * itself filled (tmpfs, ext4, xfs; a copy-on-write file system may still refuse it).
 */
const STATUS_RESERVE_BYTES = 8192;
/** What the reserve is filled with: one buffer for every recording (it is only ever read). */
const STATUS_RESERVE = Buffer.alloc(STATUS_RESERVE_BYTES, 0x20);

/** Where a status is written before it is renamed into place; while a recording is live, its reserve. */
export const STATUS_ASIDE_EXT = `${STATUS_EXT}.tmp`;

export function statusText(status: RecordingStatus): string {
  return `${JSON.stringify(status)}\n`;
}

/**
 * Writes `<id>.json` aside and renames it into place, so a reader (the listing) never sees half a
 * status. With `reserved`, the aside file already holds STATUS_RESERVE_BYTES: the status is written
 * over them and the file cut to its length, instead of asking the file system for new blocks.
 */
export async function writeStatusFile(dir: string, id: string, text: string, reserved = false): Promise<void> {
  const path = join(dir, id + STATUS_EXT);
  const aside = join(dir, id + STATUS_ASIDE_EXT);
  const bytes = Buffer.from(text, 'utf8');
  if (reserved && bytes.length <= STATUS_RESERVE_BYTES) {
    const fh = await open(aside, 'r+');
    try {
      await fh.write(bytes, 0, bytes.length, 0);
      await fh.truncate(bytes.length);
    } finally {
      await fh.close();
    }
  } else {
    await writeFile(aside, bytes);
  }
  await rename(aside, path);
}

/** Sets STATUS_RESERVE_BYTES aside in `<id>.json.tmp` for the final status (see writeStatusFile's `reserved`). */
export async function reserveStatusSpace(dir: string, id: string): Promise<void> {
  await writeFile(join(dir, id + STATUS_ASIDE_EXT), STATUS_RESERVE);
}

/** Reads `<id>.json` (status) for listing; null when missing or unreadable. */
export async function readStatus(dir: string, id: string): Promise<RecordingStatus | null> {
  try {
    const raw = JSON.parse(await readFile(join(dir, id + STATUS_EXT), 'utf8')) as RecordingStatus;
    return typeof raw === 'object' && raw !== null && raw.id === id ? raw : null;
  } catch {
    return null;
  }
}
