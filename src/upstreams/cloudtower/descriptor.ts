/** CloudTower (SmartX): VM listings and consoles, request/response only (no event stream). */
import { defineUpstreamKind } from '../descriptor.js';
import { cloudTowerConfigSchema } from './config.js';
import { CloudTowerProvider } from './provider.js';

export const cloudTowerKind = defineUpstreamKind({
  kind: 'cloudtower',
  configSchema: cloudTowerConfigSchema,
  provides: { vms: true, consoles: true, events: false },
  create: (config, deps) => new CloudTowerProvider(config, deps),
});
