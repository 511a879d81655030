/**
 * Two kith-server instances over one PostgreSQL database: rooms are created and edited on one (B),
 * whose notify module alone hears their commits, and B is SIGKILLed before their reminders fall due
 * and inside their change-notice windows. The other (A) must send them: the reminders of one room B
 * had looked at (A takes up the due time of B's saved look) and of one B changed and died before
 * looking at (A finds its log head moved with no look since), and each room's change notice (A takes
 * up the windows B left in notify_pending_changes). Without the surveys, A never heard of either
 * room and nothing was sent until some instance restarted.
 * Skipped with a clear message when PostgreSQL is absent (KITH_REQUIRE_SERVICES=1 fails instead).
 */
import pg from 'pg';
import { createEvent } from '@kith/model';
import { requireServices } from '@kith/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { createTestSchema, probePostgres } from '../helpers/postgres.js';
import { killAllServers } from '../helpers/process.js';
import { connectProvider, waitFor, waitForAsync, waitForSynced } from '../helpers/yjs-clients.js';
import { startNotifyProcess, startWebhookSink } from './harness.js';

const pgProbe = await probePostgres();
if (!pgProbe.available) {
  const msg = `notify take-over test needs PostgreSQL (${pgProbe.reason}): ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

let sink: Awaited<ReturnType<typeof startWebhookSink>> | undefined;
let db: pg.Client | undefined;
let dropSchema: (() => Promise<void>) | undefined;
afterAll(async () => {
  await killAllServers();
  await sink?.close();
  await db?.end();
  await dropSchema?.();
});

const wall = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe.skipIf(!pgProbe.available)('notify when the instance that heard a room dies', () => {
  it("another instance sends the room's reminders", async () => {
    sink = await startWebhookSink((key) => key.startsWith('rem:') || key.startsWith('chg:'));
    const { url: hook, keys: received } = sink;
    const { databaseUrl, drop } = await createTestSchema(pgProbe.available ? pgProbe.url : '');
    dropSchema = drop;
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const startInstance = () => startNotifyProcess(databaseUrl, hook, { KITH_NOTIFY_RESURVEY_MS: '1000', KITH_NOTIFY_CHANGE_WINDOW_MS: '20000' });
    const a = await startInstance();
    const b = await startInstance();
    const api = apiClient(b.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    // The first reminder falls due 40 s from now: time to set up both rooms and kill B.
    const base = Math.ceil(Date.now() / 1000) * 1000 + 40_000 + 60_000;
    const expected = new Set<string>();
    const addEvent = (doc: import('yjs').Doc, roomId: string, startMs: number, tag: string) => {
      const eventId = createEvent(
        doc,
        { title: tag, start: wall(startMs), end: wall(startMs + 600_000), tz: 'UTC', reminders: [{ id: tag, minutesBefore: 1 }] },
        { actor: mum.userId },
      );
      for (const user of [mum.userId, dad.userId]) expected.add(`rem:${roomId}:${eventId}:${new Date(startMs).toISOString()}:${tag}:${user}:webhook`);
    };
    const looks = async (roomId: string) => {
      const r = await db!.query<{ looked: string | null; head: string | null }>(
        `SELECT l.head AS looked, h.head FROM rooms r LEFT JOIN notify_room_looks l USING (room_id) LEFT JOIN doc_heads h USING (room_id) WHERE r.room_id = $1`,
        [roomId],
      );
      return { looked: r.rows[0]?.looked == null ? null : Number(r.rows[0].looked), head: Number(r.rows[0]?.head ?? 0) };
    };
    const pendingNotices = async (roomId: string) =>
      Number((await db!.query('SELECT COUNT(*) AS n FROM notify_pending_changes WHERE room_id = $1', [roomId])).rows[0].n);

    const rooms: string[] = [];
    const docs: import('yjs').Doc[] = [];
    const providers: ReturnType<typeof connectProvider>['provider'][] = [];
    for (const name of ['Looked at', 'Changed since']) {
      const roomId = await api.createRoom(mum.token, name);
      await api.addMember(mum.token, roomId, dad.token, 'editor');
      const { doc, provider } = connectProvider(b.wsUrl, roomId, mum.token);
      await waitForSynced(provider);
      addEvent(doc, roomId, base + rooms.length * 2_000, `r${rooms.length}`);
      rooms.push(roomId);
      docs.push(doc);
      providers.push(provider);
    }
    // B looked at both rooms (and saved the looks) after their edits, and holds their notices for dad.
    await waitForAsync(async () => {
      for (const roomId of rooms) {
        const { looked, head } = await looks(roomId);
        if (looked === null || looked !== head || head === 0 || (await pendingNotices(roomId)) === 0) return false;
      }
      return true;
    }, 15_000, "B's looks");
    // One more edit to the second room, and B dies before looking at it (a look comes 1 s after a commit).
    const before = (await looks(rooms[1]!)).head;
    addEvent(docs[1]!, rooms[1]!, base + 4_000, 'r2');
    await waitForAsync(async () => (await looks(rooms[1]!)).head > before, 5_000, 'the edit stored');
    await b.kill();
    for (const p of providers) p.destroy();
    const after = await looks(rooms[1]!);
    expect(after.looked).toBeLessThan(after.head); // B never saved a look of the last edit
    for (const roomId of rooms) expect(await pendingNotices(roomId)).toBeGreaterThan(0); // nor sent a notice
    expect(Date.now()).toBeLessThan(base - 60_000 - 5_000);

    const lastDue = base - 60_000 + 4_000;
    const notices = () => received.filter((k) => k.startsWith('chg:'));
    await waitFor(() => received.length - notices().length >= expected.size, lastDue - Date.now() + 20_000, 'every reminder from A');
    expect(received.filter((k) => k.startsWith('rem:')).sort()).toEqual([...expected].sort());
    // One notice of each room, to dad (mum made the changes), each once.
    expect(notices().map((k) => k.split(':').slice(1, 2).concat(k.split(':').slice(-2, -1)).join(' ')).sort()).toEqual(
      rooms.map((roomId) => `${roomId} ${dad.userId}`).sort(),
    );
    // Counted once the sender has settled the delivery, a moment after the webhook has it.
    let text = '';
    const sent = (kind: string) => Number(new RegExp(`^kith_notifications_sent_total\\{channel="webhook",kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    await waitForAsync(async () => {
      text = await (await fetch(`${a.url}/metrics`)).text();
      return sent('reminder') >= expected.size && sent('changes') >= rooms.length;
    }, 5_000, 'the deliveries counted').catch(() => undefined);
    expect(sent('reminder')).toBe(expected.size);
    expect(sent('changes')).toBe(rooms.length);
    await a.stop('SIGTERM');
  }, 120_000);
});
