/**
 * The offline GraphQL IDE: GraphiQL served from the installed `graphiql` package with the React 18
 * UMD builds it needs, so the embedded default's IDE works on a machine with no internet (Apollo's
 * own landing page loads Apollo Sandbox from a CDN). Mounted only while introspection is on.
 *
 * `GET /graphql` from a browser (Accept: text/html, no `query`) answers the IDE page; its scripts
 * and styles live under `/graphiql/`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
/** Where the IDE's assets are served. */
export const IDE_ASSET_PATH = '/graphiql';

function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(`${name}/package.json`));
}

/** Static assets: the page's script and the package files, each by a fixed name (no directory listing of node_modules). */
export function mountIdeAssets(app: express.Express): void {
  const files: Record<string, string> = {
    'graphiql.min.js': join(packageDir('graphiql'), 'graphiql.min.js'),
    'graphiql.min.css': join(packageDir('graphiql'), 'graphiql.min.css'),
    'react.production.min.js': join(packageDir('react'), 'umd', 'react.production.min.js'),
    'react-dom.production.min.js': join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'),
    'ide.js': join(PUBLIC_DIR, 'ide.js'),
  };
  app.get(`${IDE_ASSET_PATH}/:file`, (req, res, next) => {
    const file = files[req.params.file];
    if (!file) next();
    else res.sendFile(file, { maxAge: 0 });
  });
}

/** A browser navigating to /graphql: a GET that prefers HTML and carries no operation. */
export function isIdeRequest(req: express.Request): boolean {
  if (req.method !== 'GET' || req.query.query !== undefined) return false;
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}

export function sendIdePage(res: express.Response): void {
  res.set('Cache-Control', 'no-store').sendFile(join(PUBLIC_DIR, 'index.html'));
}
