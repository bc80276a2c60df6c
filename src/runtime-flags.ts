/**
 * The Node flags console-gateway runs with (the image's ENTRYPOINT), and the check that warns when a
 * process was started without them.
 *
 * V8 13.6 (Node 24) raised `scavenger_max_new_space_capacity_mb` from 8 to 32. Short-lived Buffers,
 * every chunk a console carries, are then no longer reclaimed by cheap scavenges but by full
 * mark-compacts of the whole heap, which for the gateway (GraphQL schema, Apollo) costs more than
 * the proxying itself: on Node 24 the console proxy took 4.2-4.7 CPU seconds per GiB without the
 * flag and 1.75 with it (BENCHMARKS.md; nodejs/node#61967 and #63863). Node 22 has 8 already and
 * Node 20 has no such flag. V8 flags are refused in NODE_OPTIONS, so this goes on the command line.
 */
export const NODE_FLAGS: readonly string[] = ['--scavenger-max-new-space-capacity-mb=8'];

/** The NODE_FLAGS a process on this Node version needs and was not started with (Node 24 and later). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeVersion: string = process.versions.node): string[] {
  if (Number(nodeVersion.split('.')[0]) < 24) return [];
  const name = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-');
  return NODE_FLAGS.filter((flag) => !execArgv.some((arg) => name(arg) === name(flag)));
}
