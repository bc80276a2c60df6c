/**
 * A real redis-server (Debian's) for one test file: started on an ephemeral 127.0.0.1 port with no
 * persistence, stopped after. Never a system-wide server. Also the faults the fleet tests need:
 * pause (SIGSTOP), resume (SIGCONT), kill and restart on the same port (its data lost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { freePort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGSTOP: the socket stays open but nothing answers (a hung Redis). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port, empty (a restart that lost its data). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const REDIS_SERVER = '/usr/bin/redis-server';

function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on ${port}: ${output.slice(-500)}`));
    }, 10_000);
    const ready = (): void => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      resolve(child);
    };
    // --loglevel warning still prints the "Ready to accept connections" notice on stdout.
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) ready();
      else probe();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) on ${port}: ${output.slice(-500)}`));
    });
    // Some builds print nothing at warning level: fall back to connecting.
    let probing = false;
    function probe(): void {
      if (probing) return;
      probing = true;
      const attempt = (): void => {
        import('node:net').then(({ connect }) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.write('PING\r\n');
            s.once('data', () => {
              s.destroy();
              ready();
            });
          });
          s.once('error', () => setTimeout(attempt, 50));
        });
      };
      attempt();
    }
    setTimeout(probe, 200);
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} not found: the fleet tests need Debian's redis-server (apt-get install redis-server; .ci/run installs it)`);
  }
  const port = await freePort();
  let child = await spawnRedis(port);
  const exited = async (c: ChildProcess): Promise<void> => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    await once(c, 'exit');
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
    restart: async () => {
      child.kill('SIGKILL');
      await exited(child);
      child = await spawnRedis(port);
    },
    stop: async () => {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}
