/**
 * Offline merge through CalDAV, the thing no CalDAV server does: a phone moves an event over
 * CalDAV (python3-caldav, a whole-object PUT carrying the old title) while a web client that is
 * offline renames the same event in its own copy of the room. When the web client comes back,
 * both edits survive — in the room (REST), in the web client's document, and in what CalDAV
 * serves next. (A plain CalDAV store such as Radicale keeps whichever whole object was written
 * last, or refuses the stale one under If-Match; it has no fields to merge.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents, updateEvent } from '@kith/model';
import { requireServices } from '@kith/test-support';
import { connectProvider, waitFor, waitForSynced } from '../helpers/yjs-clients.js';
import { moveWithPythonCaldav, runPythonCaldav } from './clients.js';
import { SEED_UIDS } from './seed.js';
import { kithTarget, type KithTarget } from './targets.js';
import { missingTools } from './tools.js';

const missing = missingTools({ caldav: true });
if (missing) {
  const message = `offline merge through CalDAV ${missing}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(message);
  console.warn(message);
}

describe.skipIf(Boolean(missing))('offline merge through CalDAV', () => {
  let kith: KithTarget;
  beforeAll(async () => {
    kith = await kithTarget();
  }, 60_000);
  afterAll(() => kith?.close());

  it('a phone moving an event over CalDAV and an offline web client renaming it both survive', async () => {
    const web = connectProvider(kith.wsUrl, kith.roomId, kith.token);
    try {
      await waitForSynced(web.provider);
      const dentist = listEvents(web.doc).find((e) => e.uid === SEED_UIDS.single)!;
      expect(dentist).toMatchObject({ title: 'Dentist', start: '2026-03-10T10:00', tz: 'UTC' });
      const before = await kith.event(dentist.id);
      expect(before.startTime).toMatch(/^2026-03-10T10:00(:00)?(Z|\+00:00)$/);
      /** The REST view's instant for a UTC wall time `hh:mm` on 10 March, in the form it used above. */
      const restTime = (hhmm: string) => before.startTime.replace('10:00', hhmm);

      web.provider.disconnect();
      updateEvent(web.doc, dentist.id, { title: 'Dentist (Dr Ames)' }, { actor: kith.userId });

      // The phone still has the old title; it PUTs the whole object with only the time changed.
      const savedTitle = await moveWithPythonCaldav(kith, SEED_UIDS.single, '20260310T140000Z', '20260310T150000Z');
      expect(savedTitle).toBe('Dentist');
      const moved = await kith.event(dentist.id);
      expect(moved.startTime).toBe(restTime('14:00'));
      expect(moved.eventTitle).toBe('Dentist');

      web.provider.connect();
      await waitForSynced(web.provider);
      await waitFor(() => listEvents(web.doc).find((e) => e.id === dentist.id)?.start === '2026-03-10T14:00', 10_000, 'the phone’s move in the web client');
      expect(listEvents(web.doc).find((e) => e.id === dentist.id)).toMatchObject({ title: 'Dentist (Dr Ames)', start: '2026-03-10T14:00', end: '2026-03-10T15:00', tz: 'UTC' });

      let merged = await kith.event(dentist.id);
      for (let i = 0; i < 100 && merged.eventTitle !== 'Dentist (Dr Ames)'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        merged = await kith.event(dentist.id);
      }
      expect(merged).toMatchObject({ eventTitle: 'Dentist (Dr Ames)', startTime: restTime('14:00'), endTime: restTime('15:00') });

      // And the phone's next look (a CalDAV time-range search, as in the full scenario) shows both.
      const phone = await runPythonCaldav(kith);
      expect(phone.marchExpanded).toContain(`${SEED_UIDS.single} 2026-03-10T14:00 Dentist (Dr Ames)`);
    } finally {
      web.provider.destroy();
      web.doc.destroy();
    }
  }, 120_000);
});
