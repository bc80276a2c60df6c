/**
 * Live consoles for simulated VMs: one RFB server per VM on a loopback port. The upstream simulators
 * bridge to them (CloudTower's websockify) or advertise them (Abiquo's vdrpIP/vdrpPort).
 */
import { startRfbServer, type RfbServer } from './server.js';

export interface FarmConsoleOptions {
  /** Desktop name, drawn on the screen. */
  name: string;
  /** VNC password; without it the console offers security type None. */
  password?: string;
  /** Whether the VM runs at the start (a powered-off VM's console closes every connection). @default true */
  powered?: boolean;
}

export class ConsoleFarm {
  readonly #servers = new Map<string, RfbServer>();

  /** Start (or return) the console for `key`. */
  async add(key: string, opts: FarmConsoleOptions): Promise<{ host: string; port: number }> {
    let server = this.#servers.get(key);
    if (!server) {
      server = await startRfbServer({ name: opts.name, powered: opts.powered ?? true, ...(opts.password ? { password: opts.password } : {}) });
      this.#servers.set(key, server);
    }
    return { host: server.host, port: server.port };
  }

  locate(key: string): { host: string; port: number } | null {
    const server = this.#servers.get(key);
    return server ? { host: server.host, port: server.port } : null;
  }

  /** Power `key`'s VM on or off (RfbServer.setPowered); a key with no console is ignored. */
  setPowered(key: string, on: boolean): void {
    this.#servers.get(key)?.setPowered(on);
  }

  server(key: string): RfbServer | undefined {
    return this.#servers.get(key);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#servers.values()].map((s) => s.close()));
    this.#servers.clear();
  }
}
