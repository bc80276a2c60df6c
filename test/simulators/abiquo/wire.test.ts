import { describe, expect, it } from 'vitest';
import { readVendorMediaType, vendorMediaType } from '../../../src/simulators/abiquo/wire.js';

describe('Abiquo simulator: vendor media types', () => {
  it('writes `application/vnd.abiquo.<entity>+<format>; version=<v>`', () => {
    expect(vendorMediaType('virtualmachines', 'json', '4.7')).toBe('application/vnd.abiquo.virtualmachines+json; version=4.7');
    expect(vendorMediaType('errors', 'xml')).toBe('application/vnd.abiquo.errors+xml');
  });

  it('reads the entity, format and version of an Accept value', () => {
    expect(readVendorMediaType('application/vnd.abiquo.Enterprises+JSON; version="4.7"')).toEqual({ entity: 'enterprises', format: 'json', version: '4.7' });
    expect(readVendorMediaType('application/vnd.abiquo.virtualmachines+xml')).toEqual({ entity: 'virtualmachines', format: 'xml', version: null });
    for (const accept of ['application/json', 'text/html', 'application/vnd.abiquo.enterprises+yaml', '']) expect(readVendorMediaType(accept)).toBeNull();
  });
});
