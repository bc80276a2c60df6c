// react-vnc's VncScreen passes `url` and `rfbOptions` to noVNC as `new RFB(element, url, rfbOptions)`.
export function vncScreenProps(access) {
  return { url: access.url, rfbOptions: { wsProtocols: access.protocols } };
}
