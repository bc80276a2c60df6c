import type { ConsoleRecording, ConsoleRecordingState, Resolvers } from '../generated/types.js';
import { recordingCatalogOf, type RecordingCatalog, type RecordingEntry } from '../../recording/catalog.js';
import type { GatewayContext } from '../context.js';
import { NotFoundError } from '../../errors.js';

const STATE: Record<RecordingEntry['state'], ConsoleRecordingState> = { recording: 'RECORDING', complete: 'COMPLETE', failed: 'FAILED', corrupt: 'CORRUPT' };
const FROM_STATE: Record<ConsoleRecordingState, RecordingEntry['state']> = { RECORDING: 'recording', COMPLETE: 'complete', FAILED: 'failed', CORRUPT: 'corrupt' };

function toGraphql(e: RecordingEntry): ConsoleRecording {
  return {
    id: e.id,
    sessionId: e.sessionId,
    vmId: e.vmId,
    provider: e.provider,
    caller: e.caller,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    durationMs: e.durationMs,
    bytes: e.bytes,
    includesInput: e.includesInput,
    state: STATE[e.state],
    failure: e.failure,
    playbackUrl: e.playbackUrl,
  };
}

/** The catalog, once the caller may see recordings (FORBIDDEN otherwise); null when recording is not set up. */
function catalogFor(ctx: GatewayContext): RecordingCatalog | null {
  const catalog = recordingCatalogOf(ctx.gateway);
  catalog?.assertMayView(ctx.principal);
  return catalog;
}

export const recordingResolvers: Resolvers = {
  Query: {
    consoleRecordings: async (_parent, { filter, first, after }, ctx) => {
      const catalog = catalogFor(ctx);
      const page = catalog
        ? await catalog.list(filter ? { ...filter, state: filter.state ? FROM_STATE[filter.state] : null } : null, first, after)
        : { entries: [], hasNextPage: false, endCursor: null };
      const nodes = page.entries.map(toGraphql);
      return {
        nodes,
        edges: nodes.map((node) => ({ cursor: node.id, node })),
        pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: after != null, startCursor: nodes[0]?.id ?? null, endCursor: page.endCursor },
      };
    },
    consoleRecording: async (_parent, { id }, ctx) => {
      const catalog = catalogFor(ctx);
      if (!catalog) throw new NotFoundError('no console recording: recording is not configured', {});
      return toGraphql(await catalog.require(id));
    },
  },
};
