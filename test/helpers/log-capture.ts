import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** A logger that keeps every line in memory, so tests can check what was (and was not) logged. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines, text: () => lines.join('\n') };
}
