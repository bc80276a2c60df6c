/**
 * RFB (VNC) building blocks the gateway itself uses: DES for VNC Authentication and the sans-IO
 * security handshakes of the console proxy. The simulated VNC server lives in src/simulators/vnc/.
 */
export { DesCipher, desEncryptBlock, vncAuthResponse, vncPasswordKey } from './des.js';
export { RfbError, RfbErrorCode, isRfbError } from './errors.js';
export { BrowserNoneSecurityServer, UpstreamVncAuthenticator } from './handshake.js';
export type { HandshakeStep, UpstreamVncAuthenticatorOptions } from './handshake.js';
export { SecurityResult, SecurityType, parseVersionBanner, versionBanner } from './protocol.js';
export type { RfbVersion } from './protocol.js';
