/**
 * Authentication for GraphQL over HTTP: an Express middleware in front of Apollo. A caller without
 * valid credentials gets HTTP 401 with a GraphQL error body (`UNAUTHENTICATED`) before the body is
 * even parsed; an authenticated one is left in `res.locals.principal` for the context.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCode } from '../errors.js';
import type { GatewayAccess } from './access.js';
import { credentialFromHeaders } from './credentials.js';
import { UnauthenticatedError } from './errors.js';
import { ANONYMOUS, type Principal } from './principal.js';

export function authenticateHttp(access: GatewayAccess): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    access.authenticator.authenticate(credentialFromHeaders(req.headers)).then(
      (principal) => {
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof UnauthenticatedError)) {
          next(err);
          return;
        }
        const scheme = access.authenticator.mode === 'apiKey' ? 'ApiKey' : 'Bearer';
        res
          .status(401)
          .set('WWW-Authenticate', `${scheme} realm="console-gateway"`)
          .set('Cache-Control', 'no-store')
          .json({ errors: [{ message: err.message, extensions: { ...err.details, code: ErrorCode.Unauthenticated } }] });
      },
    );
  };
}

/** The principal authenticateHttp left on the response (anonymous when no middleware ran). */
export function principalOf(res: Response): Principal {
  return (res.locals.principal as Principal | undefined) ?? ANONYMOUS;
}
