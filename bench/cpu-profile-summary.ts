/**
 * Summarise a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- console --profile=DIR`): the
 * functions with the most self time, and the same time grouped by package or source file, so the
 * cost of a hot path can be read without a browser.
 *
 *   npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--top=25]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  micros: number;
  share: number;
}

/** Where a frame's code lives: a package, a project file, Node's internals, or V8 itself. */
function origin(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const project = /\/(src|bench)\/(.*)$/.exec(url);
  return project ? `${project[1]}/${project[2]}` : url;
}

export function summarise(profile: Profile): { total: number; byFunction: SelfTime[]; byOrigin: SelfTime[] } {
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const node of profile.nodes) {
    const micros = selfMicros.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = origin(url, functionName);
    const name = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + micros);
  }
  const sorted = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()].map(([name, micros]) => ({ name, micros, share: total > 0 ? micros / total : 0 })).sort((a, b) => b.micros - a.micros);
  return { total, byFunction: sorted(byFunction), byOrigin: sorted(byOrigin) };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--top=25]\n');
    process.exit(2);
  }
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const { total, byFunction, byOrigin } = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const line = (t: SelfTime): string => `${(t.share * 100).toFixed(1).padStart(5)} %  ${(t.micros / 1000).toFixed(0).padStart(6)} ms  ${t.name}`;
  console.log(`${(total / 1000).toFixed(0)} ms sampled\n\nself time by function:`);
  for (const t of byFunction.slice(0, top)) console.log(line(t));
  console.log('\nself time by package or file:');
  for (const t of byOrigin.slice(0, top)) console.log(line(t));
}
