/**
 * The check that the load generator is not the bottleneck: W1 is run with 1, 2, 4 … reader
 * processes; if the p99 still drops noticeably when the generator gets more processes, the
 * generator (not the server) was limiting the latency at the smaller count.
 */
import type { Column, Figures, WorkloadResult } from './result.js';
import type { ServerKind } from './servers.js';

/** A drop of more than this fraction from one process count to the next counts as "still improves". */
export const IMPROVEMENT = 0.1;

/** Whether p99 still improves from the second-largest to the largest process count. */
export function stillImproves(p99ByProcs: Array<number | null>): boolean | null {
  const vals = p99ByProcs.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (vals.length < 2) return null;
  const prev = vals[vals.length - 2]!;
  const last = vals[vals.length - 1]!;
  return last < prev * (1 - IMPROVEMENT);
}

/** One table: per server, p99 and generator CPU per write at each process count, and the verdict. */
export function genCheckResult(procs: number[], runs: WorkloadResult[], readers: number): WorkloadResult {
  const columns: Column[] = [
    ...procs.map((n) => ({ key: `p99@${n}`, label: `p99 ms, ${n} proc${n > 1 ? 's' : ''}`, format: 'ms' as const, better: 'lower' as const })),
    ...procs.map((n) => ({ key: `gen@${n}`, label: `gen CPU µs/write, ${n}`, format: 'us' as const })),
    { key: 'stillImproves', label: 'p99 still improves', format: 'text' as const },
  ];
  const servers: Partial<Record<ServerKind, Figures>> = {};
  const kinds = new Set(runs.flatMap((r) => Object.keys(r.servers) as ServerKind[]));
  for (const k of kinds) {
    const f: Figures = {};
    const p99s = runs.map((r) => (r.servers[k]?.p99 as number | null | undefined) ?? null);
    procs.forEach((n, i) => {
      f[`p99@${n}`] = p99s[i] ?? null;
      f[`gen@${n}`] = (runs[i]?.servers[k]?.genCpuUsPerWrite as number | null | undefined) ?? null;
    });
    const v = stillImproves(p99s);
    f.stillImproves = v === null ? 'n/a' : v ? 'yes — generator-bound' : 'no';
    servers[k] = f;
  }
  return {
    id: 'W1-gen-check',
    title: `Load-generator check: W1 R = ${readers} at ${procs.join(', ')} reader processes`,
    description: `p99 should stop improving once the generator has enough processes; "yes" at the largest count means the generator may still be limiting (a drop of more than ${IMPROVEMENT * 100}% from ${procs.at(-2)} to ${procs.at(-1)} processes).`,
    params: { readers, procs },
    columns,
    servers,
    notes: [],
  };
}
