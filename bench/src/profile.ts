/**
 * Summaries of a V8 CPU profile (.cpuprofile, from node --cpu-prof) and of a heap snapshot
 * (.heapsnapshot): top self-time functions, and heap self size by constructor.
 */
import fs from 'node:fs';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the non-idle profile time. */
  pct: number;
}

export interface CpuSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  top: SelfTime[];
  byPackage: Array<{ name: string; selfMs: number; pct: number }>;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const pk = url.indexOf('/packages/');
  if (pk >= 0) return url.slice(pk + 1);
  return url.replace(/^file:\/\//, '');
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native/V8)';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const pk = /\/packages\/([^/]+)\/(?:dist|src)\/(.+?)\.(?:js|ts)$/.exec(url);
  if (pk) return `@kith/${pk[1]} ${pk[2]}`;
  return 'other';
}

/** A time window on the machine's monotonic clock, in µs (V8 profile timestamps use the same clock). */
export interface Window {
  startUs: number;
  endUs: number;
}

/** Now on CLOCK_MONOTONIC in µs: comparable with the timestamps in another process's CPU profile. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** Functions that are the profiler's own doing, not the server's. */
const EXCLUDED = new Set(['writeHeapSnapshot']);

export function summarizeCpuProfile(profile: CpuProfile, topN = 25, window?: Window): CpuSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window.startUs || t > window.endUs)) continue;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const pkg = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const name = n.callFrame.functionName || '(anonymous)';
    if (EXCLUDED.has(name)) {
      total -= us;
      continue;
    }
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const p = packageOf(n.callFrame.url, name);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    top: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, pct: (e.us / busy) * 100 })),
    byPackage: [...pkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => ({ name, selfMs: us / 1000, pct: (us / busy) * 100 })),
  };
}

export function summarizeCpuProfileFile(file: string, topN = 25, window?: Window): CpuSummary {
  return summarizeCpuProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, topN, window);
}

export function renderCpuSummary(title: string, s: CpuSummary, window?: Window): string {
  const out = [
    `### ${title}`,
    '',
    `Profile ${(s.totalMs / 1000).toFixed(1)} s${window ? ' (the measured window only)' : ''}, of which idle ${(s.idleMs / 1000).toFixed(1)} s and GC ${(s.gcMs / 1000).toFixed(2)} s. Shares are of the non-idle time.`,
    '',
    '| self ms | % | function | where |',
    '|---:|---:|---|---|',
    ...s.top.map((t) => `| ${t.selfMs.toFixed(0)} | ${t.pct.toFixed(1)} | \`${t.name}\` | ${t.where} |`),
    '',
    '| by package / module | self ms | % |',
    '|---|---:|---:|',
    ...s.byPackage.map((p) => `| ${p.name} | ${p.selfMs.toFixed(0)} | ${p.pct.toFixed(1)} |`),
    '',
  ];
  return out.join('\n');
}

export interface HeapGroup {
  type: string;
  name: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  top: HeapGroup[];
  all?: Map<string, HeapGroup>;
}

/** Heap self size grouped by node type and constructor/name (no retained sizes). */
export function summarizeHeapSnapshotFile(file: string, topN = 30): HeapSummary {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const stride = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const groups = new Map<string, { type: string; name: string; count: number; bytes: number }>();
  let total = 0;
  let count = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const size = snap.nodes[i + iSize]!;
    total += size;
    count++;
    let name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' ? snap.strings[snap.nodes[i + iName]!] ?? '?' : `(${type})`;
    if (name.length > 60) name = name.slice(0, 57) + '…';
    const key = `${type}|${name}`;
    const g = groups.get(key) ?? { type, name, count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  return { totalBytes: total, nodes: count, top: [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, topN), all: groups };
}

/** What `after` holds beyond `before`, group by group (e.g. what 5,000 sockets added). */
export function diffHeap(before: HeapSummary, after: HeapSummary, topN = 30): HeapSummary {
  const out: HeapGroup[] = [];
  for (const [key, g] of after.all ?? []) {
    const b = before.all?.get(key);
    out.push({ type: g.type, name: g.name, count: g.count - (b?.count ?? 0), bytes: g.bytes - (b?.bytes ?? 0) });
  }
  return {
    totalBytes: after.totalBytes - before.totalBytes,
    nodes: after.nodes - before.nodes,
    top: out.sort((a, b) => b.bytes - a.bytes).slice(0, topN),
  };
}

export function renderHeapSummary(title: string, s: HeapSummary, sockets: number): string {
  return [
    `### ${title}`,
    '',
    `JS heap ${(s.totalBytes / 2 ** 20).toFixed(1)} MB in ${s.nodes.toLocaleString('en-US')} objects: ${(s.totalBytes / sockets / 1024).toFixed(2)} KB per socket (RSS also holds native memory: socket handles and buffers, SQLite, allocator slack).`,
    '',
    '| type | constructor / name | count | self KB | bytes per socket |',
    '|---|---|---:|---:|---:|',
    ...s.top.map((g) => `| ${g.type} | \`${g.name.replace(/\|/g, '\\|').replace(/\n/g, ' ')}\` | ${g.count.toLocaleString('en-US')} | ${(g.bytes / 1024).toFixed(0)} | ${(g.bytes / sockets).toFixed(0)} |`),
    '',
  ].join('\n');
}

/** Records the measured window of a CPU profile next to where it will be written. */
export function writeWindow(dir: string, profileName: string, window: Window): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/${profileName}.window.json`, JSON.stringify(window) + '\n');
}

export function readWindow(profileFile: string): Window | undefined {
  try {
    return JSON.parse(fs.readFileSync(`${profileFile}.window.json`, 'utf8')) as Window;
  } catch {
    return undefined;
  }
}
