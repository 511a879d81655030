/**
 * Debian's python3-caldav adding an alarm to an event, as a phone does (vobject adds a VALARM, the
 * library PUTs the whole object): Kith stores it as the phone owner's own reminder (REST shows it
 * `for` that user), and the library reads it back with the reminder's X-KITH-REMINDER-ID.
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireServices } from '@kith/test-support';
import { eventIdForUid } from '../../src/calendar/ics-import.js';
import { SEED_UIDS } from './seed.js';
import { CALENDAR_NAME, kithTarget, type KithTarget } from './targets.js';
import { missingTools, PYTHON } from './tools.js';

const missing = missingTools({ caldav: true });
if (missing) {
  const message = `python3-caldav alarms ${missing}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(message);
  console.warn(message);
}

const SCRIPT = fileURLToPath(new URL('./clients/add_alarm.py', import.meta.url));

describe.skipIf(Boolean(missing))('python3-caldav adds an alarm', () => {
  let kith: KithTarget;
  beforeAll(async () => {
    kith = await kithTarget();
  }, 60_000);
  afterAll(() => kith?.close());

  it('becomes the phone owner’s reminder and comes back with its id', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        PYTHON,
        [SCRIPT, kith.davUrl, kith.username, CALENDAR_NAME, SEED_UIDS.single],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', CALDAV_PASSWORD: kith.password }, timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`add_alarm.py: ${stderr.slice(-2000)}`)) : resolve(stdout)),
      );
    });
    const ev = await kith.event(eventIdForUid(SEED_UIDS.single));
    expect(ev.reminders).toEqual([{ id: expect.any(String), minutesBefore: 15, for: [kith.userId] }]);
    expect(JSON.parse(out)).toEqual([{ minutes: -15, id: ev.reminders[0]!.id }]);
  }, 120_000);
});
