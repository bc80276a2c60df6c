/** The `cloudtower` entry of `providers[]`. Every default lives here once; the client and provider read the validated values. */
import { z } from 'zod';
import { needsCredentials, providerBase, timeoutsSchema } from '../shared/config.js';

/** Every console mode a CloudTower provider can serve. */
const CONSOLE_MODES = ['GATEWAY', 'DIRECT', 'UPSTREAM'] as const;

const websockifyEndpoint = z
  .object({
    /** ws or wss. @default wss */
    scheme: z.enum(['ws', 'wss']).default('wss'),
    /** TCP port of the websockify endpoint. @default 443 */
    port: z.number().int().min(1).max(65535).default(443),
    /** Host to use instead of the one CloudTower reports (cluster) or the API URL's host (tower). */
    host: z.string().min(1).optional(),
  })
  .strict();

export const cloudTowerConfigSchema = z
  .object({
    ...providerBase,
    kind: z.literal('cloudtower'),
    /** Login source. @default LOCAL */
    userSource: z.enum(['LOCAL', 'LDAP', 'AUTHN', 'SSO']).default('LOCAL'),
    /** Console mode when a caller names none; must be one of `consoleModes`. @default GATEWAY */
    consoleMode: z.enum(CONSOLE_MODES).default('GATEWAY'),
    /**
     * Console modes callers may ask for; any other answers FORBIDDEN. DIRECT and UPSTREAM hand
     * CloudTower's own console tokens to the browser: leave them out to keep those tokens server-side.
     * @default [GATEWAY, DIRECT, UPSTREAM]
     */
    consoleModes: z.array(z.enum(CONSOLE_MODES)).min(1).default([...CONSOLE_MODES]),
    /** How the gateway (GATEWAY mode) reaches the VM's websockify: straight to the cluster, or through CloudTower. @default cluster */
    gatewayRoute: z.enum(['cluster', 'tower']).default('cluster'),
    websockify: z
      .object({
        cluster: websockifyEndpoint.prefault({}),
        tower: websockifyEndpoint.prefault({}),
      })
      .strict()
      .prefault({}),
    timeouts: timeoutsSchema,
  })
  .strict()
  .refine(...needsCredentials)
  .refine((c) => c.consoleModes.includes(c.consoleMode), {
    message: '`consoleMode` (the default mode) must be one of `consoleModes`',
    path: ['consoleMode'],
  });

export type CloudTowerProviderConfig = z.infer<typeof cloudTowerConfigSchema>;
