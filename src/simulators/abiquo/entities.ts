/** The entities of the REST walk (enterprises, their VMs) with the links a client follows, and page links. */
import type { AbiquoSimEnterprise, AbiquoSimVm } from './data.js';
import { vmCloudUri } from './events.js';
import type { SimEntity } from './render.js';
import { vendorMediaType, type WireFormat, type WireLink } from './wire.js';

export interface EntityContext {
  /** The API root as clients should see it, e.g. `http://127.0.0.1:PORT/api`. */
  base: string;
  format: WireFormat;
  version: string | null;
}

/** `first`/`prev`/`next`/`last` for one page of a collection; `limit` 0 means everything on one page. */
export function pageLinks(base: string, path: string, startwith: number, limit: number, total: number): WireLink[] {
  const href = (s: number): string => `${base}${path}?startwith=${s}&limit=${limit}`;
  if (limit === 0) return [{ rel: 'first', href: href(0) }, { rel: 'last', href: href(0) }];
  const last = total === 0 ? 0 : Math.floor((total - 1) / limit) * limit;
  const links: WireLink[] = [{ rel: 'first', href: href(0) }];
  if (startwith > 0) links.push({ rel: 'prev', href: href(Math.max(0, startwith - limit)) });
  if (startwith + limit < total) links.push({ rel: 'next', href: href(startwith + limit) });
  links.push({ rel: 'last', href: href(last) });
  return links;
}

export function enterpriseEntity({ base, format, version }: EntityContext, e: AbiquoSimEnterprise): SimEntity {
  const self = `${base}/admin/enterprises/${e.id}`;
  return {
    links: [
      { rel: 'edit', href: self, type: vendorMediaType('enterprise', format, version), title: e.name },
      {
        rel: 'virtualmachines',
        href: `${self}/action/virtualmachines`,
        type: vendorMediaType('virtualmachines', format, version),
        title: 'virtual machines',
      },
    ],
    fields: [
      ['id', e.id],
      ['name', e.name],
    ],
  };
}

/** `live` is where the VM's console really listens (a console farm), advertised instead of its own vdrpIP/vdrpPort. */
export function vmEntity(
  { base, format, version }: EntityContext,
  enterpriseId: number,
  vm: AbiquoSimVm,
  live: { host: string; port: number } | null,
): SimEntity {
  const cloudUri = vmCloudUri(vm.vdcId, vm.vappId, vm.id);
  return {
    links: [
      { rel: 'edit', href: base + cloudUri, type: vendorMediaType('virtualmachine', format, version), title: vm.label ?? vm.name },
      {
        rel: 'enterprise',
        href: `${base}/admin/enterprises/${enterpriseId}`,
        type: vendorMediaType('enterprise', format, version),
      },
      {
        rel: 'virtualappliance',
        href: `${base}/cloud/virtualdatacenters/${vm.vdcId}/virtualappliances/${vm.vappId}`,
        type: vendorMediaType('virtualappliance', format, version),
      },
    ],
    fields: [
      ['id', vm.id],
      ['name', vm.name],
      ['label', vm.label],
      ['uuid', vm.uuid],
      ['state', vm.state],
      ['cpu', vm.cpu],
      ['ram', vm.ram],
      ['vdrpIP', live?.host ?? vm.vdrpIP],
      ['vdrpPort', live?.port ?? vm.vdrpPort],
      ['vdrpEnabled', vm.vdrpEnabled],
      ['password', vm.password],
    ],
  };
}
