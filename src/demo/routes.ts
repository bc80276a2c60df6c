/**
 * The demo page: lists VMs over GraphQL, follows the `events` subscription and opens consoles with
 * noVNC. noVNC and the graphql-ws browser build are served from the installed packages (no CDN), so
 * the embedded default works on a machine with no internet.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const require = createRequire(import.meta.url);

export function novncDir(): string {
  // The package's only export is core/rfb.js; its root is two levels up (core/ and vendor/ are served as-is).
  return dirname(dirname(require.resolve('@novnc/novnc')));
}

function graphqlWsUmdDir(): string {
  // graphql-ws exports its package.json but not umd/; the UMD build defines `window.graphqlWs`.
  return join(dirname(require.resolve('graphql-ws/package.json')), 'umd');
}

export function mountDemo(app: express.Express): void {
  const staticOptions = { index: 'index.html', fallthrough: true, maxAge: 0 } as const;
  app.use('/novnc', express.static(novncDir(), staticOptions));
  app.use('/vendor/graphql-ws', express.static(graphqlWsUmdDir(), { ...staticOptions, index: false }));
  app.use('/', express.static(PUBLIC_DIR, staticOptions));
}
