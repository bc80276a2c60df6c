/** `events_resumes_total{outcome}` and the log line of a refused resume (`events(after:)`). */
import { Counter, type Registry } from 'prom-client';
import { isGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The bus's `onReplay`: counts each resume by outcome (`replayed`, or the refusal's code) and logs refusals. */
export function observeResumes(registry: Registry, logger: Logger): (outcome: { events: number } | { error: unknown }) => void {
  const resumes = new Counter({
    name: 'events_resumes_total',
    help: 'Event subscriptions resumed with after, by outcome: replayed, EVENTS_EXPIRED, STORE_UNAVAILABLE, INTERNAL_SERVER_ERROR',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return (outcome) => {
    if ('events' in outcome) return resumes.inc({ outcome: 'replayed' });
    const code = isGatewayError(outcome.error) ? outcome.error.code : 'INTERNAL_SERVER_ERROR';
    resumes.inc({ outcome: code });
    logger.info({ code, ...(isGatewayError(outcome.error) ? outcome.error.details : {}) }, 'event resume refused');
  };
}
