/** All resolvers, by domain. Add a domain's resolver map here. */
import type { IResolvers } from '@graphql-tools/utils';
import type { Resolvers } from '../generated/types.js';
import { abiquoResolvers } from './abiquo.js';
import { consoleResolvers } from './console.js';
import { eventResolvers } from './events.js';
import { recordingResolvers } from './recordings.js';
import { scalarResolvers } from './scalars.js';
import { sessionResolvers } from './sessions.js';
import { vmResolvers } from './vms.js';

const domains: Resolvers[] = [scalarResolvers, vmResolvers, consoleResolvers, eventResolvers, abiquoResolvers, sessionResolvers, recordingResolvers];

export function mergeResolvers(): IResolvers[] {
  return domains as IResolvers[];
}
