/**
 * Outbound API ("M" module) event bodies in the two formats the stream has carried.
 * Legacy (before 4.7): `{timestamp: "<epoch ms string>", user, enterprise, severity, source, action, type,
 * entityIdentifier, details}`, URIs relative to the API root (../../../../shared/UPSTREAMS.md).
 * Trace (4.7+): the Trace entity `{action, enterpriseName, enterpriseURI, entity, entityName, entityURI,
 * entityEnterpriseName, entityEnterpriseURI, severity, timestamp, message, tags}`; `enterpriseURI` is the
 * acting user's enterprise, `entityEnterpriseURI` the one owning the entity. Unverified details made
 * plausible here: the trace `timestamp` as epoch ms (a number), `userURI`/`username` carried beside them.
 */

export type AbiquoEventFormat = 'legacy' | 'trace';

export interface SimVmEventInput {
  action: string;
  enterpriseId: number;
  enterpriseName: string;
  vmId: number;
  vmLabel: string;
  vdcId: number;
  vappId: number;
  /** Epoch milliseconds. */
  time: number;
  severity?: 'INFO' | 'WARNING' | 'ERROR';
}

/** The admin acting in these events: user 1 of enterprise 1, as in the documented example. */
const ACTOR_USER_URI = '/admin/enterprises/1/users/1';
const ACTOR_ENTERPRISE_URI = '/admin/enterprises/1';

export function vmCloudUri(vdcId: number, vappId: number, vmId: number): string {
  return `/cloud/virtualdatacenters/${vdcId}/virtualappliances/${vappId}/virtualmachines/${vmId}`;
}

export function renderVmEvent(e: SimVmEventInput, format: AbiquoEventFormat): Record<string, unknown> {
  const entityUri = vmCloudUri(e.vdcId, e.vappId, e.vmId);
  const enterpriseUri = `/admin/enterprises/${e.enterpriseId}`;
  const severity = e.severity ?? 'INFO';
  if (format === 'legacy') {
    return {
      timestamp: String(e.time),
      user: ACTOR_USER_URI,
      enterprise: enterpriseUri,
      severity,
      source: 'ABIQUO_SERVER',
      action: e.action,
      type: 'VIRTUAL_MACHINE',
      entityIdentifier: entityUri,
      details: { VIRTUAL_MACHINE_NAME: e.vmLabel },
    };
  }
  return {
    action: e.action,
    enterpriseName: 'Abiquo',
    enterpriseURI: ACTOR_ENTERPRISE_URI,
    entity: 'VIRTUAL_MACHINE',
    entityName: e.vmLabel,
    entityURI: entityUri,
    entityEnterpriseName: e.enterpriseName,
    entityEnterpriseURI: enterpriseUri,
    severity,
    timestamp: e.time,
    message: `Virtual machine ${e.vmLabel}: ${e.action}`,
    tags: [],
    username: 'admin',
    userURI: ACTOR_USER_URI,
  };
}
