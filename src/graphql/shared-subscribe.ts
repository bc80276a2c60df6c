/**
 * graphql-ws `subscribe` that executes each source event once per distinct operation instead of once
 * per subscriber. graphql-js maps every event through `execute()` for every subscription; with 1,000
 * subscribers on one pattern that is 1,000 identical executions per event (most of the CPU in the
 * events benchmark). The bus hands the same event object to every subscriber, so results are cached
 * per event object (a WeakMap: they go when the event goes) and per operation: caller, query text,
 * operation name and variables. The caller is part of the key because what a caller may see can differ.
 */
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GatewayContext } from './context.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

const resultsByEvent = new WeakMap<object, Map<string, Result>>();

function operationKey(args: ExecutionArgs): string {
  const caller = (args.contextValue as Partial<GatewayContext> | undefined)?.principal?.id;
  const query = args.document.loc?.source.body ?? '';
  return `${String(caller)}\0${args.operationName ?? ''}\0${JSON.stringify(args.variableValues ?? null)}\0${query}`;
}

export async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(stream))) return stream as ExecutionResult;
  const source = stream as AsyncIterableIterator<unknown>;
  const key = operationKey(args);
  const resultFor = (payload: unknown): Result => {
    // Failures (a dropped slow subscriber) belong to one subscriber: never share them.
    if (typeof payload !== 'object' || payload === null || 'failure' in payload) return execute({ ...args, rootValue: payload });
    let byKey = resultsByEvent.get(payload);
    if (!byKey) resultsByEvent.set(payload, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) byKey.set(key, (result = execute({ ...args, rootValue: payload })));
    return result;
  };
  const it: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => it,
    async next() {
      const r = await source.next();
      return r.done ? { done: true, value: undefined } : { done: false, value: await resultFor(r.value) };
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(err) {
      await source.return?.();
      throw err;
    },
  };
  return it;
}
