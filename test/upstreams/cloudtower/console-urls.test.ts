import { describe, expect, it } from 'vitest';
import { describeEndpoint, directConsoleUrl, towerConsoleUrl } from '../../../src/upstreams/cloudtower/console-urls.js';

// The worked example of seed 000 (SmartX "Get VNC Information").
const seedVnc = {
  raw_token: '1a2bc3d4567e89f0a1b2c3d4e5f6a7b8',
  token: 'MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=',
  vm_uuid: '00000000-0000-0000-0000-000000000000',
  cluster_ip: '192.168.5.2',
  host_ip: '192.168.5.4',
};

describe('CloudTower console URLs', () => {
  it('reproduces the seed direct URL byte for byte', () => {
    expect(directConsoleUrl(seedVnc, { scheme: 'wss', port: 443 })).toBe(
      'wss://192.168.5.2/websockify/?uuid=00000000-0000-0000-0000-000000000000&token=1a2bc3d4567e89f0a1b2c3d4e5f6a7b8&host=192.168.5.4',
    );
  });

  it('reproduces the seed through-CloudTower URL byte for byte', () => {
    expect(towerConsoleUrl(seedVnc, '192.168.5.1', { scheme: 'wss', port: 443 })).toBe(
      'wss://192.168.5.1/websockify/?token=MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo%3D&uuid=00000000-0000-0000-0000-000000000000&host=192.168.5.4',
    );
  });

  it('encodes + / = in the tower token and honours scheme, port and host overrides', () => {
    const url = towerConsoleUrl({ ...seedVnc, token: 'U2FsdGVkX1+ab/cd==' }, 'tower.local', { scheme: 'ws', port: 8080 });
    expect(url).toBe('ws://tower.local:8080/websockify/?token=U2FsdGVkX1%2Bab%2Fcd%3D%3D&uuid=00000000-0000-0000-0000-000000000000&host=192.168.5.4');
    expect(directConsoleUrl(seedVnc, { scheme: 'ws', port: 80, host: 'fd00::2' })).toMatch(/^ws:\/\/\[fd00::2\]\/websockify\//);
  });

  it('describes an endpoint without its secret query', () => {
    expect(describeEndpoint(directConsoleUrl(seedVnc, { scheme: 'wss', port: 8443 }))).toBe('wss://192.168.5.2:8443/websockify/');
  });
});

describe('CloudTower cluster_ip with a port', () => {
  it('builds host:port from a cluster_ip that carries its own port, instead of bracketing it as IPv6', () => {
    const url = directConsoleUrl({ ...seedVnc, cluster_ip: '127.0.0.1:6080' }, { scheme: 'ws', port: 443 });
    expect(url.startsWith('ws://127.0.0.1:6080/websockify/?uuid=')).toBe(true);
    expect(new URL(url).host).toBe('127.0.0.1:6080');
  });

  it('keeps IPv6 literals bracketed, with or without a port', () => {
    expect(directConsoleUrl({ ...seedVnc, cluster_ip: 'fd00::2' }, { scheme: 'wss', port: 443 })).toMatch(/^wss:\/\/\[fd00::2\]\/websockify\//);
    expect(directConsoleUrl({ ...seedVnc, cluster_ip: '[fd00::2]:8443' }, { scheme: 'wss', port: 443 })).toMatch(/^wss:\/\/\[fd00::2\]:8443\/websockify\//);
    expect(directConsoleUrl({ ...seedVnc, cluster_ip: 'fd00::2' }, { scheme: 'wss', port: 8443 })).toMatch(/^wss:\/\/\[fd00::2\]:8443\/websockify\//);
  });
});
