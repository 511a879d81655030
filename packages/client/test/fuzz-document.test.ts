/**
 * Fuzzing the room's document (issue 11): a stock y-websocket client writes random values into
 * every field the model stores — event fields, the who/alerts/exdates/rdates sets, the ov and segs
 * override maps, the room map, the events map itself — with wrong types (numbers, booleans, nested
 * maps and arrays, Y.Text), huge strings, control characters, lone surrogates, invalid dates,
 * invalid rules, unknown zones and missing fields. After every round, every reader must answer
 * without a 500 or a throw: REST (occurrences with paging, one event), the /live socket, the ICS
 * feed, and @kith/client reading the same room.
 *
 * Replay a run with KITH_FUZZ_SEED=<seed> (and KITH_FUZZ_ROUNDS=<n>); the seed is printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { type KithClient } from '../src/index.js';
import { makeClient, signUp, waitFor } from './helpers/clients.js';
import { Rng } from '@kith/test-support';
import { startServer, type TestServer } from './helpers/server.js';

const SEED = Number(process.env.KITH_FUZZ_SEED ?? 20261203);
const ROUNDS = Number(process.env.KITH_FUZZ_ROUNDS ?? 60);

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ limits: { updatesPerSecond: 100_000, updatesBurst: 100_000 } });
});
afterAll(async () => {
  await t?.close();
});

// ---- values

const ZONES = ['Europe/Berlin', 'UTC', 'America/New_York', 'Pacific/Apia', 'Pacific/Kiritimati', 'Mars/Olympus', '', '+01:00', 'Etc/GMT+12', 'europe/berlin', 'Europe/Berlin\r\nX-EVIL:1', 'A'.repeat(300)];
const WHENS = [
  '2026-03-04T09:00', '2026-03-04', '2026-03-29T02:30', '2026-10-25T02:30', '2026-02-30', '2026-02-29T10:00',
  '9999-12-31T23:30', '9999-12-31', '0000-01-01', '0001-01-01T00:00', '-271821-04-20', '+275760-09-13T00:00',
  '2026-03-04T25:00', '2026-3-4', 'yesterday', '', '2026-03-04T09:00:00.123456789', '2026-03-04T09:00Z',
];
const DURATIONS = ['PT1H', 'PT30M', 'P1D', 'P3D', 'PT0S', '-PT1H', 'P1Y', 'P2W', 'PT99999999H', 'P400000D', 'PT0.5S', 'garbage', ''];
const RULES = [
  'FREQ=DAILY', 'FREQ=WEEKLY;BYDAY=TU,TH', 'FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29',
  'FREQ=DAILY;COUNT=3', 'FREQ=DAILY;UNTIL=20260310T000000Z', 'FREQ=DAILY;UNTIL=19000101', 'FREQ=DAILY;INTERVAL=1000',
  'FREQ=SECONDLY', 'FREQ=HOURLY', 'FREQ=DAILY;COUNT=0', 'FREQ=DAILY;BYDAY=XX', 'RRULE:FREQ=WEEKLY', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=DAILY;COUNT=10000', '', 'x'.repeat(600), 'FREQ=DAILY;UNTIL=99991231',
];
const KEYS = ['2026-03-04', '2026-03-05', '2026-03-10', '2026-02-30', '9999-12-31', 'not-a-date', '', '\ud800', '2026-03-04|title'];
const OV_FIELDS = ['title', 'description', 'location', 'start', 'duration', 'participants', 'color', 'category', 'cancelled', 'tz', 'endTz', 'reminders', 'rrule', 'bogus'];
const FIELDS = ['title', 'description', 'location', 'start', 'duration', 'tz', 'endTz', 'who', 'color', 'category', 'alerts', 'rrule', 'exdates', 'rdates', 'ov', 'segs', 'deleted', 'createdBy', 'createdAt', 'updatedBy', 'updatedAt', 'unknownField'];

interface Tally {
  values: number;
  kinds: Map<string, number>;
}

function strange(r: Rng, tally: Tally): string {
  const kind = r.pick(['empty', 'huge', 'control', 'surrogate', 'emoji', 'ics', 'json', 'plain', 'long']);
  tally.kinds.set(`string:${kind}`, (tally.kinds.get(`string:${kind}`) ?? 0) + 1);
  switch (kind) {
    case 'empty':
      return '';
    case 'huge':
      return 'h'.repeat(r.int(10_000, 60_000));
    case 'control':
      return 'a\u0000b\u0007c\r\nd\u001b[31m\u2028\u2029';
    case 'surrogate':
      return r.pick(['\ud800', 'x\udfffy', '\udc00\ud800']);
    case 'emoji':
      return '👨‍👩‍👧‍👦 Fête 🎂 שלום';
    case 'ics':
      return 'x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:injected\r\nEND:VCALENDAR';
    case 'json':
      return '"}]},{"x":';
    case 'long':
      return 'word '.repeat(r.int(100, 2_000));
    default:
      return `value ${r.int(0, 1e6)}`;
  }
}

/** Any value Yjs can store, nested types included. */
function anything(r: Rng, tally: Tally, depth = 0): unknown {
  const kind = r.pick(['number', 'float', 'nan', 'bool', 'null', 'string', 'array', 'object', 'ymap', 'yarray', 'ytext', 'bytes', 'bigint-ish']);
  tally.kinds.set(kind, (tally.kinds.get(kind) ?? 0) + 1);
  switch (kind) {
    case 'number':
      return r.int(-1e9, 1e9);
    case 'float':
      return r.pick([0.5, -0, 1e308, -1e-308, Number.MAX_SAFE_INTEGER]);
    case 'nan':
      return r.pick([NaN, Infinity, -Infinity]);
    case 'bool':
      return r.chance(0.5);
    case 'null':
      return null;
    case 'string':
      return strange(r, tally);
    case 'array':
      return depth > 2 ? [] : Array.from({ length: r.int(0, 4) }, () => anything(r, tally, depth + 1));
    case 'object':
      return depth > 2 ? {} : { at: anything(r, tally, depth + 1), by: anything(r, tally, depth + 1), before: anything(r, tally, depth + 1) };
    case 'ymap': {
      const m = new Y.Map<unknown>();
      if (depth < 2) for (let i = r.int(0, 3); i > 0; i--) m.set(r.pick([...KEYS, 'k']), anything(r, tally, depth + 1));
      return m;
    }
    case 'yarray': {
      const a = new Y.Array<unknown>();
      if (depth < 2) a.push([anything(r, tally, depth + 1), 'x']);
      return a;
    }
    case 'ytext':
      return new Y.Text(strange(r, tally));
    case 'bytes':
      return new Uint8Array([0, 255, 1]);
    default:
      return r.int(0, 2 ** 31);
  }
}

/** A value for one field: mostly of the field's own kind (valid or nearly), sometimes anything at all. */
function valueFor(field: string, r: Rng, tally: Tally): unknown {
  tally.values++;
  if (r.chance(0.25)) return anything(r, tally);
  switch (field) {
    case 'start':
      return r.pick(WHENS);
    case 'duration':
      return r.pick(DURATIONS);
    case 'tz':
    case 'endTz':
      return r.chance(0.15) ? null : r.pick(ZONES);
    case 'rrule':
      return r.chance(0.15) ? null : r.pick(RULES);
    case 'who':
    case 'exdates':
    case 'rdates': {
      const m = new Y.Map<unknown>();
      for (let i = r.int(0, 6); i > 0; i--) m.set(field === 'who' ? r.pick(['kim', 'lee', strange(r, tally)]) : r.pick(KEYS), r.chance(0.8) ? true : anything(r, tally));
      return m;
    }
    case 'alerts': {
      const m = new Y.Map<unknown>();
      for (let i = r.int(0, 3); i > 0; i--) m.set(`a${i}`, { before: r.pick([10, -5, 1e12, NaN, '10']), for: r.pick([null, ['kim'], 'kim', [1, 2]]) });
      return m;
    }
    case 'ov':
    case 'segs': {
      const m = new Y.Map<unknown>();
      for (let i = r.int(0, 6); i > 0; i--) {
        const f = r.pick(OV_FIELDS);
        m.set(`${r.pick(KEYS)}|${f}`, f === 'start' ? r.pick(WHENS) : f === 'duration' ? r.pick(DURATIONS) : f === 'rrule' ? r.pick(RULES) : f === 'tz' ? r.pick(ZONES) : f === 'cancelled' ? r.chance(0.7) : anything(r, tally));
      }
      return m;
    }
    case 'deleted':
      return r.pick([null, { at: '2026-03-01T00:00:00Z', by: 'kim' }, { at: 5 }, 'yes']);
    case 'description':
      return r.chance(0.5) ? new Y.Text(strange(r, tally)) : strange(r, tally);
    default:
      return strange(r, tally);
  }
}

/** One round of writes: new events, changed and removed fields, and the room-level maps. */
function mutate(doc: Y.Doc, r: Rng, tally: Tally, round: number): void {
  const events = doc.getMap<unknown>('events');
  doc.transact(() => {
    for (let i = r.int(3, 10); i > 0; i--) {
      const ids = [...events.keys()];
      const roll = r.float();
      if (roll < 0.25 || ids.length === 0) {
        const ev = new Y.Map<unknown>();
        const id = r.chance(0.9) ? `ev-${round}-${i}` : r.pick(['', ' ', '\ud800', 'x'.repeat(300), '../../etc', 'a/b?c#d']);
        events.set(id, ev);
        ev.set('title', `Event ${round}.${i}`);
        ev.set('start', r.pick(WHENS.slice(0, 4)));
        ev.set('duration', 'PT1H');
        ev.set('tz', 'Europe/Berlin');
        ev.set('who', new Y.Map());
        ev.set('ov', new Y.Map());
        ev.set('segs', new Y.Map());
        for (let j = r.int(0, 4); j > 0; j--) {
          const f = r.pick(FIELDS);
          ev.set(f, valueFor(f, r, tally));
        }
      } else if (roll < 0.85) {
        const ev = events.get(r.pick(ids));
        if (!(ev instanceof Y.Map)) continue;
        const f = r.pick(FIELDS);
        if (r.chance(0.1)) ev.delete(f);
        else if ((f === 'ov' || f === 'segs' || f === 'who' || f === 'exdates') && ev.get(f) instanceof Y.Map && r.chance(0.6)) {
          // Into an existing nested map, as a device editing one occurrence would.
          const inner = ev.get(f) as Y.Map<unknown>;
          const fresh = valueFor(f, r, tally);
          if (fresh instanceof Y.Map) for (const [k, v] of fresh.entries()) inner.set(k, v instanceof Y.AbstractType ? String(k) : v);
        } else ev.set(f, valueFor(f, r, tally));
      } else if (roll < 0.93) {
        doc.getMap<unknown>('room').set(r.pick(['name', 'defaultTz', 'schema', 'other']), r.chance(0.5) ? r.pick(ZONES) : anything(r, tally));
        tally.values++;
      } else {
        events.set(`junk-${round}-${i}`, anything(r, tally));
        tally.values++;
      }
    }
  });
}

// ---- readers

interface Failure {
  round: number;
  reader: string;
  detail: string;
}

async function json(url: string, token: string): Promise<{ status: number; body: any; bytes: number }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, bytes: Buffer.byteLength(text) };
}

async function restToken(base: string, prefix: string): Promise<{ token: string; userId: string }> {
  const username = `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 32);
  const password = 'correct horse battery';
  const reg = await fetch(`${base}/users/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const { userId } = (await reg.json()) as { userId: string };
  const login = await fetch(`${base}/users/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return { token: ((await login.json()) as { token: string }).token, userId };
}

const sameState = (a: Y.Doc, b: Y.Doc): boolean => {
  const sa = Y.decodeStateVector(Y.encodeStateVector(a));
  const sb = Y.decodeStateVector(Y.encodeStateVector(b));
  return sa.size === sb.size && [...sa].every(([c, n]) => sb.get(c) === n);
};

const WINDOWS = [
  { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z', timeZone: 'Europe/Berlin' },
  { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', timeZone: 'Pacific/Apia' },
  { from: '9999-12-01T00:00:00Z', to: '9999-12-31T23:59:59Z', timeZone: 'UTC' },
  { from: '0001-01-01T00:00:00Z', to: '0001-03-01T00:00:00Z', timeZone: 'America/New_York' },
];

describe('fuzzing the room document', () => {
  it(`random values in every stored field never make REST, /live, the ICS feed or @kith/client answer 500 or throw (seed ${SEED})`, async () => {
    const started = Date.now();
    const owner = await restToken(t.url, 'fuzzowner');
    const roomRes = await fetch(`${t.url}/rooms`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` }, body: JSON.stringify({ name: 'Fuzz' }) });
    const { roomId } = (await roomRes.json()) as { roomId: string };
    const feedRes = await fetch(`${t.url}/rooms/${roomId}/feed`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` } });
    const feedUrl = ((await feedRes.json()) as { url: string }).url;

    // The writer: a stock WebsocketProvider, unmodified.
    const wsUrl = t.url.replace(/^http/, 'ws') + '/sync';
    const writer = new Y.Doc();
    const provider = new WebsocketProvider(wsUrl, roomId, writer, { params: { token: owner.token }, WebSocketPolyfill: WebSocket as any, disableBc: true, maxBackoffTime: 500 });
    // A second stock client: once it has what the writer wrote, the server has stored it.
    const echo = new Y.Doc();
    const echoProvider = new WebsocketProvider(wsUrl, roomId, echo, { params: { token: owner.token }, WebSocketPolyfill: WebSocket as any, disableBc: true, maxBackoffTime: 500 });

    // @kith/client, as a member of the room.
    const client: KithClient = makeClient(t.url);
    await signUp(client, 'fuzzreader');
    const invite = await fetch(`${t.url}/rooms/${roomId}/invites`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` }, body: JSON.stringify({ role: 'editor' }) });
    await client.rooms.acceptInvite(((await invite.json()) as { code: string }).code);
    const cal = await client.openCalendar(roomId, { timeZone: 'Europe/Berlin' });

    // The /live socket, joined to the room: it hears of every change.
    const live = new WebSocket(`${t.url.replace(/^http/, 'ws')}/live`);
    const liveMessages: any[] = [];
    let liveClose: { code: number; reason: string } | null = null;
    live.on('message', (data) => liveMessages.push(JSON.parse(data.toString())));
    live.on('close', (code, reason) => (liveClose = { code, reason: reason.toString() }));
    await new Promise((resolve, reject) => live.once('open', resolve).once('error', reject));
    live.send(JSON.stringify({ type: 'join_room', roomId, token: owner.token }));
    await waitFor(() => liveMessages.some((m) => m.type === 'joined'), 5000, 'live join');

    const failures: Failure[] = [];
    const feedFailures: Failure[] = [];
    const tally: Tally = { values: 0, kinds: new Map() };
    const r = new Rng(SEED);
    let pagesRead = 0;
    let skippedSeen = 0;
    let maxPageBytes = 0;
    try {
      await Promise.all([waitFor(() => provider.synced && echoProvider.synced, 10_000, 'providers synced'), cal.whenSynced(10_000)]);
      for (let round = 0; round < ROUNDS; round++) {
        const lap = Date.now();
        const laps: string[] = [];
        const mark = (what: string) => laps.push(`${what} ${Date.now() - lap} ms`);
        mutate(writer, r, tally, round);
        await waitFor(() => sameState(writer, echo), 15_000, `round ${round} stored`);
        const fail = (reader: string, detail: string) => failures.push({ round, reader, detail: detail.slice(0, 300) });

        mark('stored');
        // REST: one window's first pages, and single events.
        const w = r.pick(WINDOWS);
        let url: string | null = `${t.url}/rooms/${roomId}/events?${new URLSearchParams(w)}`;
        for (let page = 0; url && page < 2; page++) {
          const res = await json(url, owner.token);
          pagesRead++;
          maxPageBytes = Math.max(maxPageBytes, res.bytes);
          if (res.status !== 200) fail('REST occurrences', `${res.status} ${JSON.stringify(res.body)}`);
          else skippedSeen += res.body.skippedCount;
          url = res.status === 200 && res.body.nextUrl ? `${t.url}${res.body.nextUrl}` : null;
        }
        const ids = [...writer.getMap('events').keys()];
        for (let i = 0; i < 2 && ids.length > 0; i++) {
          const id = r.pick(ids);
          const res = await json(`${t.url}/rooms/${roomId}/events/${encodeURIComponent(id.replace(/[\ud800-\udfff]/g, '\ufffd'))}`, owner.token);
          if (res.status >= 500) fail('REST event', `${id.slice(0, 40)}: ${res.status} ${JSON.stringify(res.body)}`);
        }

        mark('REST');
        // The ICS feed. Its writer (ics-export.ts) is hardened separately; failures are kept apart.
        const feed = await fetch(feedUrl);
        const feedText = await feed.text();
        if (feed.status !== 200) feedFailures.push({ round, reader: 'ICS feed', detail: `${feed.status} ${feedText.slice(0, 200)}` });

        mark('feed');
        // /live: still open, no INTERNAL error, and it answers.
        live.send(JSON.stringify({ type: 'ping', requestId: round }));
        await waitFor(() => liveMessages.some((m) => m.type === 'pong' && m.requestId === round) || liveClose !== null, 10_000, `live pong ${round}`);
        if (liveClose) fail('/live', `closed ${JSON.stringify(liveClose)}`);
        for (const m of liveMessages.splice(0)) if (m.type === 'error') fail('/live', JSON.stringify(m));

        mark('live');
        // @kith/client over the same room, once it has the round's writes.
        await waitFor(() => sameState(writer, cal.doc), 15_000, `client synced round ${round}`);
        try {
          const window = { from: w.from, to: w.to };
          cal.listEvents({ includeDeleted: true });
          cal.listTrash();
          cal.occurrences(window);
          const page = cal.queryOccurrences(window, { limit: 50 });
          if (page.next) cal.queryOccurrences(window, { limit: 50, cursor: page.next });
          cal.doubleBookings(window, 'kim');
          cal.search('event');
          for (const id of ids.slice(-5)) {
            cal.getEvent(id);
            cal.occurrencesOf(id, window);
          }
        } catch (err) {
          fail('@kith/client', err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err));
        }
        mark('client');
        // A slow round is worth a look (replay it with the seed): say where the time went.
        if (Date.now() - lap > 5_000) console.log(`round ${round} (seed ${SEED}): ${laps.join(', ')}`);
      }
    } finally {
      provider.destroy();
      echoProvider.destroy();
      live.close();
      await client.close();
    }
    const kinds = [...tally.kinds].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(
      `document fuzz: seed ${SEED}, ${ROUNDS} rounds, ${tally.values} field values written (${kinds}); ` +
        `${pagesRead} occurrence pages read (largest ${maxPageBytes} bytes), ${skippedSeen} skipped-event reports; ` +
        `${failures.length} failures, ${feedFailures.length} feed failures, ${Date.now() - started} ms`,
    );
    expect(failures).toEqual([]);
    // The ICS feed must answer too; see the note above: a failure here names a bug in ics-export.ts.
    expect(feedFailures).toEqual([]);
  }, 120_000);
});
