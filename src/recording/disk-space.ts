/** The disk guard's question: is there at least `minFreeBytes` free on a directory's file system? */
import { statfsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';

/** Is there at least `minFreeBytes` free on `dir`'s file system? An unreadable directory has none. */
export function enoughSpaceSync(dir: string, minFreeBytes: number): boolean {
  if (minFreeBytes === 0) return true;
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize >= minFreeBytes;
  } catch {
    return false;
  }
}

export async function enoughSpace(dir: string, minFreeBytes: number): Promise<boolean> {
  if (minFreeBytes === 0) return true;
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize >= minFreeBytes;
  } catch {
    return false;
  }
}
