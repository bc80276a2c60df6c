/**
 * Playback: `GET /recordings/<id>?t=<token>` serves a page that plays the recording in noVNC
 * (served from the installed package at /recordings/novnc/), fed from `GET /recordings/<id>/data`
 * through a WebSocket-like channel object, so no VNC server is involved. Both need the signed
 * token from `ConsoleRecording.playbackUrl`; an unknown id, a bad or expired token all answer the
 * same 404 (a caller cannot tell which recordings exist).
 */
import { createReadStream } from 'node:fs';
import express from 'express';
import { novncDir } from '../demo/routes.js';
import type { RecordingCatalog, RecordingEntry } from './catalog.js';
import { PLAYER_JS, playerPage } from './player.js';

export function mountRecordings(app: express.Express, catalog: RecordingCatalog): void {
  app.use('/recordings/novnc', express.static(novncDir(), { index: false, fallthrough: true, maxAge: 0 }));
  app.get('/recordings/player.js', (_req, res) => {
    res.type('text/javascript').set('Cache-Control', 'no-store').send(PLAYER_JS);
  });
  const notFound = (res: express.Response): void => {
    res.status(404).json({ error: 'not found', code: 'NOT_FOUND' });
  };
  // The entry and its file, read once: a reload may change the directory, retention may delete the file.
  const check = async (req: express.Request): Promise<{ id: string; path: string; entry: RecordingEntry } | null> => {
    const id = String(req.params.id ?? '');
    const path = catalog.filePath(id);
    if (path === null || !catalog.verify(id, req.query.t)) return null;
    const entry = await catalog.get(id);
    return entry === null ? null : { id, path, entry };
  };
  app.get('/recordings/:id', async (req, res) => {
    const found = await check(req);
    if (found === null) return notFound(res);
    const { id, entry } = found;
    res
      .type('html')
      .set('Cache-Control', 'no-store')
      .set('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
      .send(playerPage({ id, state: entry.state, problem: entry.state === 'corrupt' ? entry.failure : null }));
  });
  app.get('/recordings/:id/data', async (req, res) => {
    const found = await check(req);
    if (found === null) return notFound(res);
    const stream = createReadStream(found.path);
    stream.on('error', () => {
      if (!res.headersSent) notFound(res);
      else res.destroy();
    });
    stream.once('open', () => {
      res.type('application/octet-stream').set('Cache-Control', 'no-store');
      stream.pipe(res);
    });
  });
}
