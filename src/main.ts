#!/usr/bin/env node
/**
 * Process entry. Tracing starts first (only when an OTLP endpoint is set: src/observability/tracing.ts),
 * before anything loads `http`, so the http instrumentation is in place; then the CLI (src/cli.ts).
 * Works the same under `tsx src/main.ts` and `node dist/main.js`: no loader hook is needed.
 */
import { startTracing } from './observability/tracing.js';

await startTracing(process.env);
await import('./cli.js');
