/**
 * The pure helpers behind the cost curves and the load-generator check: which workload results
 * become curve points, the SVG they are drawn as, and the "does p99 still improve" verdict.
 */
import { describe, expect, it } from 'vitest';
import { collectCurves, niceCeil, renderCurvesSvg } from '../src/curves.js';
import { genCheckResult, stillImproves } from '../src/gen-check.js';
import { SERVER_COLORS } from '../src/report.js';
import type { WorkloadResult } from '../src/result.js';
import { SERVER_LABEL } from '../src/servers.js';

const w1 = (r: number, kith: number, ref: number, id = `W1-R${r}`): WorkloadResult => ({
  id,
  title: `W1 fan-out, R = ${r}`,
  description: '',
  params: { rooms: 1, clientsPerRoom: r + 1 },
  columns: [],
  servers: { kith: { p99: kith, cpuUsPerDelivery: kith / 2 }, ywebsocket3: { p99: ref, cpuUsPerDelivery: ref / 2 } },
  notes: [],
});

const w2 = (n: number, kith: number): WorkloadResult => ({
  id: `W2-N${n}`,
  title: `W2 many rooms, ${n} rooms`,
  description: '',
  params: { rooms: n, clientsPerRoom: 4 },
  columns: [],
  servers: { kith: { p99: kith, cpuUsPerDelivery: null } },
  notes: [],
});

describe('cost curves', () => {
  it('turns W1 and W2 runs into load-sorted points per server, leaving out failed runs and the generator check', () => {
    const failed: WorkloadResult = { ...w1(250, 99, 99), error: 'boom' };
    const panels = collectCurves([w1(500, 8, 10), w1(10, 2, 3), failed, w1(100, 4, 5, 'W1-R100-gen2'), w2(100, 1), w2(2000, 6)]);
    expect(panels.map((p) => p.title)).toEqual([
      'W1 fan-out: server CPU µs per delivery',
      'W1 fan-out: p99 ms',
      'W2 many rooms: server CPU µs per delivery',
      'W2 many rooms: p99 ms',
    ]);
    expect(panels[1]!.series.kith).toEqual([
      { load: 10, value: 2 },
      { load: 500, value: 8 },
    ]);
    expect(panels[0]!.series.ywebsocket3).toEqual([
      { load: 10, value: 1.5 },
      { load: 500, value: 5 },
    ]);
    // A null figure is no point.
    expect(panels[2]!.series.kith).toBeUndefined();
    expect(panels[3]!.series.kith!.map((p) => p.load)).toEqual([100, 2000]);
  });

  it('needs two loads to draw a curve', () => {
    expect(collectCurves([w1(500, 8, 10)])).toEqual([]);
  });

  it('rounds axis maxima up to 1, 2, 2.5 or 5 × 10^k', () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(0.7)).toBe(1);
    expect(niceCeil(13)).toBe(20);
    expect(niceCeil(21)).toBe(25);
    expect(niceCeil(26)).toBe(50);
    expect(niceCeil(500)).toBe(500);
  });

  it('draws one polyline per server and panel, a point per load, and a legend entry per server', () => {
    const svg = renderCurvesSvg(collectCurves([w1(10, 2, 3), w1(100, 4, 5), w1(1000, 9, 12)]), SERVER_COLORS, SERVER_LABEL);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg.match(/<circle/g)).toHaveLength(12);
    expect(svg).toContain(`stroke="${SERVER_COLORS.kith}"`);
    expect(svg).toContain('>Kith</text>');
    expect(svg).toContain('>y-websocket v3 server</text>');
    expect(svg).toContain('readers in the room (log)');
    // The largest load sits at the right edge of the plot, the smallest at the left.
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].slice(0, 3).map((m) => Number(m[1]));
    expect(xs[0]).toBeLessThan(xs[1]!);
    expect(xs[1]).toBeLessThan(xs[2]!);
  });
});

describe('load-generator check', () => {
  it('says p99 still improves only when the last step drops it by more than 10 %', () => {
    expect(stillImproves([20, 10, 8])).toBe(true);
    expect(stillImproves([20, 10, 9.5])).toBe(false);
    expect(stillImproves([20, 10, 14])).toBe(false);
    expect(stillImproves([20, null])).toBeNull();
  });

  it('tabulates p99 and generator CPU per process count for every server', () => {
    const runs = [1, 2, 4].map((n) => {
      const w = w1(500, 30 / n, 20);
      w.servers.kith!.genCpuUsPerWrite = 100 * n;
      return w;
    });
    const r = genCheckResult([1, 2, 4], runs, 500);
    expect(r.servers.kith).toMatchObject({ 'p99@1': 30, 'p99@2': 15, 'p99@4': 7.5, 'gen@4': 400, stillImproves: 'yes — generator-bound' });
    expect(r.servers.ywebsocket3).toMatchObject({ 'p99@4': 20, 'gen@1': null, stillImproves: 'no' });
  });
});
