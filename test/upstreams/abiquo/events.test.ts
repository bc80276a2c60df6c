import { describe, expect, it } from 'vitest';
import { parseAbiquoEvent } from '../../../src/upstreams/abiquo/events.js';
import { renderVmEvent } from '../../../src/simulators/abiquo/events.js';

describe('parseAbiquoEvent', () => {
  it('reads the documented legacy event', () => {
    const ev = parseAbiquoEvent(
      '{"timestamp":"1370903626167","user":"/admin/enterprises/1/users/1","enterprise":"/admin/enterprises/1","severity":"INFO","source":"ABIQUO_SERVER","action":"DEPLOY_FINISH","type":"VIRTUAL_MACHINE","entityIdentifier":"/cloud/virtualdatacenters/1/virtualappliances/1/virtualmachines/7","details":{}}',
    );
    expect(ev).toMatchObject({
      format: 'legacy',
      action: 'DEPLOY_FINISH',
      severity: 'INFO',
      timestamp: 1370903626167,
      userUri: '/admin/enterprises/1/users/1',
      enterpriseId: 1,
      entityType: 'VIRTUAL_MACHINE',
      vmId: 7,
    });
  });

  it('reads a trace event, taking the entity owner over the acting user enterprise', () => {
    const raw = renderVmEvent(
      { action: 'UNDEPLOY', enterpriseId: 4, enterpriseName: 'Acme', vmId: 42, vmLabel: 'x', vdcId: 2, vappId: 3, time: 1_700_000_000_000 },
      'trace',
    );
    const ev = parseAbiquoEvent(JSON.stringify(raw));
    expect(ev).toMatchObject({ format: 'trace', action: 'UNDEPLOY', enterpriseId: 4, vmId: 42, timestamp: 1_700_000_000_000 });
    expect(ev?.entityUri).toBe('/cloud/virtualdatacenters/2/virtualappliances/3/virtualmachines/42');
  });

  it('accepts absolute URIs and ISO timestamps', () => {
    const ev = parseAbiquoEvent(
      JSON.stringify({
        action: 'DEPLOY',
        entityURI: 'https://a.example/api/cloud/virtualdatacenters/1/virtualappliances/1/virtualmachines/9',
        enterpriseURI: 'https://a.example/api/admin/enterprises/3',
        timestamp: '2024-05-01T10:00:00Z',
      }),
    );
    expect(ev).toMatchObject({ enterpriseId: 3, vmId: 9, timestamp: Date.parse('2024-05-01T10:00:00Z') });
  });

  it('returns null for blank messages, non-JSON and objects without an action', () => {
    expect(parseAbiquoEvent('')).toBeNull();
    expect(parseAbiquoEvent('   ')).toBeNull();
    expect(parseAbiquoEvent('not json')).toBeNull();
    expect(parseAbiquoEvent('[1,2]')).toBeNull();
    expect(parseAbiquoEvent('{"severity":"INFO"}')).toBeNull();
  });
});
