/**
 * The simulated VNC server (RFB 3.8, answering 3.3 and 3.7 clients too) that stands in for each
 * simulated VM's console, and the farm that runs one per VM.
 */
export { ConsoleFarm } from './console-farm.js';
export type { FarmConsoleOptions } from './console-farm.js';
export { VncSessionError, VncSessionFailure } from './errors.js';
export type { Rect } from './draw.js';
export { DEFAULT_PIXEL_FORMAT, decodePixelFormat, encodePixelFormat } from './pixel-format.js';
export type { PixelFormat } from './pixel-format.js';
export { ScreenColour } from './screen.js';
export type { ScreenLayout } from './screen.js';
export { RfbServer, startRfbServer } from './server.js';
export type { RfbServerEvents, RfbServerOptions } from './server.js';
export type { RfbInputEvent } from './session.js';
