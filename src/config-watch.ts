/**
 * Reload on change: watches the --config file's directory, not the file, because a Kubernetes
 * ConfigMap volume updates by swapping a `..data` symlink (the file's inode never changes, and a
 * watch on the file itself would stay on the old one), and editors replace files by rename.
 * Any event in the directory starts the debounce; when it ends, the file is read and only a
 * content change reloads, so unrelated files and repeated events cost one read.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { GatewayConfig } from './config.js';
import type { Logger } from './logger.js';

export interface ConfigWatchOptions {
  /** The `reload` section in force, read at each event (a reload may change it). */
  settings: () => GatewayConfig['reload'];
  logger: Logger;
  /** The file's content changed; called after `settings().debounceMs` without further events. */
  onChange: () => void;
}

export function watchConfigFile(path: string, opts: ConfigWatchOptions): { close(): void } {
  const file = resolve(path);
  const read = (): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined; // mid-swap or removed: the next event reads it again
    }
  };
  let last = read();
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    timer = undefined;
    const text = read();
    if (text === undefined || text === last) return;
    last = text;
    opts.logger.info({ path }, 'config file changed; reloading');
    opts.onChange();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, () => {
      if (!opts.settings().watchFile) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, opts.settings().debounceMs);
      timer.unref();
    });
    watcher.on('error', (err) => opts.logger.warn({ err, path }, 'config file watch failed; reload with SIGHUP'));
  } catch (err) {
    opts.logger.warn({ err, path }, 'cannot watch the config file; reload with SIGHUP');
  }
  return {
    close: () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
