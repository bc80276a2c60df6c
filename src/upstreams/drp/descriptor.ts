/** Digital Rebar Provision: an event source only (no VMs, no consoles). */
import { defineUpstreamKind } from '../descriptor.js';
import { drpConfigSchema } from './config.js';
import { DrpEventSource } from './source.js';

export const drpKind = defineUpstreamKind({
  kind: 'drp',
  configSchema: drpConfigSchema,
  provides: { vms: false, consoles: false, events: true },
  create: (config, deps) => new DrpEventSource(config, deps),
});
