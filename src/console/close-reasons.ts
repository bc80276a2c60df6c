/**
 * What a console session writes into close frames and its audit line about a peer's failure:
 * sanitised, length-capped texts and codes that never quote a secret.
 */
import { ConsoleCloseCode } from '../websocket-codes.js';

/** Longest peer-supplied reason text put in a close reason or the audit line, characters. */
const MAX_UPSTREAM_REASON_CHARS = 80;

/**
 * A VNC server's failure reason, made safe to show and log: printable ASCII only, whitespace
 * collapsed, the VNC password struck out should the server echo it, cut to
 * MAX_UPSTREAM_REASON_CHARS (so the close reason stays within RFC 6455's 123 bytes).
 */
export function sanitizeReason(raw: string, password: string | null): string {
  let text = raw.replace(/[^\x20-\x7e]+/g, ' ');
  if (password !== null && password.length >= 3) text = text.split(password).join('***');
  text = text.replace(/\s+/g, ' ').trim();
  if (text.length > MAX_UPSTREAM_REASON_CHARS) text = `${text.slice(0, MAX_UPSTREAM_REASON_CHARS - 3)}...`;
  return text === '' ? 'no reason given' : text;
}

export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = text;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

/** Close codes `ws` uses for receiver errors (ws/lib/receiver.js), by error code. */
export function wsErrorCloseCode(code: string | undefined): number | null {
  if (code === undefined || !code.startsWith('WS_ERR_')) return null;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') return ConsoleCloseCode.MessageTooBig;
  if (code === 'WS_ERR_INVALID_UTF8') return 1007;
  return ConsoleCloseCode.ProtocolError;
}

/** A code that is safe to log for any thrown value (never its message, which may quote secrets). */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return err instanceof Error ? err.name : 'unknown';
}
