import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';

export function createClient(gatewayUrl: string, apiKey?: string) {
  const headers: Record<string, string> = apiKey ? { authorization: `ApiKey ${apiKey}` } : {};
  return new Client({
    url: `${gatewayUrl}/graphql`,
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: { headers },
    // urql sends queries as GET by default; the gateway's CSRF prevention wants JSON POSTs (or a preflight header).
    preferGetMethod: false,
  });
}

const OPEN_CONSOLE = gql`
  mutation OpenConsole($vmId: ID!) {
    openConsole(vmId: $vmId) { url protocols expiresAt }
  }
`;

// Recommended: mutations always go to the network; each call is a fresh single-use ticket.
export async function openConsole(client: Client, vmId: string) {
  const { data, error } = await client.mutation<{ openConsole: { url: string; protocols: string[] } | null }>(OPEN_CONSOLE, { vmId }).toPromise();
  if (!data?.openConsole) throw error ?? new Error('no console');
  return data.openConsole;
}

const CONSOLE_URL = gql`
  query ConsoleUrl($vmId: ID!) {
    consoleUrl(vmId: $vmId)
  }
`;

// consoleUrl is a query: 'network-only', or urql's default 'cache-first' returns the spent ticket again.
export async function consoleUrl(client: Client, vmId: string) {
  const { data } = await client.query<{ consoleUrl: string | null }>(CONSOLE_URL, { vmId }, { requestPolicy: 'network-only' }).toPromise();
  return data?.consoleUrl ?? null;
}
