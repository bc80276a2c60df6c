/**
 * The operations the README shows, as typed documents: graphql-codegen's client-preset reads the
 * `graphql(...)` calls below and generates their result and variable types into ./generated/
 * (`npm run codegen`; never edited by hand).
 */
import { graphql } from './generated/index.js';

/** A page of VMs with what a console picker needs. */
export const ListVmsDocument = graphql(`
  query ListVms($provider: String, $filter: VmFilter, $first: Int, $after: String) {
    vms(provider: $provider, filter: $filter, first: $first, after: $after) {
      nodes {
        id
        name
        status
        provider {
          name
          kind
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

/** A fresh console URL for a VM (a new single-use ticket in GATEWAY mode on every call). */
export const OpenConsoleDocument = graphql(`
  mutation OpenConsole($vmId: ID!, $mode: ConsoleMode) {
    openConsole(vmId: $vmId, mode: $mode) {
      url
      mode
      protocols
      expiresAt
    }
  }
`);

/** The gateway's event stream, filtered. */
export const EventsDocument = graphql(`
  subscription Events($filter: EventFilter) {
    events(filter: $filter) {
      id
      source
      provider
      time
      type
      action
      key
      principal
      object
    }
  }
`);
