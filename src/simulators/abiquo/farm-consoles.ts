/**
 * Consoles for the Abiquo simulator's VMs from a VNC ConsoleFarm: one farm console per VM that has a
 * console address (its name and VNC password from the data set), located and powered as the simulator
 * asks, so a powered-off VM has no VNC server, as on a real host.
 */
import type { ConsoleFarm } from '../vnc/console-farm.js';
import type { AbiquoSimEnterprise } from './data.js';
import type { AbiquoSimulatorOptions } from './options.js';

/** Adds the farm consoles of `data` (keyed `${keyPrefix}${enterprise}/${vm}`) and returns the simulator options that use them. */
export async function farmConsoles(
  data: AbiquoSimEnterprise[],
  farm: ConsoleFarm,
  keyPrefix = '',
): Promise<Required<Pick<AbiquoSimulatorOptions, 'consoleFor' | 'consolePower'>>> {
  const key = (enterpriseId: number, vmId: number): string => `${keyPrefix}${enterpriseId}/${vmId}`;
  for (const ent of data) {
    for (const vm of ent.vms) {
      if (vm.vdrpIP !== null) await farm.add(key(ent.id, vm.id), { name: vm.label ?? vm.name, ...(vm.password ? { password: vm.password } : {}) });
    }
  }
  return {
    consoleFor: (vm, enterpriseId) => farm.locate(key(enterpriseId, vm.id)),
    consolePower: (vm, enterpriseId, on) => farm.setPowered(key(enterpriseId, vm.id), on),
  };
}
