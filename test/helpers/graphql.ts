/** The one GraphQL-over-HTTP helper: POST /graphql, the status, headers and parsed body. */

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> & { code?: string } }[];
}

export interface GraphQLPost {
  variables?: Record<string, unknown>;
  /** Added to the request (e.g. `authorization`, `x-api-key`). */
  headers?: Record<string, string>;
}

export async function graphqlPost<T = Record<string, any>>(baseUrl: string, query: string, options: GraphQLPost = {}): Promise<{ status: number; headers: Headers; body: GraphQLResponse<T> }> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResponse<T> };
}

/** The body alone, for tests that do not look at the status. */
export async function postGraphQL<T>(baseUrl: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GraphQLResponse<T>> {
  return (await graphqlPost<T>(baseUrl, query, { variables, headers })).body;
}
