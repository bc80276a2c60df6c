/** Global VM ids: `<provider>:<upstream id>`. Provider names cannot contain ':' (config enforces it). */
import { BadUserInputError } from './errors.js';

/** A VM as the gateway addresses it upstream: which provider, and that provider's own id for it. */
export interface VmRef {
  provider: string;
  upstreamId: string;
}

export function formatVmId(provider: string, upstreamId: string): string {
  return `${provider}:${upstreamId}`;
}

export function parseVmId(id: string): VmRef {
  const colon = id.indexOf(':');
  if (id.length > 512 || colon <= 0 || colon === id.length - 1) {
    throw new BadUserInputError('a VM id looks like "<provider>:<upstream id>", e.g. "tower-sh:ckx1..."', { field: 'id' });
  }
  return { provider: id.slice(0, colon), upstreamId: id.slice(colon + 1) };
}
