/**
 * Structured JSON logs (pino). Secrets never reach a line: pino's `redact` paths cover the known
 * shapes cheaply, and every log object is also scrubbed at any depth (observability/redact.ts) for
 * the shapes the paths cannot name. Lines written while a request is served carry its `reqId`.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { currentRequestId } from './observability/log-context.js';
import { REDACTED, SECRET_FIELDS, scrubSecrets, scrubString } from './observability/redact.js';

export type { Logger } from 'pino';

const HEADER_SECRETS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'sec-websocket-protocol'];

export const REDACT_PATHS = [
  // The cheap, fixed-depth part; scrubSecrets (formatters.log) catches deeper and differently spelled ones.
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((k) => `*.${k}`),
  ...SECRET_FIELDS.map((k) => `*.*.${k}`),
  ...HEADER_SECRETS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`, `*.headers["${h}"]`]),
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'console-gateway' },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => {
        const reqId = currentRequestId();
        return reqId === undefined ? {} : { reqId };
      },
      formatters: {
        log: (object) => scrubSecrets(object),
        bindings: (bindings) => scrubSecrets(bindings),
      },
      hooks: {
        // Messages are written by us, but may interpolate a URL: scrub them as well.
        logMethod(args, method) {
          const last = args.length - 1;
          if (typeof args[last] === 'string') args[last] = scrubString(args[last] as string);
          method.apply(this, args);
        },
      },
    },
    destination,
  );
}
