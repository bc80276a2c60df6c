/**
 * The demo page: lists VMs over GraphQL and opens a console with noVNC, served from the installed
 * @novnc/novnc package (no CDN), so the embedded default works on a machine with no internet.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

export function novncDir(): string {
  // The package's only export is core/rfb.js; its root is two levels up (core/ and vendor/ are served as-is).
  const require = createRequire(import.meta.url);
  return dirname(dirname(require.resolve('@novnc/novnc')));
}

export function mountDemo(app: express.Express): void {
  const staticOptions = { index: 'index.html', fallthrough: true, maxAge: 0 } as const;
  app.use('/novnc', express.static(novncDir(), staticOptions));
  app.use('/', express.static(PUBLIC_DIR, staticOptions));
}
