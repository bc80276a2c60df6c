/**
 * What CloudTower answers look like, as zod schemas: the client parses every answer through one of
 * these instead of casting, so a changed or broken upstream is an UpstreamResponseError that names
 * the field, never a TypeError deep in a resolver. Only the fields the gateway reads are declared;
 * others are ignored. Field names and shapes: ../../../shared/UPSTREAMS.md and cloudtower-node-sdk.
 */
import { z } from 'zod';
import { UpstreamResponseError } from '../../errors.js';

const nonEmpty = z.string().min(1);

/** `POST /v2/api/login`: `{ data: { token } }`. */
export const loginAnswer = z.object({ data: z.object({ token: nonEmpty }) });

/** One VM of `POST /v2/api/get-vms` (only the fields we read). */
export const vmAnswer = z.object({
  id: z.string(),
  local_id: z.string().optional(),
  name: z.string(),
  status: z.string().optional(),
  cluster: z.object({ id: z.string(), name: z.string() }).nullish(),
  host: z.object({ id: z.string(), name: z.string(), management_ip: z.string().nullish() }).nullish(),
  vcpu: z.number().nullish(),
  /** Bytes. */
  memory: z.number().nullish(),
});
export type CloudTowerVm = z.infer<typeof vmAnswer>;

export const getVmsAnswer = z.array(vmAnswer);

/** `POST /v2/api/get-vms-connection`: `{ aggregate: { count } }`. */
export const vmCountAnswer = z.object({ aggregate: z.object({ count: z.number().int().nonnegative() }) });

/** The `vnc` object of the GraphQL `vnc` query: every field is needed to build a console URL. */
export const vncFields = z.object({
  vm_uuid: nonEmpty,
  host_ip: nonEmpty,
  cluster_ip: nonEmpty,
  raw_token: nonEmpty,
  token: nonEmpty,
});
export type CloudTowerVnc = z.infer<typeof vncFields>;

/**
 * The GraphQL envelope of the `vnc` query. `data.vnc` is null (or `data` is) when CloudTower reports
 * an error, which is how it answers for an unknown VM.
 */
export const vncAnswer = z.object({
  data: z.object({ vnc: vncFields.nullish() }).nullish(),
  errors: z.array(z.unknown()).optional(),
});

/** CloudTower's REST error body: `{path, status, message, code, props}`. Only `code` is read: messages can echo input. */
export const errorAnswer = z.object({ code: z.string().optional() });

/**
 * Parse an answer or throw UpstreamResponseError naming where it went wrong. The reason holds the
 * field path and what was expected, never a value: an answer can carry tokens.
 */
export function parseAnswer<S extends z.ZodType>(provider: string, what: string, schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.map(String).join('.') : 'its top level';
  const expected = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.code === 'too_small' ? 'empty' : issue.code;
  throw new UpstreamResponseError(provider, `${what} answer is malformed at ${at} (${expected})`);
}
