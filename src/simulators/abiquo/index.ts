/** The Abiquo simulator: REST (enterprises, VMs) and the Outbound API event stream. */
export { AbiquoSimulator, startAbiquoSimulator } from './server.js';
export type { AbiquoSimFault, AbiquoSimFaultTarget, AbiquoSimStats, AbiquoSimulatorOptions } from './server.js';
export { defaultAbiquoData, generateAbiquoData, simVm, vncListening } from './data.js';
export { farmConsoles } from './farm-consoles.js';
export type { AbiquoSimEnterprise, AbiquoSimVm } from './data.js';
export { renderVmEvent, vmCloudUri } from './events.js';
export type { AbiquoEventFormat, SimVmEventInput } from './events.js';
