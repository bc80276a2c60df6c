import type { Gateway } from '../gateway.js';
import type { GatewayError } from '../errors.js';
import type { Principal } from '../auth/principal.js';

/** Per-operation context handed to resolvers (HTTP and graphql-ws alike). */
export interface GatewayContext {
  gateway: Gateway;
  /**
   * The authenticated caller (`principal.id`: `apikey:<name>`, `jwt:<sub>`, or "anonymous" when auth
   * is off) with the providers it may use; resolvers pass it to the Gateway.
   */
  principal: Principal;
  /**
   * Errors that did not stop the operation (one provider down while listing all of them). They are
   * appended to the response's `errors` by the partial-errors plugin, beside the data.
   */
  partialErrors: GatewayError[];
}
