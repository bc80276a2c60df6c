import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { UnauthenticatedError, UnauthenticatedReason } from '../../src/auth/errors.js';
import { LegConnectError } from '../../src/console/legs/types.js';
import { TicketError, TicketErrorCode } from '../../src/console/tickets.js';
import { ConfigError, GatewayError, NotFoundError, UpstreamUnavailableError } from '../../src/errors.js';
import { formatGatewayError } from '../../src/graphql/errors.js';
import { RfbError, RfbErrorCode } from '../../src/rfb/errors.js';
import { DecodeError } from '../../src/upstreams/abiquo/model.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';

/** What Apollo hands the formatter for an error a resolver threw. */
function asThrownByResolver(err: Error) {
  const wrapped = new GraphQLError(err.message, { path: ['vm'], originalError: err });
  return formatGatewayError({ message: err.message, path: ['vm'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, wrapped);
}

describe('GraphQL error masking', () => {
  it('shows API errors with their code and details', () => {
    expect(asThrownByResolver(new NotFoundError('VM "sim:1" does not exist', { provider: 'sim' }))).toEqual({
      path: ['vm'],
      message: 'VM "sim:1" does not exist',
      extensions: { provider: 'sim', code: 'NOT_FOUND' },
    });
    expect(asThrownByResolver(new UpstreamUnavailableError('sim', 'timeout')).extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(asThrownByResolver(new UnauthenticatedError(UnauthenticatedReason.TokenExpired, 'token expired')).extensions).toEqual({
      reason: 'TOKEN_EXPIRED',
      code: 'UNAUTHENTICATED',
    });
  });

  it('masks every internal family as INTERNAL_SERVER_ERROR, although each is a GatewayError', () => {
    const internal = [
      new ConfigError(['auth.jwt: needs a secret']),
      new TicketError(TicketErrorCode.Used, 'ticket-1'),
      new RfbError(RfbErrorCode.AuthFailed, 'wrong password'),
      new LegConnectError(ConsoleCloseCode.UpstreamUnreachable, 'ECONNREFUSED'),
      new DecodeError('a body that is not JSON'),
    ];
    for (const err of internal) {
      expect(err).toBeInstanceOf(GatewayError);
      expect(asThrownByResolver(err), err.name).toEqual({ path: ['vm'], message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    }
  });
});
