/** Credentials and clients for the auth tests: keys with their hashes, signed tokens, a raw graphql-transport-ws handshake. */
import { generateKeyPair, exportJWK, SignJWT, type JWTPayload } from 'jose';
import type WebSocket from 'ws';
import { generateApiKey, hashApiKey } from '../../src/auth/api-keys.js';
import { openWs } from '../helpers/ws.js';

export const JWT_SECRET = 'test-only-hs256-secret-0123456789abcdef';
export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'console-gateway';

export function newKey(): { key: string; hash: string } {
  const key = generateApiKey();
  return { key, hash: hashApiKey(key) };
}

/** An HS256 token; `exp` one hour ahead unless the claims say otherwise. */
export function hsToken(claims: JWTPayload, opts: { secret?: string; issuer?: string; audience?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ exp: now + 3600, iat: now, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

/** An ES256 key pair: the public half as a JWKS, a signer for the private half. */
export async function es256Issuer(kid = 'test-key-1'): Promise<{ jwks: { keys: object[] }; sign(claims: JWTPayload): Promise<string> }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    sign: (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ exp: now + 3600, ...claims }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(privateKey);
    },
  };
}

/** A raw graphql-transport-ws connection: sends connection_init with `payload`, resolves with the ack or the close code. */
export async function graphqlWsInit(url: string, payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}): Promise<{ acked: WebSocket } | { closed: number } | { refused: number; body: string }> {
  const result = await openWs(url, { protocols: ['graphql-transport-ws'], headers });
  if (!result.ok) return { refused: result.status, body: result.body.trim() };
  const ws = result.ws;
  return new Promise((resolve) => {
    ws.once('close', (code) => resolve({ closed: code }));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve({ acked: ws });
    });
    ws.send(JSON.stringify({ type: 'connection_init', ...(payload ? { payload } : {}) }));
  });
}
