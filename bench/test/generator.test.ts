/**
 * The load generator's worker processes, end to end: the real `pnpm bench` CLI runs W2 (every
 * client writes in turn) with its clients in two generator workers against the stock y-websocket
 * reference server. Every edit planned here must be sent by a worker and delivered to the room's
 * three other clients exactly once, and the report must say where the clients were.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatorProcesses } from '../src/workloads/fanout.js';
import { parseOpenFileLimits } from '../src/proc.js';

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('generator processes', () => {
  it('reads the open-file limits, unlimited included', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(parseOpenFileLimits(limits)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseOpenFileLimits('Max open files            4096                 unlimited            files\n')).toEqual({ soft: 4096, hard: Infinity });
    expect(() => parseOpenFileLimits('Max processes 1 1\n')).toThrow(/open files/);
  });

  it('forks enough workers that none holds more than half its open-file limit', () => {
    // W2 at 2,000 rooms × 4 clients × 4 servers under a 4,096 limit: 32,000 sockets, 2,048 per process.
    expect(generatorProcesses(2, 32_000, 0, 4096)).toBe(16);
    expect(generatorProcesses(2, 32_000, 0, 65_536)).toBe(2);
    // In-process stays in-process while it fits, and moves out when it does not.
    expect(generatorProcesses(0, 0, 400, 20_000)).toBe(0);
    expect(generatorProcesses(0, 8_000, 0, 4096)).toBe(4);
  });
});

describe('W2 with its clients in generator workers (real CLI, y-websocket reference server)', () => {
  let out: string;
  let report: { workloads: Array<{ id: string; error?: string; params: Record<string, unknown>; notes: string[]; servers: Record<string, Record<string, number>> }> };

  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-bench-gen-'));
    execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', path.join(BENCH_DIR, 'tsconfig.json')], { stdio: 'inherit' });
    const args = ['dist/cli.js', '--quick', '--no-build', '--only', 'W2', '--w2-rooms', '30', '--servers', 'ywebsocket', '--gen-procs', '2', '--out', out];
    execFileSync(process.execPath, args, { cwd: BENCH_DIR, stdio: 'pipe', timeout: 90_000 });
    report = JSON.parse(fs.readFileSync(path.join(out, 'quick.json'), 'utf8'));
  }, 120_000);

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('delivers every edit a worker sent to the three other clients of its room, once', () => {
    const w2 = report.workloads.find((w) => w.id === 'W2-N30')!;
    expect(w2.error).toBeUndefined();
    const f = w2.servers.ywebsocket!;
    // 30 rooms × one edit per room per second × 4 s, each owed to 3 clients.
    expect(f.edits).toBe(120);
    expect(f.expected).toBe(360);
    expect(f.deliveries).toBe(360);
    expect(f.lost).toBe(0);
    expect(f.duplicates).toBe(0);
    expect(f.p99).toBeGreaterThan(0);
    expect(f.genCpuUsPerWrite).toBeGreaterThan(0);
    // The user/kernel split adds up to the total.
    expect(f.userUsPerDelivery! + f.kernelUsPerDelivery!).toBeCloseTo(f.cpuUsPerDelivery!, 6);
  });

  it('says where the clients were: two worker processes sending the planned edits', () => {
    const w2 = report.workloads.find((w) => w.id === 'W2-N30')!;
    expect(w2.params.genProcs).toBe(2);
    expect(w2.notes.join('\n')).toMatch(/every client spread over 2 worker processes, which send the edits/);
  });
});
