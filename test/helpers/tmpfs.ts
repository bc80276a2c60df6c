/**
 * A small tmpfs mounted for a test: a file system that really runs out of space. Mounting needs
 * root (CI runs as root); `tmpfsUnavailable()` says why it cannot be done here, for a skip.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanups } from './cleanups.js';

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function unmount(dir: string): void {
  try {
    run('umount', [dir]);
  } catch {
    // Something still holds it open: detach it now, the kernel frees it when the last file closes.
    run('umount', ['-l', dir]);
  }
  rmdirSync(dir);
}

/** Null when a tmpfs can be mounted here; otherwise why not (not Linux, not root, no mount(8)). */
export function tmpfsUnavailable(): string | null {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  const probe = mkdtempSync(join(tmpdir(), 'cg-tmpfs-probe-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', probe]);
  } catch (err) {
    rmdirSync(probe);
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').replace(/\s+/g, ' ').trim();
    return `cannot mount a tmpfs (needs root): ${stderr || (err as Error).message}`;
  }
  unmount(probe);
  return null;
}

/** Mounts a tmpfs of `bytes` on a new temporary directory; unmounted (and removed) by `cleanups`, after what was added later. */
export function mountTmpfs(cleanups: Cleanups, bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-tmpfs-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir]);
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  cleanups.add(() => unmount(dir));
  return dir;
}

/**
 * Takes whatever space is left on the file system of `dir` with `<dir>/<name>` (written a page at a
 * time until ENOSPC), so the next write of any size is refused whatever the page arithmetic of the
 * writes before it left free. Returns the bytes taken.
 */
export function takeRemainingSpace(dir: string, name = 'pad.bin'): number {
  const page = Buffer.alloc(4096, 0x2e);
  const fd = openSync(join(dir, name), 'w');
  let taken = 0;
  try {
    // Bounded by the file system's size; the loop ends on ENOSPC.
    for (;;) taken += writeSync(fd, page);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return taken;
}
