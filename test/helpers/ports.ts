/** Ports for servers the tests start as child processes (they cannot be told to listen on port 0 and report it). */
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A loopback port free a moment ago. Another process may take it before the caller does: callers retry. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
