/**
 * A server-sent events parser after the WHATWG "event stream interpretation" rules: lines end in
 * CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the next are one line end);
 * a blank line dispatches; `:` starts a comment; `field: value` drops one leading space; `data` lines
 * are joined with LF; `id` with a NUL is ignored; `retry` takes ASCII digits only. Bytes are decoded
 * as UTF-8 across chunk boundaries and a leading BOM is dropped.
 */

export interface SseMessage {
  /** `event` field, `message` when absent. */
  event: string;
  /** `data` lines joined with LF; '' for a blank message. */
  data: string;
  /** Last event id seen on the stream so far (it persists across messages). */
  id: string;
}

export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  #buffer = '';
  #skipLf = false;
  #bomChecked = false;
  #data: string[] = [];
  #hasData = false;
  #event = '';
  #lastId = '';
  /** The server's last `retry` hint in milliseconds, or null. */
  retryMs: number | null = null;

  /** Feed raw bytes or text; returns the messages completed by this chunk. */
  push(chunk: Uint8Array | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (!this.#bomChecked && text.length > 0) {
      this.#bomChecked = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: SseMessage[] = [];
    for (const ch of text) {
      if (this.#skipLf) {
        this.#skipLf = false;
        if (ch === '\n') continue;
      }
      if (ch === '\r' || ch === '\n') {
        this.#skipLf = ch === '\r';
        const msg = this.#line(this.#buffer);
        this.#buffer = '';
        if (msg) out.push(msg);
      } else {
        this.#buffer += ch;
      }
    }
    return out;
  }

  #line(line: string): SseMessage | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        // Unknown fields are ignored, per the spec.
        break;
    }
    return null;
  }

  #dispatch(): SseMessage | null {
    const hasData = this.#hasData;
    const msg: SseMessage = { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId };
    this.#data = [];
    this.#hasData = false;
    this.#event = '';
    // The spec dispatches nothing when no data line arrived (e.g. a lone `event:` or `id:` block).
    return hasData ? msg : null;
  }
}
