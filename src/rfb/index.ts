/**
 * RFB (VNC) building blocks: DES for VNC Authentication, the gateway's sans-IO security handshakes,
 * and the simulated VNC server the upstream simulators use as VM consoles.
 */
export { DesCipher, desEncryptBlock, vncAuthResponse, vncPasswordKey } from './des.js';
export { RfbError, RfbErrorCode, isRfbError } from './errors.js';
export { BrowserNoneSecurityServer, UpstreamVncAuthenticator } from './handshake.js';
export type { HandshakeStep, UpstreamVncAuthenticatorOptions } from './handshake.js';
export { DEFAULT_PIXEL_FORMAT, decodePixelFormat, encodePixelFormat } from '../simulators/vnc/pixel-format.js';
export type { PixelFormat } from '../simulators/vnc/pixel-format.js';
export {
  ClientMessageType,
  Encoding,
  SecurityResult,
  SecurityType,
  ServerMessageType,
  parseVersionBanner,
  versionBanner,
} from './protocol.js';
export type { RfbVersion } from './protocol.js';
export type { Rect } from '../simulators/vnc/draw.js';
export { ScreenColour } from '../simulators/vnc/screen.js';
export type { ScreenLayout } from '../simulators/vnc/screen.js';
export { RfbServer, startRfbServer } from '../simulators/vnc/server.js';
export type { RfbServerEvents, RfbServerOptions } from '../simulators/vnc/server.js';
export type { RfbInputEvent } from '../simulators/vnc/session.js';
