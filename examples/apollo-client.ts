import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';

export function createClient(gatewayUrl: string, apiKey?: string) {
  const headers: Record<string, string> = apiKey ? { authorization: `ApiKey ${apiKey}` } : {};
  return new ApolloClient({ link: new HttpLink({ uri: `${gatewayUrl}/graphql`, headers }), cache: new InMemoryCache() });
}

const OPEN_CONSOLE = gql`
  mutation OpenConsole($vmId: ID!) {
    openConsole(vmId: $vmId) { url protocols expiresAt }
  }
`;

// Recommended: a mutation mints a fresh single-use ticket on every call and is never cached.
export async function openConsole(client: ApolloClient, vmId: string) {
  const { data, error } = await client.mutate<{ openConsole: { url: string; protocols: string[] } | null }>({ mutation: OPEN_CONSOLE, variables: { vmId } });
  if (!data?.openConsole) throw error ?? new Error('no console');
  return data.openConsole; // hand url and protocols to noVNC
}

const CONSOLE_URL = gql`
  query ConsoleUrl($vmId: ID!) {
    consoleUrl(vmId: $vmId)
  }
`;

// consoleUrl is a query: skip the cache, or the second call returns the first, already spent, ticket.
export async function consoleUrl(client: ApolloClient, vmId: string) {
  const { data } = await client.query<{ consoleUrl: string | null }>({ query: CONSOLE_URL, variables: { vmId }, fetchPolicy: 'no-cache' });
  return data?.consoleUrl ?? null;
}

const VMS_AND_CONSOLE = gql`
  query VmsAndConsole($vmId: ID!) {
    vms(first: 20) { nodes { id name status } }
    consoleUrl(vmId: $vmId)
  }
`;

// One failing root field does not lose the rest: errorPolicy 'all' keeps the data beside the errors.
export async function vmsAndConsole(client: ApolloClient, vmId: string) {
  const { data, error } = await client.query<{ vms: { nodes: { id: string; name: string }[] }; consoleUrl: string | null }>({
    query: VMS_AND_CONSOLE,
    variables: { vmId },
    fetchPolicy: 'no-cache',
    errorPolicy: 'all',
  });
  // error is a CombinedGraphQLErrors; branch on extensions.code (NOT_FOUND, FORBIDDEN, ...), never on the message.
  const codes = CombinedGraphQLErrors.is(error) ? error.errors.map((e) => e.extensions?.code) : [];
  return { vms: data?.vms.nodes ?? [], consoleUrl: data?.consoleUrl ?? null, codes };
}
