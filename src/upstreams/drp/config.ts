/** The `drp` entry of `providers[]`: DRP is an event source only, so it needs no more than the shared base. */
import { z } from 'zod';
import { needsCredentials, providerBase } from '../shared/config.js';

export const drpConfigSchema = z
  .object({
    ...providerBase,
    kind: z.literal('drp'),
  })
  .strict()
  .refine(...needsCredentials);

export type DrpProviderConfig = z.infer<typeof drpConfigSchema>;
