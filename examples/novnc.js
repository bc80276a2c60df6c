import RFB from '@novnc/novnc';

// Opens the VM's console in `element`: a fresh ticket from openConsole, then noVNC on the gateway's URL.
export async function showConsole(element, gatewayUrl, vmId, headers = {}) {
  const res = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      query: 'mutation ($vmId: ID!) { openConsole(vmId: $vmId) { url protocols } }',
      variables: { vmId },
    }),
  });
  const { data, errors } = await res.json();
  if (!data?.openConsole) throw new Error(errors?.[0]?.extensions?.code ?? `HTTP ${res.status}`);
  const { url, protocols } = data.openConsole;
  // Ask again for every reconnect: a ticket opens one console, once.
  return new RFB(element, url, { wsProtocols: protocols });
}
