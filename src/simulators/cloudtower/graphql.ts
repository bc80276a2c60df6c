/**
 * The slice of CloudTower's GraphQL endpoint (`POST /api`) the gateway uses: the `vnc` query of
 * seed 000. Requests are parsed, validated and executed by graphql-js against a small SDL, so a
 * malformed query fails the way a real GraphQL server fails.
 */
import { buildSchema, execute, parse, validate, GraphQLError } from 'graphql';
import type { DocumentNode } from 'graphql';
import type { VncAnswer } from './vnc-credentials.js';
import type { SimulatedVm } from './vms.js';

export const CLOUDTOWER_GRAPHQL_SDL = /* GraphQL */ `
  type Query {
    vnc(input: VncInput!): Vnc
  }
  input VncInput {
    vm: VmWhereUniqueInput!
  }
  input VmWhereUniqueInput {
    id: ID
    local_id: String
  }
  type Vnc {
    vm_uuid: String!
    host_ip: String!
    cluster_ip: String!
    raw_token: String!
    token: String!
  }
`;

const schema = buildSchema(CLOUDTOWER_GRAPHQL_SDL);

/** `{ id }` or `{ local_id }`; both may be given but must then name the same VM. */
export interface VmWhereUnique {
  id?: string | null;
  local_id?: string | null;
}

export interface VncResolver {
  findVm(where: VmWhereUnique): SimulatedVm | null;
  issueVnc(vm: SimulatedVm): VncAnswer;
}

export interface GraphqlHttpResult {
  status: number;
  body: unknown;
}

/** Thrown by resolvers with a message meant for the client. */
class VmNotFoundError extends Error {}

/** Resolve `{vm: {id|local_id}}` to a VNC answer; shared by GraphQL and the REST twin. */
export function resolveVnc(input: { vm?: unknown }, resolver: VncResolver): VncAnswer {
  const where = (input.vm ?? {}) as VmWhereUnique;
  if (!where.id && !where.local_id) throw new VmNotFoundError('vm: give id or local_id');
  const vm = resolver.findVm(where);
  if (!vm) throw new VmNotFoundError(`Vm not found: ${JSON.stringify({ id: where.id, local_id: where.local_id })}`);
  // Answered whatever the VM's status: seed 000 and UPSTREAMS.md describe no refusal, and the answer
  // is only credentials. A stopped VM's console is refused where it would live, at websockify.
  return resolver.issueVnc(vm);
}

export function isVmNotFoundError(err: unknown): err is Error {
  return err instanceof VmNotFoundError;
}

function errorsBody(errors: readonly GraphQLError[]): { errors: { message: string }[] } {
  return { errors: errors.map((e) => ({ message: e.message })) };
}

/**
 * Execute one GraphQL-over-HTTP request body. Syntax and validation errors are HTTP 400 with
 * `{errors}`; resolver errors are HTTP 200 with `{errors:[{message}], data:null}` — the shape
 * UPSTREAMS.md gives for CloudTower is *unverified*, this is the standard graphql-js one, with
 * `data` nulled as the whole answer is unusable when `vnc` failed.
 */
export async function executeCloudTowerGraphql(body: unknown, resolver: VncResolver): Promise<GraphqlHttpResult> {
  const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { query, variables, operationName } = request;
  if (typeof query !== 'string') {
    return { status: 400, body: { errors: [{ message: 'Must provide query string.' }] } };
  }
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
    return { status: 400, body: { errors: [{ message: 'Variables must be an object.' }] } };
  }
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (err) {
    return { status: 400, body: errorsBody([err as GraphQLError]) };
  }
  const validationErrors = validate(schema, document);
  if (validationErrors.length > 0) return { status: 400, body: errorsBody(validationErrors) };

  const rootValue = {
    vnc: (args: { input: { vm?: unknown } }) => resolveVnc(args.input, resolver),
  };
  const result = await execute({
    schema,
    document,
    rootValue,
    variableValues: (variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: typeof operationName === 'string' ? operationName : undefined,
  });
  if (result.errors && result.errors.length > 0) {
    // A request error (bad variables, unknown operation) has no data at all: HTTP 400 like a parse error.
    if (!('data' in result) || result.data === undefined) return { status: 400, body: errorsBody(result.errors) };
    return { status: 200, body: { ...errorsBody(result.errors), data: null } };
  }
  return { status: 200, body: { data: result.data } };
}
