/**
 * An Abiquo API server over node:http, loopback only: the two REST resources of seed 001 (enterprises,
 * an enterprise's virtual machines) with versioned media types in JSON and XML, paging, Basic/Token
 * auth, and the Outbound API's server-sent event stream at /m/stream. Control methods change the
 * data, emit events, drop streams and inject faults, so the gateway can be tested against it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultAbiquoData, simVm, vncListening, type AbiquoSimEnterprise, type AbiquoSimVm } from './data.js';
import { enterpriseEntity, pageLinks, vmEntity } from './entities.js';
import { renderVmEvent, type AbiquoEventFormat } from './events.js';
import { renderCollection, renderErrors, renderMalformed, type SimEntity } from './render.js';
import { negotiateFormat, vendorMediaType, type WireFormat } from './wire.js';
import type { AbiquoSimFault, AbiquoSimFaultTarget, AbiquoSimStats, AbiquoSimulatorOptions } from './options.js';

export type { AbiquoSimFault, AbiquoSimFaultTarget, AbiquoSimStats, AbiquoSimulatorOptions } from './options.js';

interface StreamClient {
  res: ServerResponse;
  /** null = every action. */
  actions: Set<string> | null;
}

const MEDIA_ENTITY = { enterprises: 'enterprises', vms: 'virtualmachines' } as const;

export class AbiquoSimulator {
  /** Origin, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly apiUrl: string;
  readonly streamUrl: string;
  latencyMs: number;
  eventFormat: AbiquoEventFormat;

  readonly #server: Server;
  readonly #opts: AbiquoSimulatorOptions;
  readonly #data: AbiquoSimEnterprise[];
  readonly #faults = new Map<AbiquoSimFaultTarget, AbiquoSimFault>();
  readonly #streams = new Set<StreamClient>();
  readonly #streamWaiters: Array<{ count: number; resolve: () => void }> = [];
  #streamRefusal: number | null = null;
  #inFlight = 0;
  #stats: AbiquoSimStats = AbiquoSimulator.#emptyStats();

  private constructor(server: Server, opts: AbiquoSimulatorOptions) {
    this.#server = server;
    this.#opts = opts;
    this.#data = structuredClone(opts.data ?? defaultAbiquoData());
    this.latencyMs = opts.latencyMs ?? 0;
    this.eventFormat = opts.eventFormat ?? 'legacy';
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.url}/api`;
    this.streamUrl = `${this.url}/m/stream`;
  }

  static async start(opts: AbiquoSimulatorOptions = {}): Promise<AbiquoSimulator> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const sim = new AbiquoSimulator(server, opts);
    server.on('request', (req, res) => sim.#handle(req, res));
    for (const ent of sim.#data) for (const vm of ent.vms) if (vm.vdrpIP !== null) sim.#power(ent.id, vm);
    return sim;
  }

  static #emptyStats(): AbiquoSimStats {
    return { requests: 0, enterpriseListRequests: 0, vmListRequests: 0, maxInFlight: 0, streamConnections: 0, openStreams: 0, lastAccept: null };
  }

  // ---- control -------------------------------------------------------------------------------

  stats(): AbiquoSimStats {
    return { ...this.#stats, openStreams: this.#streams.size };
  }

  resetStats(): void {
    this.#stats = AbiquoSimulator.#emptyStats();
  }

  setFault(target: AbiquoSimFaultTarget, fault: AbiquoSimFault | null): void {
    if (fault === null) this.#faults.delete(target);
    else this.#faults.set(target, fault);
  }

  /** Answer new stream requests with this HTTP status (e.g. 503) until called with null. */
  refuseStreams(status: number | null): void {
    this.#streamRefusal = status;
  }

  /** A deep copy of the data set as served now (before consoleFor). */
  snapshot(): AbiquoSimEnterprise[] {
    return structuredClone(this.#data);
  }

  addEnterprise(id: number, name: string): void {
    if (this.#data.some((e) => e.id === id)) throw new Error(`enterprise ${id} exists`);
    this.#data.push({ id, name, vms: [] });
  }

  removeEnterprise(id: number): void {
    const i = this.#data.findIndex((e) => e.id === id);
    if (i >= 0) this.#data.splice(i, 1);
  }

  /** Add or replace a VM without emitting events (changes made while a consumer is away). */
  putVm(enterpriseId: number, vm: AbiquoSimVm): void {
    const ent = this.#enterprise(enterpriseId);
    const i = ent.vms.findIndex((v) => v.id === vm.id);
    const stored = structuredClone(vm);
    if (i >= 0) ent.vms[i] = stored;
    else ent.vms.push(stored);
    this.#power(enterpriseId, stored);
  }

  /** Remove a VM without emitting events; its console stops listening. */
  removeVm(enterpriseId: number, vmId: number): void {
    const ent = this.#enterprise(enterpriseId);
    const gone = ent.vms.filter((v) => v.id === vmId);
    ent.vms = ent.vms.filter((v) => v.id !== vmId);
    for (const vm of gone) this.#opts.consolePower?.(vm, enterpriseId, false);
  }

  /**
   * Change a VM's state without emitting events (a power action seen by a consumer only on its next
   * read). Powering off (OFF) or back to an undeployed state stops the VM's VNC server: see `consolePower`.
   */
  setVmState(enterpriseId: number, vmId: number, state: AbiquoSimVm['state']): void {
    const vm = this.#enterprise(enterpriseId).vms.find((v) => v.id === vmId);
    if (!vm) throw new Error(`no VM ${vmId} in enterprise ${enterpriseId}`);
    vm.state = state;
    this.#power(enterpriseId, vm);
  }

  /**
   * Deploy a VM: it appears (or is replaced) running with a remote desktop address, then DEPLOY and
   * DEPLOY_FINISH are emitted, as the real platform emits both.
   */
  deployVm(enterpriseId: number, vm: Partial<AbiquoSimVm> & { id: number }): AbiquoSimVm {
    const deployed = simVm(vm.id, { ...vm, state: 'ON' });
    this.putVm(enterpriseId, deployed);
    this.emitVmEvent(enterpriseId, deployed.id, 'DEPLOY');
    this.emitVmEvent(enterpriseId, deployed.id, 'DEPLOY_FINISH');
    return deployed;
  }

  /** Undeploy: the VM stays, NOT_ALLOCATED and without a remote desktop address; UNDEPLOY + UNDEPLOY_FINISH. */
  undeployVm(enterpriseId: number, vmId: number): void {
    const vm = this.#enterprise(enterpriseId).vms.find((v) => v.id === vmId);
    if (!vm) throw new Error(`no VM ${vmId} in enterprise ${enterpriseId}`);
    this.emitVmEvent(enterpriseId, vmId, 'UNDEPLOY');
    Object.assign(vm, { state: 'NOT_ALLOCATED', vdrpIP: null, vdrpPort: null });
    this.#opts.consolePower?.(vm, enterpriseId, false);
    this.emitVmEvent(enterpriseId, vmId, 'UNDEPLOY_FINISH');
  }

  /** Emit a VM event; the enterprise and VM need not exist (tests of events for unknown entities). */
  emitVmEvent(enterpriseId: number, vmId: number, action: string): void {
    const ent = this.#data.find((e) => e.id === enterpriseId);
    const vm = ent?.vms.find((v) => v.id === vmId);
    const body = renderVmEvent(
      {
        action,
        enterpriseId,
        enterpriseName: ent?.name ?? `enterprise-${enterpriseId}`,
        vmId,
        vmLabel: vm?.label ?? vm?.name ?? `vm-${vmId}`,
        vdcId: vm?.vdcId ?? 1,
        vappId: vm?.vappId ?? 1,
        time: Date.now(),
      },
      this.eventFormat,
    );
    this.emitRaw(body);
  }

  /** Send any JSON object to the streams whose action filter admits its `action`. */
  emitRaw(event: Record<string, unknown>): void {
    const line = `data: ${JSON.stringify(event)}\n\n`;
    for (const s of this.#streams) {
      if (s.actions === null || s.actions.has(String(event.action))) s.res.write(line);
    }
  }

  /** End every open event stream (the server side of a network drop). */
  dropStreams(): void {
    for (const s of this.#streams) s.res.end();
    this.#streams.clear();
  }

  /** Resolves once at least `count` streams are connected. */
  waitForStreams(count = 1): Promise<void> {
    if (this.#streams.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.#streamWaiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    this.dropStreams();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  #enterprise(id: number): AbiquoSimEnterprise {
    const ent = this.#data.find((e) => e.id === id);
    if (!ent) throw new Error(`no enterprise ${id}`);
    return ent;
  }

  #base(): string {
    return (this.#opts.publicBaseUrl ?? this.url).replace(/\/+$/, '') + '/api';
  }

  /** Tell the VM's console whether its VNC server listens now. */
  #power(enterpriseId: number, vm: AbiquoSimVm): void {
    this.#opts.consolePower?.(vm, enterpriseId, vncListening(vm));
  }

  /** Where the VM's console really listens, when a console farm serves it; null to advertise its own vdrpIP/vdrpPort. */
  #liveConsole(vm: AbiquoSimVm, enterpriseId: number): { host: string; port: number } | null {
    return vm.vdrpIP !== null && this.#opts.consoleFor ? this.#opts.consoleFor(vm, enterpriseId) : null;
  }

  #authorised(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const [scheme, value = ''] = header.split(' ', 2);
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return (
        colon > 0 &&
        decoded.slice(0, colon) === (this.#opts.username ?? 'admin') &&
        decoded.slice(colon + 1) === (this.#opts.password ?? 'xabiquo')
      );
    }
    if (scheme === 'Token' || scheme === 'Bearer') return (this.#opts.tokens ?? []).includes(value);
    return false;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    if (url.pathname === '/m/stream') {
      this.#handleStream(req, res, url);
      return;
    }
    this.#stats.requests++;
    this.#stats.lastAccept = req.headers.accept ?? null;
    this.#inFlight++;
    this.#stats.maxInFlight = Math.max(this.#stats.maxInFlight, this.#inFlight);
    res.once('close', () => this.#inFlight--);
    const answer = (): void => this.#handleRest(req, res, url);
    if (this.latencyMs > 0) setTimeout(answer, this.latencyMs);
    else answer();
  }

  #handleRest(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const entMatch = /^\/api\/admin\/enterprises\/(\d+)\/action\/virtualmachines\/?$/.exec(url.pathname);
    const isList = /^\/api\/admin\/enterprises\/?$/.test(url.pathname);
    const mediaEntity = isList ? MEDIA_ENTITY.enterprises : entMatch ? MEDIA_ENTITY.vms : null;
    const refuseWith = this.#opts.wrongMediaTypeStatus === undefined ? 406 : this.#opts.wrongMediaTypeStatus;
    const negotiated = negotiateFormat(req.headers.accept, mediaEntity, refuseWith);
    const entityContext = { base: this.#base(), format: negotiated.format, version: negotiated.version };
    const format: WireFormat = negotiated.format;
    const fail = (status: number, code: string, message: string): void => {
      res.writeHead(status, {
        'content-type': vendorMediaType('errors', format, negotiated.version),
        ...(status === 401 ? { 'www-authenticate': 'Basic realm="Abiquo Api"' } : {}),
      });
      res.end(renderErrors([{ code, message }], format));
    };

    // Unverified codes: Abiquo's own for these cases were not found in public docs.
    if (!this.#authorised(req)) return fail(401, 'AUTH-1', 'Authentication is required or the credentials are wrong');
    if (req.method !== 'GET') return fail(405, 'GEN-1', 'Method not allowed');
    if (mediaEntity === null) return fail(404, 'GEN-0', 'No resource at this URI');
    if (negotiated.refused !== null) return fail(negotiated.refused, 'GEN-2', 'The requested media type is not supported here');

    let page: { startwith: number; limit: number };
    try {
      page = this.#paging(url);
    } catch {
      return fail(400, 'QUERY-1', 'startwith and limit must be non-negative integers');
    }

    let target: AbiquoSimFaultTarget = 'enterprises';
    let entities: SimEntity[];
    let path: string;
    if (isList) {
      this.#stats.enterpriseListRequests++;
      entities = this.#data.map((e) => enterpriseEntity(entityContext, e));
      path = '/admin/enterprises';
    } else {
      this.#stats.vmListRequests++;
      const id = Number(entMatch![1]);
      target = id;
      const ent = this.#data.find((e) => e.id === id);
      if (!ent && !this.#faults.has(id)) return fail(404, 'EN-0', 'The requested enterprise does not exist');
      entities = (ent?.vms ?? []).map((vm) => vmEntity(entityContext, id, vm, this.#liveConsole(vm, id)));
      path = `/admin/enterprises/${id}/action/virtualmachines`;
    }

    const fault = this.#faults.get(target);
    if (fault === 'hang') return;
    if (fault === 'error') return fail(500, 'GEN-500', 'Unexpected error in the simulated API');
    res.writeHead(200, { 'content-type': vendorMediaType(mediaEntity, format, negotiated.version) });
    if (fault === 'malformed') return void res.end(renderMalformed(format));

    const { startwith, limit } = page;
    const items = limit === 0 ? entities.slice(startwith) : entities.slice(startwith, startwith + limit);
    const rootTag = isList ? 'enterprises' : 'virtualMachines';
    const itemTag = isList ? 'enterprise' : 'virtualMachine';
    res.end(
      renderCollection(
        { rootTag, itemTag, items, totalSize: entities.length, links: pageLinks(entityContext.base, path, startwith, limit, entities.length) },
        format,
      ),
    );
  }

  #paging(url: URL): { startwith: number; limit: number } {
    const num = (name: string, dflt: number): number => {
      const raw = url.searchParams.get(name);
      if (raw === null) return dflt;
      if (!/^\d{1,9}$/.test(raw)) throw new Error('bad paging');
      return Number(raw);
    };
    return { startwith: num('startwith', 0), limit: num('limit', this.#opts.defaultLimit ?? 25) };
  }

  // ---- Outbound API stream --------------------------------------------------------------------

  #handleStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const fail = (status: number, code: string, message: string): void => {
      res.writeHead(status, { 'content-type': vendorMediaType('errors', 'json') });
      res.end(renderErrors([{ code, message }], 'json'));
    };
    if (!this.#authorised(req)) return fail(401, 'AUTH-1', 'Authentication is required or the credentials are wrong');
    if (this.#streamRefusal !== null) return fail(this.#streamRefusal, 'M-1', 'The event stream is not available');
    if (this.#faults.get('stream') === 'error') return fail(500, 'M-500', 'Unexpected error in the simulated stream');
    if (this.#faults.get('stream') === 'hang') return;
    if (url.searchParams.get('X-Atmosphere-Transport') !== 'sse') return fail(400, 'M-2', 'Only the sse transport is simulated');

    const actions = url.searchParams.get('action');
    const client: StreamClient = {
      res,
      actions: actions ? new Set(actions.split(',').map((a) => a.trim()).filter((a) => a !== '')) : null,
    };
    const tracking = url.searchParams.get('X-Atmosphere-tracking-id') ?? req.headers['x-atmosphere-tracking-id'];
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...(typeof tracking === 'string' ? { 'x-atmosphere-tracking-id': tracking } : {}),
    });
    // The documented first message after connecting is blank.
    res.write('data: \n\n');
    this.#streams.add(client);
    this.#stats.streamConnections++;
    res.once('close', () => this.#streams.delete(client));
    for (let i = this.#streamWaiters.length - 1; i >= 0; i--) {
      const w = this.#streamWaiters[i]!;
      if (this.#streams.size >= w.count) {
        this.#streamWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

/** Start a simulator on an ephemeral loopback port. */
export function startAbiquoSimulator(opts: AbiquoSimulatorOptions = {}): Promise<AbiquoSimulator> {
  return AbiquoSimulator.start(opts);
}
