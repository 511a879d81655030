/** Rendering results: the Markdown tables, and the SVG chart of latency percentiles. Pure. */
import type { Column, Figures, Format, Target, WorkloadResult } from './result.js';
import { ALL_SERVERS, REPORTED_SERVERS, SERVER_LABEL, type ServerKind } from './servers.js';
import { CHART_PERCENTILES, ratio } from './stats.js';

export interface RunMeta {
  mode: 'full' | 'quick';
  startedAt: string;
  wallSeconds: number;
  node: string;
  cpu: string;
  cores: number;
  memGiB: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  git: string;
  versions: Record<string, string>;
  servers: ServerKind[];
  substitutions: string[];
  argv: string[];
}

export interface BenchResults {
  meta: RunMeta;
  workloads: WorkloadResult[];
}

export function formatValue(v: number | string | null | undefined, format: Format): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (Number.isNaN(v)) return '—';
  if (v === Infinity) return 'timeout';
  switch (format) {
    case 'ms':
    case 'us':
      return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
    case 'int':
      return Math.round(v).toLocaleString('en-US');
    case 'kb':
    case 'mb':
    case 'pct':
      return v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
    case 's':
      return v < 1 ? v.toFixed(3) : v.toFixed(2);
    case 'num':
      return String(Math.round(v * 1000) / 1000);
    case 'text':
      return String(v);
  }
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '—';
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** The table of one workload: a row per server, then a Kith/anchor ratio row per anchor. */
export function renderTable(columns: Column[], servers: Partial<Record<ServerKind, Figures>>): string {
  const kinds = REPORTED_SERVERS.filter((k) => servers[k]);
  const lines = [
    row(['server', ...columns.map((c) => c.label)]),
    row(['---', ...columns.map((c) => (c.format === 'text' ? '---' : '---:'))]),
  ];
  for (const k of kinds) lines.push(row([SERVER_LABEL[k], ...columns.map((c) => formatValue(servers[k]![c.key], c.format))]));
  const kith = servers.kith;
  if (kith) {
    for (const anchor of kinds.filter((k) => k !== 'kith')) {
      const cells = columns.map((c) => {
        if (!c.better) return '';
        const a = kith[c.key];
        const b = servers[anchor]![c.key];
        return typeof a === 'number' && typeof b === 'number' ? formatRatio(ratio(a, b)) : '—';
      });
      lines.push(row([`*Kith / ${SERVER_LABEL[anchor]}*`, ...cells]));
    }
  }
  return lines.join('\n');
}

/** A plain table of rows (e.g. W5's steps). */
export function renderRows(columns: Column[], rows: Figures[]): string {
  const lines = [row(columns.map((c) => c.label)), row(columns.map((c) => (c.format === 'text' ? '---' : '---:')))];
  for (const r of rows) lines.push(row(columns.map((c) => formatValue(r[c.key], c.format))));
  return lines.join('\n');
}

export interface TargetCheck {
  target: Target;
  actual: number | null;
  threshold: number | null;
  /** The server the threshold was taken from, for relative targets. */
  anchor?: ServerKind;
  pass: boolean | null;
}

/** The anchor a relative target compares with, and its figure. */
function anchorFigure(w: WorkloadResult, t: Target): { kind: ServerKind; value: number } | undefined {
  const figure = (k: ServerKind) => {
    const v = w.servers[k]?.[t.key];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  if (t.relativeTo !== 'best-anchor') {
    const v = t.relativeTo ? figure(t.relativeTo) : undefined;
    return v === undefined ? undefined : { kind: t.relativeTo as ServerKind, value: v };
  }
  let best: { kind: ServerKind; value: number } | undefined;
  for (const k of REPORTED_SERVERS) {
    if (k === 'kith') continue;
    const v = figure(k);
    if (v === undefined) continue;
    if (!best || (t.op === '>=' ? v > best.value : v < best.value)) best = { kind: k, value: v };
  }
  return best;
}

export function checkTargets(w: WorkloadResult): TargetCheck[] {
  const kith = w.servers.kith;
  return (w.targets ?? []).map((t) => {
    const a = kith?.[t.key];
    const actual = typeof a === 'number' && !Number.isNaN(a) ? a : null;
    let threshold: number | null = t.value;
    let anchor: ServerKind | undefined;
    if (t.relativeTo) {
      const b = anchorFigure(w, t);
      threshold = b ? b.value * t.value : null;
      anchor = b?.kind;
    }
    if (actual === null || threshold === null) return { target: t, actual, threshold, anchor, pass: null };
    const pass = t.op === '<=' ? actual <= threshold : t.op === '>=' ? actual >= threshold : actual === threshold;
    return { target: t, actual, threshold, anchor, pass };
  });
}

function formatFor(w: WorkloadResult, key: string): Format {
  return w.columns.find((c) => c.key === key)?.format ?? 'num';
}

export function renderWorkload(w: WorkloadResult): string {
  const out = [`## ${w.title}`, '', w.description, ''];
  if (w.error) {
    out.push(`**Failed:** ${w.error}`, '');
    return out.join('\n');
  }
  out.push(renderTable(w.columns, w.servers), '');
  for (const t of w.extraTables ?? []) out.push(`**${t.title}**`, '', renderRows(t.columns, t.rows), '');
  const checks = checkTargets(w);
  if (checks.length) {
    out.push('Targets for Kith:', '');
    for (const c of checks) {
      const mark = c.pass === null ? '⚪' : c.pass ? '✅' : '❌';
      const actual = formatValue(c.actual, formatFor(w, c.target.key));
      const rel = c.anchor && c.threshold !== null ? ` (limit ${formatValue(c.threshold, formatFor(w, c.target.key))} = ${c.target.value}× ${SERVER_LABEL[c.anchor]})` : '';
      out.push(`- ${mark} ${c.target.label}: ${actual}${rel}`);
    }
    out.push('');
  }
  if (w.notes.length) {
    for (const n of w.notes) out.push(`> ${n}`);
    out.push('');
  }
  const params = Object.entries(w.params)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(', ');
  out.push(`<sub>${params}${w.wallSeconds !== undefined ? `; took ${w.wallSeconds.toFixed(0)} s` : ''}</sub>`, '');
  return out.join('\n');
}

/** One table of every Kith target: Kith's figure, the anchors' figures for the same metric, met or not. */
export function renderTargetSummary(workloads: WorkloadResult[]): string {
  const lines = [
    '## Targets at a glance',
    '',
    row(['workload', 'target for Kith', 'Kith', 'limit', 'Kith ÷ anchor', SERVER_LABEL.hocuspocus, SERVER_LABEL.ywebsocket, SERVER_LABEL.ywebsocket3, SERVER_LABEL.radicale, 'met']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const w of workloads) {
    if (w.error) {
      lines.push(row([w.id, 'failed to run', '', '', '', '', '', '', '', '⚪']));
      continue;
    }
    for (const c of checkTargets(w)) {
      const f = formatFor(w, c.target.key);
      const other = (k: ServerKind) => formatValue(w.servers[k]?.[c.target.key] as number | null | undefined, f);
      const anchorValue = c.anchor ? w.servers[c.anchor]?.[c.target.key] : undefined;
      // For a relative target: Kith's figure over the anchor's it is held to (the target asks for ≤ its factor).
      const r = c.anchor && c.actual !== null && typeof anchorValue === 'number' ? `${formatRatio(ratio(c.actual, anchorValue))} ${SERVER_LABEL[c.anchor]}` : '';
      lines.push(
        row([w.id, c.target.label, formatValue(c.actual, f), formatValue(c.threshold, f), r, other('hocuspocus'), other('ywebsocket'), other('ywebsocket3'), other('radicale'), c.pass === null ? '⚪' : c.pass ? '✅' : '❌']),
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

export function renderMarkdown(r: BenchResults, chartFile?: string, curvesFile?: string): string {
  const m = r.meta;
  const out = [
    `# Kith sync benchmark${m.mode === 'quick' ? ' (quick smoke run — small parameters, not comparable to the full run)' : ''}`,
    '',
    `${m.startedAt} · ${m.cpu}, ${m.cores} cores, ${m.memGiB.toFixed(0)} GiB · Node ${m.node} · ${m.git} · took ${(m.wallSeconds / 60).toFixed(1)} min`,
    '',
    `Load average at start ${m.loadAvgStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(' / ')}${
      Math.max(...m.loadAvgStart, ...m.loadAvgEnd) > m.cores * 0.5 ? ' — **the machine was busy: figures are indicative only**' : ''
    }.`,
    '',
    `Servers: ${m.servers.map((k) => SERVER_LABEL[k]).join(', ')}. Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
  ];
  for (const s of m.substitutions) out.push(`> ${s}`, '');
  out.push(
    'How to read: every server runs as its own process on loopback; the load generator holds the clients, in the bench process or spread over worker processes (send and receipt times are taken on the system-wide monotonic clock, so they compare across processes). Delivery latency = writer send → reader receipt of the edit (the send time is embedded in the edit). Server CPU = utime+stime from /proc/<pid>/stat, RSS = VmRSS from /proc/<pid>/status. Ratios are Kith ÷ anchor: below 1× Kith is lower (for latency, CPU and memory: better).',
    '',
  );
  out.push(renderTargetSummary(r.workloads));
  if (curvesFile) out.push(`![cost curves: server CPU per delivery and p99 against load](${curvesFile})`, '');
  if (chartFile) out.push(`![latency percentiles](${chartFile})`, '');
  for (const w of r.workloads) out.push(renderWorkload(w));
  return out.join('\n');
}

export const SERVER_COLORS: Record<ServerKind, string> = { kith: '#d1495b', hocuspocus: '#00798c', ywebsocket: '#edae49', ywebsocket3: '#8d6a9f', radicale: '#66a182' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One panel per workload with latency curves: x = percentile (p50 … max), y = ms on a log scale,
 * one line per server.
 */
export function renderChart(workloads: WorkloadResult[]): string {
  const panels = workloads.filter((w) => w.curves && Object.keys(w.curves).length > 0);
  const W = 380;
  const H = 280;
  const pad = { l: 52, r: 14, t: 34, b: 40 };
  const width = Math.max(1, panels.length) * W;
  const height = H + 36;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  const labels = CHART_PERCENTILES.map((p) => (p === 100 ? 'max' : `p${p}`));
  panels.forEach((w, i) => {
    const x0 = i * W;
    const curves = Object.entries(w.curves!) as Array<[ServerKind, number[]]>;
    const values = curves.flatMap(([, c]) => c).filter((v) => Number.isFinite(v) && v > 0);
    const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(...values, 1)))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, lo * 10))));
    const px = (k: number) => x0 + pad.l + (k / (labels.length - 1)) * (W - pad.l - pad.r);
    const py = (v: number) => pad.t + (1 - (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - pad.t - pad.b);
    parts.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(w.title)}</text>`);
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      const y = py(d).toFixed(1);
      parts.push(`<line x1="${x0 + pad.l}" x2="${x0 + W - pad.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${x0 + pad.l - 6}" y="${y}" dy="4" text-anchor="end" fill="#555">${d >= 1 ? d : d.toPrecision(1)}</text>`);
    }
    parts.push(`<text transform="translate(${x0 + 14} ${(pad.t + H - pad.b) / 2}) rotate(-90)" text-anchor="middle" fill="#555">ms (log)</text>`);
    labels.forEach((l, k) => parts.push(`<text x="${px(k).toFixed(1)}" y="${H - pad.b + 16}" text-anchor="middle" fill="#555">${l}</text>`));
    for (const [kind, curve] of curves) {
      const pts = curve
        .map((v, k) => (Number.isFinite(v) && v > 0 ? `${px(k).toFixed(1)},${py(Math.max(lo, v)).toFixed(1)}` : ''))
        .filter(Boolean);
      parts.push(`<polyline fill="none" stroke="${SERVER_COLORS[kind]}" stroke-width="2" points="${pts.join(' ')}"/>`);
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${SERVER_COLORS[kind]}"/>`);
      }
    }
  });
  // Legend.
  ALL_SERVERS.forEach((k, i) => {
    const x = 16 + i * 150;
    parts.push(`<rect x="${x}" y="${height - 18}" width="14" height="4" fill="${SERVER_COLORS[k]}"/>`);
    parts.push(`<text x="${x + 20}" y="${height - 13}">${esc(SERVER_LABEL[k])}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
