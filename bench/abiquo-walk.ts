/**
 * Abiquo walk: 100 enterprises x 50 VMs behind a simulator adding 10 ms to every request, walked at
 * concurrency 1 and 8. Prints each time beside its floor, requests x latency / concurrency (the first
 * page of the enterprise list must arrive before any enterprise is read, so the real floor at
 * concurrency > 1 is a little higher).
 *
 * The simulator runs in a child process, as a real upstream would not share the gateway's CPU: in one
 * process its response rendering and the client's parsing take turns on one thread, which measures
 * the harness, not the walk.
 *
 *   npx tsx bench/abiquo-walk.ts
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AbiquoClient } from '../src/upstreams/abiquo/client.js';
import { providerSchema, type AbiquoProviderConfig } from '../src/config.js';
import { AbiquoSimulator, generateAbiquoData } from '../src/simulators/abiquo/index.js';

const ENTERPRISES = 100;
const VMS_PER_ENTERPRISE = 50;
const LATENCY_MS = 10;
const PAGE_SIZE = 25;
const CHILD_FLAG = '--abiquo-sim-child';

interface SimStats {
  requests: number;
  maxInFlight: number;
}

/** Child: serve the simulator; answer `stats` and `reset` lines on stdin with JSON on stdout. */
async function runSimulatorChild(): Promise<void> {
  const sim = await AbiquoSimulator.start({ data: generateAbiquoData(ENTERPRISES, VMS_PER_ENTERPRISE), latencyMs: LATENCY_MS });
  process.stdout.write(`${JSON.stringify({ apiUrl: sim.apiUrl })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line === 'reset') sim.resetStats();
    const { requests, maxInFlight } = sim.stats();
    process.stdout.write(`${JSON.stringify({ requests, maxInFlight })}\n`);
  });
  rl.on('close', () => void sim.close().then(() => process.exit(0)));
}

async function runBench(): Promise<void> {
  const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
  const child = spawn(tsx, [fileURLToPath(import.meta.url), CHILD_FLAG], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const read = async <T>(): Promise<T> => JSON.parse(String((await lines.next()).value)) as T;
  const ask = async (command: string): Promise<SimStats> => {
    child.stdin!.write(`${command}\n`);
    return read<SimStats>();
  };
  try {
    const { apiUrl } = await read<{ apiUrl: string }>();
    console.log(`abiquo walk: ${ENTERPRISES} enterprises x ${VMS_PER_ENTERPRISE} VMs, ${LATENCY_MS} ms latency, page size ${PAGE_SIZE}`);
    console.log('concurrency  requests  vms    time ms  floor ms  ratio  max in flight');
    for (const concurrency of [1, 8]) {
      const client = new AbiquoClient(
        providerSchema.parse({ kind: 'abiquo', name: 'bench', url: apiUrl, username: 'admin', password: 'xabiquo', concurrency, pageSize: PAGE_SIZE }) as AbiquoProviderConfig,
        {},
      );
      await ask('reset');
      const started = performance.now();
      const result = await client.walk();
      const elapsed = performance.now() - started;
      await client.close();
      const { requests, maxInFlight } = await ask('stats');
      if (result.errors.length > 0) throw new Error(`${result.errors.length} enterprises failed`);
      const floor = (requests * LATENCY_MS) / concurrency;
      console.log(
        [
          String(concurrency).padStart(11),
          String(requests).padStart(9),
          String(result.vms.length).padStart(5),
          elapsed.toFixed(0).padStart(10),
          floor.toFixed(0).padStart(9),
          `${(elapsed / floor).toFixed(2)}x`.padStart(6),
          String(maxInFlight).padStart(14),
        ].join(' '),
      );
    }
  } finally {
    child.stdin!.end();
    await once(child, 'exit');
  }
}

if (process.argv.includes(CHILD_FLAG)) await runSimulatorChild();
else await runBench();
