/** Structured JSON logs (pino). Secret-bearing fields are redacted wherever they appear. */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Field names whose values never reach a log line, at any depth we log. */
const SECRET_KEYS = ['authorization', 'password', 'token', 'raw_token', 'ticket', 'cookie', 'apiKey', 'secret', 'vncPassword'];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'console-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
