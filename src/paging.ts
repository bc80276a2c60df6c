/**
 * Cursors for `vms`: each edge's cursor names its provider and its offset there, so the next page
 * resumes with `skip` pushed down to that provider. Opaque to clients (base64url JSON).
 */
import { BadUserInputError } from './errors.js';

export interface VmCursor {
  /** Provider name. */
  p: string;
  /** Offset of this record within that provider's (filtered, ordered) listing. */
  o: number;
}

export function encodeCursor(c: VmCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(cursor: string): VmCursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof c === 'object' && c !== null) {
      const { p, o } = c as Record<string, unknown>;
      if (typeof p === 'string' && typeof o === 'number' && Number.isInteger(o) && o >= 0) return { p, o };
    }
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('`after` is not a cursor this gateway issued', { field: 'after' });
}
