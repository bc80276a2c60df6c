/**
 * `npm run bench`: every benchmark, one after another, each in its own process so one's sockets and
 * heap do not skew the next. Loopback only; each bench bounds its own run time.
 * Pass --quick for a short smoke run (smaller payloads and counts), or names to run a subset:
 *   npm run bench -- console events
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES = {
  console: 'console proxy: throughput, latency, memory per idle connection (issue 3)',
  'abiquo-walk': 'Abiquo walk: 100 enterprises x 50 VMs at concurrency 1 and 8 (issue 4)',
  events: 'event stream: 1,000 graphql-ws subscribers vs a raw ws broadcast (issue 5)',
  fleet: 'fleet: tickets on Redis vs memory; event fan-out over three replicas vs one (issue 12)',
} as const;

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const selected = names.length > 0 ? names : Object.keys(BENCHES);
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

let failed = 0;
for (const name of selected) {
  if (!(name in BENCHES)) {
    process.stderr.write(`unknown bench "${name}"; choose from ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`\n=== ${name}: ${BENCHES[name as keyof typeof BENCHES]}\n`);
  const result = spawnSync(tsx, [fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), ...flags], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`=== ${name} failed (exit ${result.status ?? result.signal})\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
