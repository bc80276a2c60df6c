/** The one log capture: a logger that keeps every JSON line in memory, so tests can check what was (and was not) logged. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../src/logger.js';

export interface CapturedLogs {
  logger: Logger;
  /** One JSON line per entry. */
  lines: string[];
  text: () => string;
  /** The lines, parsed. */
  records: () => Array<Record<string, unknown>>;
}

/**
 * `plain`: a bare pino logger instead of the gateway's (`createLogger`, which redacts and scrubs
 * secrets); for tests that check the code under test never hands a secret to the logger at all.
 */
export function captureLogger(level = 'debug', options: { plain?: boolean } = {}): CapturedLogs {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = options.plain ? pino({ level }, sink) : createLogger(level, sink);
  return {
    logger,
    lines,
    text: () => lines.join('\n'),
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
