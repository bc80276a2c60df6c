/**
 * Server-sent events for the Outbound API stream: `eventsource-parser` does the WHATWG parsing
 * (line ends, fields, `data` joining, `retry`); this wrapper decodes UTF-8 across chunks, keeps the
 * last event id across messages, and enforces the size caps the library lacks.
 *
 * The caps are counted on the raw bytes before they reach the parser, so a peer cannot make the
 * parser buffer more than `maxLineBytes` of one unterminated line, or more than `maxEventBytes` of
 * one event whose blank line never comes (issue 10: one endless line took the process down).
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseMessage {
  /** `event` field, `message` when absent. */
  event: string;
  /** `data` lines joined with LF; '' for a blank message. */
  data: string;
  /** Last event id seen on the stream so far (it persists across messages). */
  id: string;
}

export interface SseLimits {
  /** Bytes of one line (without its line end). */
  maxLineBytes: number;
  /** Bytes of one event: every line since the last blank line. */
  maxEventBytes: number;
}

/** Which cap a stream went past. */
export type SseLimit = 'line' | 'event';

/** Thrown by `push` when a cap is passed; the parser is unusable afterwards (the caller drops the stream). */
export class SseLimitError extends Error {
  readonly limit: SseLimit;
  readonly bytes: number;
  constructor(limit: SseLimit, bytes: number) {
    super(`an event-stream ${limit} is longer than ${bytes} bytes`);
    this.name = 'SseLimitError';
    this.limit = limit;
    this.bytes = bytes;
  }
}

const CR = 0x0d;
const LF = 0x0a;
const UNBOUNDED: SseLimits = { maxLineBytes: Number.POSITIVE_INFINITY, maxEventBytes: Number.POSITIVE_INFINITY };

export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #parser: EventSourceParser;
  readonly #limits: SseLimits;
  #out: SseMessage[] = [];
  #lastId = '';
  #lineBytes = 0;
  #eventBytes = 0;
  #afterCr = false;
  #failed: SseLimitError | null = null;
  /** The server's last `retry` hint in milliseconds, or null. */
  retryMs: number | null = null;

  constructor(limits: SseLimits = UNBOUNDED) {
    this.#limits = limits;
    this.#parser = createParser({
      onEvent: (message) => {
        if (message.id !== undefined && !message.id.includes('\0')) this.#lastId = message.id;
        this.#out.push({ event: message.event ?? 'message', data: message.data, id: this.#lastId });
      },
      onRetry: (ms) => {
        this.retryMs = ms;
      },
      // Malformed fields are ignored, as the spec says; nothing here can grow.
      onError: () => undefined,
    });
  }

  /** Feed raw bytes or text; returns the messages completed by this chunk. Throws SseLimitError past a cap. */
  push(chunk: Uint8Array | string): SseMessage[] {
    if (this.#failed) throw this.#failed;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.#count(bytes);
    this.#parser.feed(typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true }));
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Forget a partial line and event (a new connection starts clean); the last id is kept. */
  reset(): void {
    this.#parser.reset();
    this.#out = [];
    this.#lineBytes = 0;
    this.#eventBytes = 0;
    this.#afterCr = false;
    this.#failed = null;
  }

  /** Bytes since the last line end and since the last blank line; throws before the parser sees a chunk past a cap. */
  #count(bytes: Uint8Array): void {
    const { maxLineBytes, maxEventBytes } = this.#limits;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === CR || b === LF) {
        // CRLF is one line end, also when CR and LF arrive in different chunks.
        const lfAfterCr = b === LF && this.#afterCr;
        this.#afterCr = b === CR;
        if (lfAfterCr) continue;
        if (this.#lineBytes === 0) this.#eventBytes = 0;
        this.#lineBytes = 0;
        continue;
      }
      this.#afterCr = false;
      this.#lineBytes++;
      this.#eventBytes++;
      if (this.#lineBytes > maxLineBytes) this.#fail(new SseLimitError('line', maxLineBytes));
      if (this.#eventBytes > maxEventBytes) this.#fail(new SseLimitError('event', maxEventBytes));
    }
  }

  #fail(error: SseLimitError): never {
    this.#failed = error;
    this.#parser.reset();
    throw error;
  }
}
