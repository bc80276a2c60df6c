/**
 * A disk that takes writes and never finishes them (a hung network file system), for real: every
 * thread of this process's libuv pool (where file writes run, and the gateway runs in this process)
 * is held by an open() of a FIFO nobody writes to, so file I/O queued after it waits.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Holds every libuv pool thread until the returned function is called (FIFOs made in `dir`). */
export function stallFileIo(dir: string): () => Promise<void> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(dir, `stall-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const opened: Array<Promise<FileHandle>> = fifos.map((fifo) => open(fifo, 'r'));
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // A writer lets each blocked open() return; then both ends are closed.
    for (const fifo of fifos) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    for (const handle of await Promise.all(opened)) await handle.close();
  };
}
