/**
 * Abiquo walk: 100 enterprises x 50 VMs behind a simulator adding 10 ms to every request, walked at
 * concurrency 1 and 8. Prints each time beside its floor, requests x latency / concurrency (the enterprise
 * list pages are sequential, so the real floor at concurrency > 1 is a little higher).
 *
 *   npx tsx bench/abiquo-walk.ts
 */
import { performance } from 'node:perf_hooks';
import { AbiquoClient } from '../src/upstreams/abiquo/client.js';
import { AbiquoSimulator, generateAbiquoData } from '../src/upstreams/abiquo/simulator/index.js';

const ENTERPRISES = 100;
const VMS_PER_ENTERPRISE = 50;
const LATENCY_MS = 10;
const PAGE_SIZE = 25;

const sim = await AbiquoSimulator.start({ data: generateAbiquoData(ENTERPRISES, VMS_PER_ENTERPRISE), latencyMs: LATENCY_MS });
try {
  console.log(`abiquo walk: ${ENTERPRISES} enterprises x ${VMS_PER_ENTERPRISE} VMs, ${LATENCY_MS} ms latency, page size ${PAGE_SIZE}`);
  console.log('concurrency  requests  vms    time ms  floor ms  max in flight');
  for (const concurrency of [1, 8]) {
    const client = new AbiquoClient({
      name: 'bench',
      url: sim.apiUrl,
      auth: { username: 'admin', password: 'xabiquo' },
      concurrency,
      pageSize: PAGE_SIZE,
    });
    sim.resetStats();
    const started = performance.now();
    const result = await client.walk();
    const elapsed = performance.now() - started;
    await client.close();
    const { requests, maxInFlight } = sim.stats();
    if (result.errors.length > 0) throw new Error(`${result.errors.length} enterprises failed`);
    const floor = (requests * LATENCY_MS) / concurrency;
    console.log(
      [
        String(concurrency).padStart(11),
        String(requests).padStart(9),
        String(result.vms.length).padStart(5),
        elapsed.toFixed(0).padStart(10),
        floor.toFixed(0).padStart(9),
        String(maxInFlight).padStart(14),
      ].join(' '),
    );
  }
} finally {
  await sim.close();
}
