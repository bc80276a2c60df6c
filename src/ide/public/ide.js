// GraphiQL against this gateway's /graphql (same origin). Credentials go in the Headers tab:
// {"authorization": "ApiKey <key>"} or {"authorization": "Bearer <jwt>"}.
const fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', location.href).href });
const defaultQuery = `# console-gateway: list VMs, then open a console with
#   mutation { openConsole(vmId: "<id>") { url protocols expiresAt } }
# or query { consoleUrl(vmId: "<id>") }
query {
  vms(first: 10) {
    nodes { id name status provider { name kind } }
    pageInfo { hasNextPage endCursor }
  }
}
`;
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true }),
);
