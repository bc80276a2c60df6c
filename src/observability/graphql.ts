/**
 * GraphQL operation metrics: an Apollo plugin for HTTP, and a tracker for graphql-ws hooks, both
 * reporting to GatewayMetrics with the same labels (operation name, type, outcome, transport).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { getOperationAST } from 'graphql';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { GatewayMetrics, GraphQLOutcome } from './metrics.js';
import { tracer } from './tracing.js';

export function graphqlMetricsPlugin<C extends object>(metrics: GatewayMetrics): ApolloServerPlugin<C> {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      let type = 'unknown';
      let name: string | null | undefined = request.operationName;
      let rejected = false;
      return {
        async didResolveOperation(ctx) {
          type = ctx.operation?.operation ?? 'unknown';
          name = ctx.operationName ?? name;
        },
        async parsingDidStart() {
          return async (err?: Error) => {
            if (err) rejected = true;
          };
        },
        async validationDidStart(ctx) {
          // A document that fails validation never reaches didResolveOperation: take its name here.
          name ??= getOperationAST(ctx.document, request.operationName ?? null)?.name?.value;
          return async (errs?: ReadonlyArray<Error>) => {
            if (errs && errs.length > 0) rejected = true;
          };
        },
        async willSendResponse({ response }) {
          let outcome: GraphQLOutcome = 'ok';
          if (rejected) outcome = 'rejected';
          else if (response.body.kind === 'single') {
            const { errors, data } = response.body.singleResult;
            if (errors && errors.length > 0) outcome = data === null || data === undefined ? 'error' : 'partial';
          }
          metrics.graphqlOperation({ name, type, outcome, transport: 'http', durationMs: performance.now() - started });
        },
      };
    },
  };
}

interface WsOperation {
  started: number;
  name: string | null | undefined;
  /** Set once the document is parsed and valid; until then a failure is a rejection. */
  type: string | null;
  errored: boolean;
  partial: boolean;
  /** One span per graphql-ws operation (a subscription lives as long as it streams); no-op when tracing is off. */
  span: Span;
}

/**
 * Follows graphql-ws operations from the server's hooks (onSubscribe, onNext, onError, onComplete).
 * graphql-ws calls onComplete for every operation that started executing, also when the socket
 * closes; an operation refused by onSubscribe gets onError only, and is recorded as `rejected` then.
 */
export class WsOperationTracker {
  readonly #byConnection = new WeakMap<object, Map<string, WsOperation>>();

  constructor(private readonly metrics: GatewayMetrics) {}

  subscribed(connection: object, id: string, name: string | null | undefined): void {
    let ops = this.#byConnection.get(connection);
    if (!ops) this.#byConnection.set(connection, (ops = new Map()));
    const span = tracer().startSpan('graphql-ws operation', { attributes: { 'graphql.transport': 'ws', ...(name ? { 'graphql.operation.name': name } : {}) } });
    ops.set(id, { started: performance.now(), name, type: null, errored: false, partial: false, span });
  }

  /** The document parsed and validated: its operation's type, and its name when the message named none. */
  accepted(connection: object, id: string, type: string, name: string | undefined): void {
    const op = this.#byConnection.get(connection)?.get(id);
    if (!op) return;
    op.type = type;
    op.name ??= name;
    op.span.setAttribute('graphql.operation.type', type);
    if (op.name) op.span.setAttribute('graphql.operation.name', op.name);
    op.span.updateName(op.name ? `${type} ${op.name}` : type);
  }

  next(connection: object, id: string, hadErrors: boolean): void {
    const op = this.#byConnection.get(connection)?.get(id);
    if (op && hadErrors) op.partial = true;
  }

  error(connection: object, id: string): void {
    const op = this.#byConnection.get(connection)?.get(id);
    if (!op) return;
    if (op.type === null) {
      this.#record(connection, id, op, 'rejected');
      return;
    }
    op.errored = true;
  }

  completed(connection: object, id: string): void {
    const op = this.#byConnection.get(connection)?.get(id);
    if (op) this.#record(connection, id, op, op.errored ? 'error' : op.partial ? 'partial' : 'ok');
  }

  #record(connection: object, id: string, op: WsOperation, outcome: GraphQLOutcome): void {
    this.#byConnection.get(connection)?.delete(id);
    op.span.setAttribute('graphql.outcome', outcome);
    if (outcome === 'error' || outcome === 'rejected') op.span.setStatus({ code: SpanStatusCode.ERROR });
    op.span.end();
    this.metrics.graphqlOperation({ name: op.name, type: op.type ?? 'unknown', outcome, transport: 'ws', durationMs: performance.now() - op.started });
  }
}
