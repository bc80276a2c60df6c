/**
 * The Node flags console-gateway runs with (the image's ENTRYPOINT), and the check that warns when a
 * process was started without them.
 *
 * V8 13.6 (Node 24) raised `scavenger_max_new_space_capacity_mb` from 8 to 32. Short-lived Buffers,
 * every chunk a console carries, are then no longer reclaimed by cheap scavenges but by full
 * mark-compacts of the whole heap, which for the gateway (GraphQL schema, Apollo) costs more than
 * the proxying itself (nodejs/node#61967 and #63863). Measured on Node 24 (BENCHMARKS.md), CPU
 * seconds per GiB proxied: 4.0-5.0 with Node's default; 1.7-4.1 with 8 (Node 22's value: some runs
 * still fell into full GCs); 3.2-3.4 with --external-memory-accounted-in-global-limit; 1.7-1.9
 * with 4, in every run. V8 flags are refused in NODE_OPTIONS, so this goes on the command line;
 * Node 20 has no such flag.
 */
export const NODE_FLAGS: readonly string[] = ['--scavenger-max-new-space-capacity-mb=4'];

/** The NODE_FLAGS a process on this Node version needs and was not started with (Node 24 and later). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeVersion: string = process.versions.node): string[] {
  if (Number(nodeVersion.split('.')[0]) < 24) return [];
  const name = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-');
  return NODE_FLAGS.filter((flag) => !execArgv.some((arg) => name(arg) === name(flag)));
}
