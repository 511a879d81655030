/**
 * W8 CalDAV: one calendar of `events` events (a tenth of them weekly series with a moved and a
 * cancelled occurrence, `caldav-data.ts`) loaded into Kith (its ICS import into a room) and into
 * Debian's Radicale (its collection upload), then the three things a phone's calendar does, timed
 * the same way against both, one server at a time:
 *   - initial full sync: PROPFIND depth 1 (etags) + calendar-multiget of every object in batches of 100;
 *   - incremental sync after one change: one object is re-titled over CalDAV (PUT, not timed), then
 *     sync-collection from the previous token + calendar-multiget of what it names (timed);
 *   - a month's calendar-query (June 2026, VEVENT time-range, with calendar-data).
 * Each with p50/p99 over its repetitions and the server's CPU per operation (utime + stime of the
 * server process from /proc over the repetitions ÷ repetitions).
 */
import path from 'node:path';
import { caldavBenchCalendar } from '../caldav-data.js';
import { DavClient, type DavAccount } from '../dav-client.js';
import type { Logger } from '../log.js';
import type { ProcSample } from '../proc.js';
import { radicaleVersion, startRadicale } from '../radicale.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { openSession, startServer } from '../servers.js';
import { summarize } from '../stats.js';

export interface CaldavSpec {
  events: number;
  fullReps: number;
  incrementalReps: number;
  monthReps: number;
  targets?: Target[];
}

const CALENDAR = 'W8 calendar';

const COLUMNS: Column[] = [
  { key: 'fullP50', label: 'full sync p50 ms', format: 'ms', better: 'lower' },
  { key: 'fullP99', label: 'full sync p99 ms', format: 'ms', better: 'lower' },
  { key: 'fullCpuMs', label: 'full sync: server CPU ms', format: 'ms', better: 'lower' },
  { key: 'incP50', label: 'incremental p50 ms', format: 'ms', better: 'lower' },
  { key: 'incP99', label: 'incremental p99 ms', format: 'ms', better: 'lower' },
  { key: 'incCpuMs', label: 'incremental: server CPU ms', format: 'ms', better: 'lower' },
  { key: 'monthP50', label: 'month query p50 ms', format: 'ms', better: 'lower' },
  { key: 'monthP99', label: 'month query p99 ms', format: 'ms', better: 'lower' },
  { key: 'monthCpuMs', label: 'month query: server CPU ms', format: 'ms', better: 'lower' },
  { key: 'objects', label: 'objects', format: 'int' },
  { key: 'monthObjects', label: 'objects in June', format: 'int' },
];

interface DavServer {
  name: 'kith' | 'radicale';
  client: DavClient;
  calendar: string;
  proc(): ProcSample;
  stop(): Promise<void>;
}

async function kithServer(dir: string, ics: string): Promise<DavServer> {
  const server = await startServer('kith', { dir });
  try {
    const session = await openSession(server);
    const headers = { authorization: `Bearer ${session.token}` };
    const room = await fetch(server.httpUrl + '/rooms', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: CALENDAR }) });
    if (room.status !== 201) throw new Error(`kith create room: ${room.status} ${await room.text()}`);
    const { roomId } = (await room.json()) as { roomId: string };
    const imported = await fetch(`${server.httpUrl}/rooms/${roomId}/import`, { method: 'POST', headers: { ...headers, 'content-type': 'text/calendar' }, body: ics });
    if (imported.status !== 200) throw new Error(`kith import: ${imported.status} ${await imported.text()}`);
    const pw = await fetch(server.httpUrl + '/users/me/app-passwords', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'bench' }) });
    if (pw.status !== 201) throw new Error(`kith app password: ${pw.status} ${await pw.text()}`);
    const { password } = (await pw.json()) as { password: string };
    const client = new DavClient({ origin: server.httpUrl, username: 'benchuser', password });
    return { name: 'kith', client, calendar: await client.discover(CALENDAR), proc: () => server.proc(), stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function radicaleServer(dir: string, ics: string): Promise<DavServer> {
  const account: Omit<DavAccount, 'origin'> = { username: 'benchuser', password: 'bench-password-correct-horse' };
  const radicale = await startRadicale(dir, { [account.username]: account.password });
  try {
    const client = new DavClient({ ...account, origin: radicale.origin });
    const collection = `/${account.username}/w6/`;
    // Radicale's upload: a PUT of a whole VCALENDAR onto a collection makes one item per UID.
    const put = await client.request('PUT', collection, ics);
    if (put.status >= 300) throw new Error(`radicale upload: ${put.status} ${put.text.slice(0, 300)}`);
    const named = await client.request('PROPPATCH', collection, `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>${CALENDAR}</D:displayname></D:prop></D:set></D:propertyupdate>`);
    if (named.status !== 207) throw new Error(`radicale displayname: ${named.status}`);
    return { name: 'radicale', client, calendar: await client.discover(CALENDAR), proc: () => radicale.proc(), stop: () => radicale.stop() };
  } catch (err) {
    await radicale.stop();
    throw err;
  }
}

interface Timed {
  ms: number[];
  cpuMsPerOp: number;
}

/** Runs `op` `reps` times (after `prepare`, untimed, each time), timing each and the server's CPU over all. */
async function timed(server: DavServer, reps: number, op: (i: number) => Promise<void>, prepare?: (i: number) => Promise<void>): Promise<Timed> {
  const ms: number[] = [];
  let cpu = 0;
  for (let i = 0; i < reps; i++) {
    if (prepare) await prepare(i);
    const before = server.proc().cpuSeconds;
    const t0 = performance.now();
    await op(i);
    ms.push(performance.now() - t0);
    cpu += server.proc().cpuSeconds - before;
  }
  return { ms, cpuMsPerOp: (cpu * 1000) / reps };
}

async function measure(server: DavServer, spec: CaldavSpec, log: Logger): Promise<Figures> {
  const { client, calendar } = server;
  let objects = 0;
  const full = await timed(server, spec.fullReps, async () => {
    const members = await client.members(calendar);
    objects = await client.multiget(calendar, members.map((m) => m.href));
    if (objects !== members.length) throw new Error(`${server.name}: multiget returned ${objects} of ${members.length} objects`);
  });
  log(`  W8 ${server.name}: full sync of ${objects} objects, median ${summarize(full.ms).p50.toFixed(0)} ms`);

  const hrefs = (await client.members(calendar)).map((m) => m.href);
  let token = await client.syncToken(calendar);
  const inc = await timed(
    server,
    spec.incrementalReps,
    async () => {
      const delta = await client.syncCollection(calendar, token);
      token = delta.token;
      const changed = delta.changed.filter((m) => m.status !== 404).map((m) => m.href);
      if (changed.length !== 1) throw new Error(`${server.name}: sync-collection named ${delta.changed.length} members after one change`);
      await client.multiget(calendar, changed);
    },
    (i) => client.retitle(hrefs[(i * 37) % hrefs.length]!, `Changed ${i}`),
  );

  let monthObjects = 0;
  const month = await timed(server, spec.monthReps, async () => {
    monthObjects = await client.timeRange(calendar, '20260601T000000Z', '20260701T000000Z');
  });

  const f = summarize(full.ms);
  const n = summarize(inc.ms);
  const m = summarize(month.ms);
  return {
    fullP50: f.p50,
    fullP99: f.p99,
    fullCpuMs: full.cpuMsPerOp,
    incP50: n.p50,
    incP99: n.p99,
    incCpuMs: inc.cpuMsPerOp,
    monthP50: m.p50,
    monthP99: m.p99,
    monthCpuMs: month.cpuMsPerOp,
    objects,
    monthObjects,
  };
}

export async function runCaldav(spec: CaldavSpec, runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const data = caldavBenchCalendar(spec.events);
  const notes: string[] = [];
  const servers: WorkloadResult['servers'] = {};
  const starters: Array<[DavServer['name'], () => Promise<DavServer>]> = [['kith', () => kithServer(path.join(runDir, 'w6-kith'), data.ics)]];
  const radicale = radicaleVersion();
  if (radicale) starters.push(['radicale', () => radicaleServer(path.join(runDir, 'w6-radicale'), data.ics)]);
  else notes.push('Radicale is not installed (apt-get install radicale): Kith ran alone.');
  for (const [name, start] of starters) {
    let server: DavServer | undefined;
    try {
      server = await start();
      servers[name] = await measure(server, spec, log);
    } catch (err) {
      log(`  W8 ${name}: FAILED: ${(err as Error).message}`);
      notes.push(`${name === 'kith' ? 'Kith' : 'Radicale'} failed: ${(err as Error).message.slice(0, 300)}`);
    } finally {
      await server?.stop();
    }
  }
  if (radicale) notes.push(`Radicale ${radicale} (Debian), filesystem storage, its defaults otherwise; Kith: kith-server with its defaults.`);
  if (!servers.kith) throw new Error(notes.join(' '));
  return {
    id: 'W8',
    title: 'W8 CalDAV (Kith and Radicale)',
    description: `One calendar of ${data.events.toLocaleString('en-US')} events (${data.recurring} weekly series of 20, each with one moved and one cancelled occurrence; ${data.components.toLocaleString('en-US')} VEVENTs) loaded into both servers. Full sync = PROPFIND depth 1 + calendar-multiget of all in batches of 100 (${spec.fullReps}×); incremental = sync-collection from the last token + multiget of the one changed object, after a PUT that re-titles one event (${spec.incrementalReps}×); month = calendar-query with a June 2026 time-range and calendar-data (${spec.monthReps}×). CPU = the server process's utime + stime per operation.`,
    params: { events: spec.events, fullReps: spec.fullReps, incrementalReps: spec.incrementalReps, monthReps: spec.monthReps },
    columns: COLUMNS,
    servers,
    targets: spec.targets,
    notes,
    wallSeconds: (performance.now() - started) / 1000,
  };
}
