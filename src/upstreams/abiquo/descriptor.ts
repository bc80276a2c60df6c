/** Abiquo: VM listings from a cache kept fresh by the Outbound API event stream, consoles through the gateway. */
import { defineUpstreamKind } from '../descriptor.js';
import { abiquoConfigSchema } from './config.js';
import { createAbiquoProvider } from './provider.js';

export const abiquoKind = defineUpstreamKind({
  kind: 'abiquo',
  configSchema: abiquoConfigSchema,
  provides: { vms: true, consoles: true, events: true },
  create: (config, deps) => createAbiquoProvider(config, deps),
});
