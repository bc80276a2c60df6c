/**
 * The plain HTTP side of the DRP simulator: DRP's JSON error bodies, refused upgrades, bounded request
 * bodies and the self-signed certificate real DRP serves by default.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { generate } from 'selfsigned';
import { AUTH_CHALLENGE, type DrpErrorBody } from './wire.js';

/** Largest request body the simulator reads, bytes. */
const MAX_BODY_BYTES = 1024 * 1024;

export function errorBody(type: string, code: number, message: string): DrpErrorBody {
  return { Type: type, Code: code, Messages: [message] };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
  if (status === 401) headers['WWW-Authenticate'] = AUTH_CHALLENGE;
  res.writeHead(status, headers).end(text);
}

/** Answers an upgrade request with a plain HTTP error, before any WebSocket handshake. */
export function rejectUpgrade(socket: Duplex, status: number, body: DrpErrorBody): void {
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
  ];
  if (status === 401) lines.push(`WWW-Authenticate: ${AUTH_CHALLENGE}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function generateCertificate(): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
