import { useEffect, useState } from 'react';
import { VncScreen } from 'react-vnc';
import { openConsole } from './apollo-client.js'; // or './urql.js'
import { vncScreenProps } from './vnc-screen-props.js';

// A fresh ticket per mount; `key` remounts VncScreen (a new noVNC connection) when the ticket changes.
export function VmConsole({ client, vmId }) {
  const [access, setAccess] = useState(null);
  useEffect(() => {
    openConsole(client, vmId).then(setAccess);
  }, [client, vmId]);
  if (!access) return <p>Opening console…</p>;
  return <VncScreen key={access.url} {...vncScreenProps(access)} scaleViewport style={{ width: '100%', height: '100%' }} />;
}
