/**
 * Cost curves: how a server's CPU per delivery and p99 grow with load, from the W1 runs at several
 * reader counts and the W2 runs at several room counts. `collectCurves` picks the points out of the
 * workload results; `renderCurvesSvg` draws them as a 2 × 2 grid of small line charts (hand-written
 * SVG: log-scaled load on x, linear y from 0, one line per server).
 */
import type { WorkloadResult } from './result.js';
import type { ServerKind } from './servers.js';

export interface CurvePoint {
  load: number;
  value: number;
}

export interface CurvePanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Partial<Record<ServerKind, CurvePoint[]>>;
}

interface Family {
  prefix: string;
  name: string;
  xLabel: string;
  load: (w: WorkloadResult) => number;
}

const FAMILIES: Family[] = [
  { prefix: 'W1-R', name: 'W1 fan-out', xLabel: 'readers in the room', load: (w) => Number(w.params.clientsPerRoom) - 1 },
  { prefix: 'W2-N', name: 'W2 many rooms', xLabel: 'rooms (× 4 clients)', load: (w) => Number(w.params.rooms) },
];

const METRICS = [
  { key: 'cpuUsPerDelivery', label: 'server CPU µs per delivery' },
  { key: 'p99', label: 'p99 ms' },
] as const;

/** Panels (family × metric) for every family with at least two load points. */
export function collectCurves(workloads: WorkloadResult[]): CurvePanel[] {
  const panels: CurvePanel[] = [];
  for (const f of FAMILIES) {
    // Only plain curve runs (W1-R<n>, W2-N<n>), not the generator check's W1-R<n>-gen<k>.
    const runs = workloads.filter((w) => !w.error && new RegExp(`^${f.prefix}\\d+$`).test(w.id));
    if (runs.length < 2) continue;
    for (const m of METRICS) {
      const series: Partial<Record<ServerKind, CurvePoint[]>> = {};
      for (const w of runs) {
        for (const [kind, fig] of Object.entries(w.servers) as Array<[ServerKind, Record<string, unknown>]>) {
          const v = fig[m.key];
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          (series[kind] ??= []).push({ load: f.load(w), value: v });
        }
      }
      for (const pts of Object.values(series)) pts!.sort((a, b) => a.load - b.load);
      panels.push({ title: `${f.name}: ${m.label}`, xLabel: f.xLabel, yLabel: m.label, series });
    }
  }
  return panels;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A "nice" upper bound for a linear axis (1, 2, 2.5, 5 × 10^k). */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function renderCurvesSvg(panels: CurvePanel[], colors: Record<ServerKind, string>, labels: Record<ServerKind, string>): string {
  const W = 420;
  const H = 280;
  const pad = { l: 56, r: 16, t: 30, b: 44 };
  const cols = 2;
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const width = cols * W;
  const height = rows * H + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  const seen = new Set<ServerKind>();
  panels.forEach((panel, i) => {
    const x0 = (i % cols) * W;
    const y0 = Math.floor(i / cols) * H;
    const all = Object.values(panel.series).flat() as CurvePoint[];
    const loads = [...new Set(all.map((p) => p.load))].sort((a, b) => a - b);
    const lx = Math.log10(Math.max(1, loads[0] ?? 1));
    const hx = Math.log10(Math.max(2, loads.at(-1) ?? 10));
    const span = hx - lx || 1;
    const yMax = niceCeil(Math.max(0, ...all.map((p) => p.value)));
    const px = (load: number) => x0 + pad.l + ((Math.log10(load) - lx) / span) * (W - pad.l - pad.r);
    const py = (v: number) => y0 + pad.t + (1 - v / yMax) * (H - pad.t - pad.b);
    parts.push(`<text x="${x0 + W / 2}" y="${y0 + 18}" text-anchor="middle" font-size="13" font-weight="bold">${esc(panel.title)}</text>`);
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      const y = py(v).toFixed(1);
      parts.push(`<line x1="${x0 + pad.l}" x2="${x0 + W - pad.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${x0 + pad.l - 6}" y="${y}" dy="4" text-anchor="end" fill="#555">${Number(v.toPrecision(3))}</text>`);
    }
    for (const l of loads) {
      parts.push(`<text x="${px(l).toFixed(1)}" y="${y0 + H - pad.b + 16}" text-anchor="middle" fill="#555">${l}</text>`);
    }
    parts.push(`<text x="${x0 + pad.l + (W - pad.l - pad.r) / 2}" y="${y0 + H - pad.b + 32}" text-anchor="middle" fill="#555">${esc(panel.xLabel)} (log)</text>`);
    for (const [kind, pts] of Object.entries(panel.series) as Array<[ServerKind, CurvePoint[]]>) {
      seen.add(kind);
      const coords = pts.map((p) => `${px(p.load).toFixed(1)},${py(p.value).toFixed(1)}`);
      parts.push(`<polyline fill="none" stroke="${colors[kind]}" stroke-width="2" points="${coords.join(' ')}"/>`);
      for (const c of coords) {
        const [cx, cy] = c.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${colors[kind]}"/>`);
      }
    }
  });
  [...seen].forEach((k, i) => {
    const x = 16 + i * 170;
    parts.push(`<rect x="${x}" y="${height - 18}" width="14" height="4" fill="${colors[k]}"/>`);
    parts.push(`<text x="${x + 20}" y="${height - 13}">${esc(labels[k])}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
