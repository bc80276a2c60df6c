import type { Gateway } from '../gateway.js';
import type { GatewayError } from '../errors.js';

/** Per-operation context handed to resolvers (HTTP and graphql-ws alike). */
export interface GatewayContext {
  gateway: Gateway;
  /** Who is asking: an API key name, a JWT subject, or "anonymous" when auth is off. */
  caller: string;
  /**
   * Errors that did not stop the operation (one provider down while listing all of them). They are
   * appended to the response's `errors` by the partial-errors plugin, beside the data.
   */
  partialErrors: GatewayError[];
}
