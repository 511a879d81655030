/**
 * Reading another process's CPU time and memory from /proc (Linux). The parsers are pure so they
 * can be tested on captured text; `readProc` does the I/O.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcStat {
  /** User-mode CPU time, in clock ticks (all threads). */
  utimeTicks: number;
  /** Kernel-mode CPU time, in clock ticks (all threads). */
  stimeTicks: number;
  numThreads: number;
}

export interface ProcStatus {
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size, bytes. */
  hwmBytes: number;
}

export interface ProcSample extends ProcStat, ProcStatus {
  /** CPU seconds (user + system) so far. */
  cpuSeconds: number;
  /** performance.now() of the reading process when sampled. */
  at: number;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('malformed /proc/<pid>/stat: no ")"');
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`malformed /proc/<pid>/stat: field ${n} is "${rest[n - 3]}"`);
    return v;
  };
  return { utimeTicks: field(14), stimeTicks: field(15), numThreads: field(20) };
}

/** Parses `/proc/<pid>/status` for VmRSS and VmHWM (reported in kB). */
export function parseStatus(text: string): ProcStatus {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/<pid>/status has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

let clockTicks: number | undefined;

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on practically every Linux. */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export function cpuSecondsOf(stat: ProcStat, ticksPerSecond: number): number {
  return (stat.utimeTicks + stat.stimeTicks) / ticksPerSecond;
}

/**
 * Resident memory by kind of mapping, from /proc/<pid>/smaps: the main malloc arena (`[heap]`),
 * anonymous mappings (V8's pages, other threads' malloc arenas, large mmap'd allocations) and files.
 */
export interface RssByKind {
  heapKB: number;
  anonKB: number;
  fileKB: number;
}

export function parseSmaps(text: string): RssByKind {
  const out: RssByKind = { heapKB: 0, anonKB: 0, fileKB: 0 };
  let kind: keyof RssByKind = 'anonKB';
  for (const line of text.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1]!.trim();
      kind = name === '[heap]' ? 'heapKB' : name === '' || name.startsWith('[') ? 'anonKB' : 'fileKB';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]);
  }
  return out;
}

export function readRssByKind(pid: number): RssByKind {
  return parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}

export function readProc(pid: number): ProcSample {
  const stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const status = parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { ...stat, ...status, cpuSeconds: cpuSecondsOf(stat, clkTck()), at: performance.now() };
}

export interface OpenFileLimits {
  soft: number;
  /** Infinity when unlimited. */
  hard: number;
}

/** Parses the "Max open files" line of `/proc/<pid>/limits`. */
export function parseOpenFileLimits(text: string): OpenFileLimits {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) throw new Error('/proc/<pid>/limits has no "Max open files" line');
  const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

/** This process's open-file limits (each socket is a file). */
export function openFileLimits(): OpenFileLimits {
  return parseOpenFileLimits(readFileSync('/proc/self/limits', 'utf8'));
}
