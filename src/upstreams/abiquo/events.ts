/**
 * Outbound API event bodies (both formats; src/simulators/abiquo/events.ts writes them) turned into one
 * typed event. In the 4.7+ trace format `enterpriseURI` is the acting user's enterprise and
 * `entityEnterpriseURI` the one that owns the entity, so the latter wins when present.
 */

export interface AbiquoEvent {
  format: 'legacy' | 'trace';
  action: string;
  severity: string | null;
  /** Epoch milliseconds, or null when the event carried no readable time. */
  timestamp: number | null;
  /** URI of the acting user, when given. */
  userUri: string | null;
  /** URI of the enterprise that owns the entity (relative to the API root, as sent). */
  enterpriseUri: string | null;
  enterpriseId: number | null;
  /** Entity type, e.g. `VIRTUAL_MACHINE`. */
  entityType: string | null;
  entityUri: string | null;
  /** Set when the entity URI names a virtual machine. */
  vmId: number | null;
  raw: Record<string, unknown>;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function epochMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    if (/^\d{1,16}$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  return null;
}

/** Id of `/admin/enterprises/{id}` (relative or absolute URI), or null. */
export function enterpriseIdOf(uri: string | null): number | null {
  const m = uri ? /\/admin\/enterprises\/(\d+)(?:\/|$)/.exec(uri) : null;
  return m ? Number(m[1]) : null;
}

/** VM id of `.../virtualmachines/{id}` (relative or absolute URI), or null. */
export function vmIdOf(uri: string | null): number | null {
  const m = uri ? /\/virtualmachines\/(\d+)\/?$/.exec(uri) : null;
  return m ? Number(m[1]) : null;
}

/** Parse one SSE `data` payload; null for blank messages and anything that is not an event object. */
export function parseAbiquoEvent(data: string): AbiquoEvent | null {
  if (data.trim() === '') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const action = str(r.action);
  if (action === null) return null;
  const trace = 'entityURI' in r || 'enterpriseURI' in r || 'entity' in r;
  const enterpriseUri = trace ? (str(r.entityEnterpriseURI) ?? str(r.enterpriseURI)) : str(r.enterprise);
  const entityUri = trace ? str(r.entityURI) : str(r.entityIdentifier);
  return {
    format: trace ? 'trace' : 'legacy',
    action,
    severity: str(r.severity),
    timestamp: epochMs(r.timestamp),
    userUri: trace ? (str(r.userURI) ?? str(r.user)) : str(r.user),
    enterpriseUri,
    enterpriseId: enterpriseIdOf(enterpriseUri),
    entityType: trace ? str(r.entity) : str(r.type),
    entityUri,
    vmId: vmIdOf(entityUri),
    raw: r,
  };
}
