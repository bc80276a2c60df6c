// Preloaded with `node --import` after tsx: appends the URL of every module the process loads to the
// file named by MODULE_LOG_FILE. Synchronous hooks run before asynchronous ones and chains run last
// registered first, so this sees every load whichever kind of hooks tsx chose for this Node version.
import module from 'node:module';
import { appendFileSync } from 'node:fs';

const file = process.env.MODULE_LOG_FILE;
if (!file) throw new Error('MODULE_LOG_FILE is not set');

if (typeof module.registerHooks === 'function') {
  // Node 22.15+/23.5+ (so Node 24): in-thread hooks.
  module.registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(file, `${url}\n`);
      return nextLoad(url, context);
    },
  });
} else {
  // Node 20: off-thread hooks; the file name travels as `data`.
  module.register('./hooks.mjs', import.meta.url, { data: { file } });
}
