/**
 * Smoke test of the bench harness's pure parts: percentile math, /proc parsing, edit markers,
 * result tables and the chart. It starts no server (the bench itself is `pnpm bench`).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { EditLedger, EditWriter, markerText, parseMarkers, stamp } from '../src/edits.js';
import { parseStat, parseStatus, readProc } from '../src/proc.js';
import { checkTargets, formatValue, renderChart, renderMarkdown, renderTable, renderTargetSummary } from '../src/report.js';
import type { WorkloadResult } from '../src/result.js';
import { summarizeCpuProfile } from '../src/profile.js';
import { median, percentile, ratio, Samples, summarize } from '../src/stats.js';
import { caldavBenchCalendar } from '../src/caldav-data.js';
import { parseMultistatus } from '../src/dav-client.js';

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 99.9)).toBe(100);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarizes unsorted samples and grows its buffer', () => {
    const s = new Samples(16);
    for (let i = 1000; i >= 1; i--) s.push(i / 10);
    expect(s.length).toBe(1000);
    const sum = summarize(s);
    expect(sum.count).toBe(1000);
    expect(sum.p50).toBe(50);
    expect(sum.p99).toBe(99);
    expect(sum.max).toBe(100);
    expect(sum.mean).toBeCloseTo(50.05, 6);
    expect(sum.curve).toHaveLength(7);
    expect(median([3, 1, 2, NaN])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(1, 0)).toBeNaN();
  });
});

describe('/proc parsing', () => {
  it('reads utime, stime and threads after a command name with spaces and parentheses', () => {
    const stat =
      '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 7163 0 0 0 1234 567 0 0 20 0 11 0 3457 1163530240 22814 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 0 0 0';
    expect(parseStat(stat)).toEqual({ utimeTicks: 1234, stimeTicks: 567, numThreads: 11 });
    expect(() => parseStat('garbage')).toThrow();
  });

  it('reads VmRSS and VmHWM in bytes', () => {
    const status = 'Name:\tnode\nVmPeak:\t 1200 kB\nVmHWM:\t   90000 kB\nVmRSS:\t   81920 kB\nThreads:\t11\n';
    expect(parseStatus(status)).toEqual({ rssBytes: 81920 * 1024, hwmBytes: 90000 * 1024 });
    expect(() => parseStatus('Name:\tx\n')).toThrow(/VmRSS/);
  });

  it.skipIf(!existsSync('/proc/self/stat'))('samples this process', () => {
    const p = readProc(process.pid);
    expect(p.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(p.cpuSeconds).toBeGreaterThan(0);
  });
});

describe('edit markers', () => {
  it('embeds the send time into a prepared update and finds it again, also in merged updates', () => {
    const prefix = new Uint8Array([4, 0x72, 0x6f, 0x6f, 0x6d]); // varString "room", as Hocuspocus frames
    const w = new EditWriter(prefix, 'k');
    const a = w.prepare(7);
    const b = w.prepare(8);
    stamp(a, 123_456_789);
    stamp(b, 123_456_999);
    expect(parseMarkers(a.frame.toString('latin1'))).toEqual([{ editId: 7, sentMicros: 123_456_789 }]);
    // The stamped frame still carries a valid update.
    const payload = (f: Buffer) => f.subarray(prefix.length + 3);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, payload(a.frame));
    expect(doc.getMap('bench').get('k')).toContain(markerText(7, 123_456_789));
    const merged = Buffer.from(Y.mergeUpdates([payload(a.frame), payload(b.frame)]));
    expect(parseMarkers(merged.toString('latin1')).map((m) => m.editId).sort()).toEqual([7, 8]);
    w.destroy();
  });

  it('tallies lost and duplicate deliveries', () => {
    const l = new EditLedger(4);
    const a = l.add(1, 3, 0);
    const b = l.add(1, 3, 0);
    l.add(1, 3, 0); // never sent: not counted
    l.sentAt[a] = 1;
    l.sentAt[b] = 2;
    l.received[a] = 3;
    l.received[b] = 1;
    expect(l.tally()).toEqual({ sent: 2, expected: 6, received: 4, lost: 2, duplicates: 0 });
  });
});

describe('result rendering', () => {
  const w: WorkloadResult = {
    id: 'W1-R500',
    title: 'W1 fan-out, R = 500',
    description: 'one room',
    params: { rooms: 1 },
    columns: [
      { key: 'p99', label: 'p99 ms', format: 'ms', better: 'lower' },
      { key: 'deliveries', label: 'deliveries', format: 'int' },
    ],
    servers: {
      kith: { p99: 5, deliveries: 200000 },
      hocuspocus: { p99: 10, deliveries: 200000 },
      ywebsocket: { p99: 20, deliveries: 199999 },
    },
    curves: { kith: [1, 2, 3, 4, 5, 6, 7], hocuspocus: [2, 3, 4, 5, 10, 11, 12], ywebsocket: [1, 2, 3, 9, 20, 30, 40] },
    targets: [
      { key: 'p99', op: '<=', value: 7, label: 'p99 ≤ 7 ms' },
      { key: 'p99', op: '<=', value: 0.4, relativeTo: 'hocuspocus', label: 'p99 ≤ 0.4 × Hocuspocus' },
    ],
    notes: ['a note'],
  };

  it('renders a row per server and Kith/anchor ratios', () => {
    const t = renderTable(w.columns, w.servers);
    const lines = t.split('\n');
    expect(lines[0]).toBe('| server | p99 ms | deliveries |');
    expect(lines).toContain('| Kith | 5.00 | 200,000 |');
    expect(lines).toContain('| Hocuspocus | 10.0 | 200,000 |');
    expect(lines).toContain('| *Kith / Hocuspocus* | 0.50× |  |');
    expect(lines).toContain('| *Kith / y-websocket ref* | 0.25× |  |');
  });

  it('checks targets relative to the best anchor, and shows the limit and the ratio at a glance', () => {
    const best: WorkloadResult = {
      ...w,
      targets: [
        { key: 'p99', op: '<=', value: 0.5, relativeTo: 'best-anchor', label: 'p99 ≤ 0.5× the best anchor' },
        { key: 'p99', op: '<=', value: 0.4, relativeTo: 'best-anchor', label: 'p99 ≤ 0.4× the best anchor' },
      ],
    };
    const checks = checkTargets(best);
    expect(checks.map((c) => [c.anchor, c.threshold, c.pass])).toEqual([
      ['hocuspocus', 5, true],
      ['hocuspocus', 4, false],
    ]);
    const glance = renderTargetSummary([best]);
    expect(glance).toContain('| W1-R500 | p99 ≤ 0.5× the best anchor | 5.00 | 5.00 | 0.50× Hocuspocus | 10.0 | 20.0 | — | — | ✅ |');
    expect(glance).toContain('| W1-R500 | p99 ≤ 0.4× the best anchor | 5.00 | 4.00 | 0.50× Hocuspocus | 10.0 | 20.0 | — | — | ❌ |');
  });

  it('checks targets, absolute and relative', () => {
    expect(checkTargets(w).map((c) => c.pass)).toEqual([true, false]);
    expect(formatValue(Infinity, 'ms')).toBe('timeout');
    expect(formatValue(null, 'ms')).toBe('—');
    expect(formatValue(1234.4, 'int')).toBe('1,234');
  });

  it('renders the report and the chart', () => {
    const md = renderMarkdown(
      {
        meta: {
          mode: 'quick',
          startedAt: '2026-01-01T00:00:00Z',
          wallSeconds: 60,
          node: 'v20.20.2',
          cpu: 'test cpu',
          cores: 2,
          memGiB: 24,
          loadAvgStart: [0.1, 0.1, 0.1],
          loadAvgEnd: [0.2, 0.1, 0.1],
          git: 'abc',
          versions: { yjs: '13.6.33' },
          servers: ['kith', 'hocuspocus', 'ywebsocket'],
          substitutions: [],
          argv: [],
        },
        workloads: [w],
      },
      'chart.svg',
    );
    expect(md).toContain('## W1 fan-out, R = 500');
    expect(md).toContain('✅ p99 ≤ 7 ms: 5.00');
    expect(md).toContain('❌ p99 ≤ 0.4 × Hocuspocus: 5.00 (limit 4.00 = 0.4× Hocuspocus)');
    expect(md).toContain('![latency percentiles](chart.svg)');
    const svg = renderChart([w]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });

  it('summarizes a CPU profile by self time', () => {
    const s = summarizeCpuProfile({
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
        { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
        { id: 3, callFrame: { functionName: 'send', url: 'file:///x/node_modules/ws/lib/sender.js', lineNumber: 9 } },
        { id: 4, callFrame: { functionName: 'committed', url: 'file:///w/packages/server/dist/sync/room.js', lineNumber: 99 } },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 3, 3, 4, 2],
      timeDeltas: [1000, 1000, 2000, 1000, 5000],
    });
    expect(s.idleMs).toBe(6);
    expect(s.top[0]).toMatchObject({ name: 'send', where: 'ws/lib/sender.js:10', selfMs: 3, pct: 75 });
    expect(s.byPackage.map((p) => p.name)).toEqual(['ws', '@kith/server sync/room']);
  });
});

describe('W8 CalDAV helpers', () => {
  it('generates the calendar it describes: one-offs, and weekly series with a moved and a cancelled occurrence', () => {
    const data = caldavBenchCalendar(50);
    expect(data).toMatchObject({ events: 50, recurring: 5, components: 55 });
    expect(data.ics.match(/^BEGIN:VEVENT\r$/gm)).toHaveLength(55);
    expect(new Set(data.ics.match(/^UID:.*$/gm)).size).toBe(50);
    expect(data.ics.match(/^RRULE:FREQ=WEEKLY;COUNT=20\r$/gm)).toHaveLength(5);
    expect(data.ics.match(/^RECURRENCE-ID:/gm)).toHaveLength(5);
    expect(data.ics.match(/^EXDATE:/gm)).toHaveLength(5);
    expect(caldavBenchCalendar(50).ics).toBe(data.ics);
  });

  it('reads hrefs, etags and bare statuses from a multistatus whatever the namespace prefixes', () => {
    const radicaleStyle = `<?xml version='1.0' encoding='utf-8'?><multistatus xmlns="DAV:"><response><href>/u/c/a%40b.ics</href><propstat><prop><getetag>"e1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response><response><href>/u/c/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response><sync-token>t2</sync-token></multistatus>`;
    const prefixed = `<d:multistatus xmlns:d="DAV:"><d:response><d:href>/dav/x.ics</d:href><d:propstat><d:prop><d:getetag>W/&quot;7&quot;</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`;
    expect(parseMultistatus(radicaleStyle)).toEqual([
      { href: '/u/c/a@b.ics', etag: '"e1"', status: null },
      { href: '/u/c/gone.ics', etag: null, status: 404 },
    ]);
    expect(parseMultistatus(prefixed)).toEqual([{ href: '/dav/x.ics', etag: 'W/"7"', status: null }]);
  });
});
