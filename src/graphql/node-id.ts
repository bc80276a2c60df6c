/**
 * Relay global ids (`Node.id`). A Vm's is its readable `<provider>:<upstream id>` (src/vm-id.ts), the
 * id every VM-taking argument accepts, so clients see one id per VM. Every other node's id is
 * base64url of `<Type>:<provider>:<upstream id>`: deterministic (stable across restarts), unique
 * across providers (the provider name is part of it), and never containing `:`, so it cannot be
 * mistaken for a VM id. Provider names cannot contain `:` (config enforces it), so decoding is exact.
 */
import { BadUserInputError } from '../errors.js';
import { parseVmId, type VmRef } from '../vm-id.js';

/** Node types whose ids are opaque (everything but Vm). */
export const OPAQUE_NODE_TYPES = ['Cluster', 'Host', 'Enterprise'] as const;
export type OpaqueNodeType = (typeof OPAQUE_NODE_TYPES)[number];

/** A Cluster, Host or Enterprise as a VM record carries it, with the provider that scopes its id. */
export interface NodeRefRecord {
  nodeType: OpaqueNodeType;
  provider: string;
  id: string;
  name: string;
  ip?: string | null;
}

export type DecodedNodeId = ({ type: 'Vm' } & VmRef) | { type: OpaqueNodeType; provider: string; upstreamId: string };

export function encodeNodeId(type: OpaqueNodeType, provider: string, upstreamId: string): string {
  return Buffer.from(`${type}:${provider}:${upstreamId}`, 'utf8').toString('base64url');
}

const NOT_OURS = 'not a global id this gateway issued';

export function decodeNodeId(id: string): DecodedNodeId {
  if (id.includes(':')) return { type: 'Vm', ...parseVmId(id) };
  if (id.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(id)) throw new BadUserInputError(NOT_OURS, { field: 'id' });
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  const type = text.slice(0, first) as OpaqueNodeType;
  if (second < 0 || !OPAQUE_NODE_TYPES.includes(type) || second === first + 1 || second === text.length - 1) {
    throw new BadUserInputError(NOT_OURS, { field: 'id' });
  }
  return { type, provider: text.slice(first + 1, second), upstreamId: text.slice(second + 1) };
}
