/**
 * OpenTelemetry tracing. On only when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the exporter, sampler and batch processor read the other
 * standard `OTEL_*` variables themselves. Off, no SDK module is loaded and every span below comes from
 * the API's no-op tracer.
 *
 * `startTracing` runs first in src/main.ts, before anything loads `http`, so the http instrumentation
 * sees the server and the `ws` client requests; upstream HTTP calls (undici) are traced through
 * diagnostics_channel. W3C `traceparent` is accepted on requests and injected into upstream calls.
 *
 * No exported span carries a ticket, token, password or upstream query string: the exporter is wrapped
 * (`ScrubbingExporter`) so every URL-valued attribute loses its query string, `url.query` is dropped,
 * and the spans created here carry only safe attributes (see the README's "Tracing").
 */
import { trace, SpanStatusCode, type Attributes, type AttributeValue, type Tracer } from '@opentelemetry/api';

export const TRACER_NAME = 'console-gateway';

/** The gateway's tracer: the SDK's when tracing is on, the no-op one otherwise. */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

let running: { shutdown(): Promise<void> } | null = null;

/** Starts the SDK when an OTLP endpoint is set; returns whether it did. Call before `http` is imported. */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (running || !tracingRequested(env)) return false;
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { registerInstrumentations }, { HttpInstrumentation }, { UndiciInstrumentation }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-undici'),
      import('@opentelemetry/resources'),
    ]);
  const exporter = new OTLPTraceExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'console-gateway' }),
    spanProcessors: [new BatchSpanProcessor(scrubbingExporter(exporter))],
  });
  // Sets the global tracer provider, the AsyncLocalStorage context manager and the W3C propagator.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // Scrape and probe traffic is not worth a trace.
        ignoreIncomingRequestHook: (req) => /^\/(metrics|healthz|readyz)(\?|$)/.test(req.url ?? ''),
      }),
      new UndiciInstrumentation(),
    ],
  });
  running = provider;
  return true;
}

/** Exports what is queued and stops the SDK; a no-op when tracing is off. Bounded by the exporter's timeout. */
export async function stopTracing(): Promise<void> {
  const r = running;
  running = null;
  if (r) await r.shutdown().catch(() => {});
}

/** Attribute names whose value is a URL or a request target: exported without the query string. */
const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'http.target', 'url.path', 'http.route', 'url.original', 'server.url']);
/** Dropped outright. */
const DROPPED_ATTRIBUTES = new Set(['url.query', 'http.request.header.authorization', 'http.request.header.cookie', 'http.request.header.x-api-key']);
const SECRET_QUERY = /[?&#](ticket|token|password|access_token|api_key|apikey|key|secret)=/i;

function stripQuery(value: string): string {
  const at = value.search(/[?#]/);
  return at === -1 ? value : value.slice(0, at);
}

function scrubValue(name: string, value: AttributeValue | undefined): AttributeValue | undefined {
  if (typeof value !== 'string') return value;
  if (URL_ATTRIBUTES.has(name) || SECRET_QUERY.test(value)) return stripQuery(value);
  return value;
}

/** A copy of `attributes` safe to export: URL query strings stripped, query and credential headers dropped. */
export function scrubAttributes(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (DROPPED_ATTRIBUTES.has(name) || /^http\.(request|response)\.header\./.test(name)) continue;
    out[name] = scrubValue(name, value);
  }
  return out;
}

type SdkExporter = import('@opentelemetry/sdk-trace-base').SpanExporter;
type SdkSpan = import('@opentelemetry/sdk-trace-base').ReadableSpan;

function scrubbingExporter(inner: SdkExporter): SdkExporter {
  const scrub = (s: SdkSpan): SdkSpan => ({
    name: stripQuery(s.name),
    kind: s.kind,
    spanContext: () => s.spanContext(),
    parentSpanContext: s.parentSpanContext,
    startTime: s.startTime,
    endTime: s.endTime,
    status: s.status.message ? { ...s.status, message: stripQuery(s.status.message) } : s.status,
    attributes: scrubAttributes(s.attributes),
    links: s.links.map((l) => ({ ...l, attributes: l.attributes ? scrubAttributes(l.attributes) : undefined })),
    events: s.events.map((e) => ({ ...e, attributes: e.attributes ? scrubAttributes(e.attributes) : undefined })),
    duration: s.duration,
    ended: s.ended,
    resource: s.resource,
    instrumentationScope: s.instrumentationScope,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  });
  return {
    export: (spans, done) => inner.export(spans.map(scrub), done),
    shutdown: () => inner.shutdown(),
    ...(inner.forceFlush ? { forceFlush: () => inner.forceFlush!() } : {}),
  };
}

/** A finished console session: one span from its start to its end. Only safe fields of the audit record. */
export function recordConsoleSessionSpan(summary: {
  sessionId: string;
  provider: string | null;
  target: string | null;
  startedAt: string;
  endedAt: string;
  bytesToUpstream: number;
  bytesToClient: number;
  closeCode: number;
  vmId: string | null;
}): void {
  const t = tracer();
  const span = t.startSpan('console.session', {
    startTime: new Date(summary.startedAt),
    attributes: {
      'console.session.id': summary.sessionId,
      'console.provider': summary.provider ?? '',
      // `ConsoleTarget.describe`: scheme, host, port and path; never the query string (stripped again here).
      'console.target': summary.target === null ? '' : stripQuery(summary.target),
      'console.vm_id': summary.vmId ?? '',
      'console.bytes_to_upstream': summary.bytesToUpstream,
      'console.bytes_to_client': summary.bytesToClient,
      'console.close_code': summary.closeCode,
    },
  });
  if (summary.closeCode !== 1000 && summary.closeCode !== 1001 && summary.closeCode !== 1005) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end(new Date(summary.endedAt));
}

/** An upstream event stream (DRP socket, Abiquo stream) scheduling a reconnect: a short span. */
export function recordStreamReconnect(kind: string, provider: string, delayMs: number): void {
  tracer()
    .startSpan('upstream.stream.reconnect', { attributes: { 'upstream.kind': kind, 'upstream.provider': provider, 'upstream.reconnect.delay_ms': delayMs } })
    .end();
}

/**
 * A span per GraphQL operation over HTTP, a child of the request's HTTP span: its type and name only
 * (never the document or the variables, which may hold anything a caller typed).
 */
export function graphqlTracingPlugin<C extends object>(): import('@apollo/server').ApolloServerPlugin<C> {
  return {
    async requestDidStart({ request }) {
      const span = tracer().startSpan('graphql.operation', { attributes: { 'graphql.transport': 'http' } });
      if (!span.isRecording()) return {};
      if (request.operationName) span.setAttribute('graphql.operation.name', request.operationName);
      return {
        async didResolveOperation(ctx) {
          const type = ctx.operation?.operation ?? 'unknown';
          const name = ctx.operationName ?? request.operationName ?? undefined;
          span.setAttribute('graphql.operation.type', type);
          if (name) span.setAttribute('graphql.operation.name', name);
          span.updateName(name ? `${type} ${name}` : type);
        },
        async willSendResponse({ response }) {
          if (response.body.kind === 'single') {
            const errors = response.body.singleResult.errors ?? [];
            if (errors.length > 0) {
              const code = (errors[0]?.extensions as { code?: unknown } | undefined)?.code;
              span.setAttribute('graphql.error.count', errors.length);
              if (typeof code === 'string') span.setAttribute('graphql.error.code', code);
              span.setStatus({ code: SpanStatusCode.ERROR });
            }
          }
          span.end();
        },
      };
    },
  };
}
