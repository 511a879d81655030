/**
 * Debian's python3-caldav (0.11), a client nobody here wrote, runs one scenario unchanged against
 * Debian's Radicale (the reference server) and against Kith: discovery through the principal,
 * listing, a March time-range search over a series with an EXDATE and a moved occurrence, the
 * library's lookup by UID, create, update, sync-collection (initial, after changes, after a delete, the library's own
 * incremental sync, an unknown token) and delete. Each server must give the answers RFC 4791 and
 * RFC 6578 promise; where Kith's answers differ from Radicale's, the difference must be one the
 * README's interop table documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireServices } from '@kith/test-support';
import { runPythonCaldav, type CaldavScenario } from './clients.js';
import { SEED_MARCH_OCCURRENCES, SEED_UIDS } from './seed.js';
import { CALENDAR_NAME, kithTarget, radicaleTarget, type DavTarget } from './targets.js';
import { missingTools } from './tools.js';

const missing = missingTools({ radicale: true, caldav: true });
if (missing) {
  const message = `python3-caldav interop tests ${missing}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(message);
  console.warn(message);
}

const SEEDED = [SEED_UIDS.allDay, SEED_UIDS.single, SEED_UIDS.weekly];

/** What RFC 4791 / RFC 6578 promise this scenario, on any server. */
function expectConformingRun(run: CaldavScenario): void {
  expect(run.discovery).toMatchObject({ found: true });
  expect((run.discovery as { calendarNames: string[] }).calendarNames).toContain(CALENDAR_NAME);
  expect(run.components).toContain('VEVENT');
  expect(run.list).toEqual(SEEDED);
  // RFC 4791 §9.9: the series is returned because some occurrence overlaps March; expanded, it
  // shows the EXDATE and the moved occurrence.
  expect(run.marchExpanded).toEqual([...SEED_MARCH_OCCURRENCES].sort());
  expect(run.create).toMatchObject({ summary: 'Piano lesson' });
  expect(run.create).not.toHaveProperty('error');
  expect(run.update).toEqual({ summary: 'Piano lesson (moved room)' });
  expect(run.syncInitial).toEqual({ count: 4, hasToken: true });
  // RFC 6578 §3.5: exactly the members changed since the token.
  expect(run.syncAfterChange).toEqual({ changedUids: ['py-synced@interop.test', SEED_UIDS.single], tokenMoved: true });
  // A member deleted since the token is reported (as a 404 response), and nothing else changed.
  expect(run.syncAfterDelete).toEqual({ deletedCount: 1, live: [] });
  expect((run.syncHelper as { updated: string[] }).updated).toEqual(expect.arrayContaining(['py-helper@interop.test', SEED_UIDS.single]));
  // RFC 6578 §3.2: an unknown token is refused with 403 DAV:valid-sync-token.
  expect(run.syncUnknownToken).toBe('refused with 403');
  expect(run.delete).toBe('gone');
  expect(run.listAfter).toEqual(['py-helper@interop.test', ...SEEDED]);
  expect(run._tracebacks).toBeUndefined();
}

/**
 * Steps where Kith's answer differs from Radicale's, and why (the README's interop table says the
 * same). Everything else must be equal.
 */
const DOCUMENTED_DIFFERENCES: Record<string, string> = {
  discovery: 'principal URL: Radicale /<user>/, Kith /dav/principals/<userId>/ (names differ, the flow is the same)',
  components: 'Radicale offers VEVENT, VJOURNAL and VTODO; a Kith room holds events only (VEVENT)',
  create: 'object URL: both keep the client-chosen name; the server part of the URL differs',
};

describe.skipIf(Boolean(missing))('python3-caldav against Radicale and Kith', () => {
  const runs = new Map<string, CaldavScenario>();
  const targets: DavTarget[] = [];

  beforeAll(async () => {
    for (const start of [radicaleTarget, kithTarget]) {
      const target = await start();
      targets.push(target);
      runs.set(target.name, await runPythonCaldav(target));
      // KITH_INTEROP_DEBUG=1 prints each server's answers, to see a difference whole.
      if (process.env.KITH_INTEROP_DEBUG) console.log(target.name, JSON.stringify(runs.get(target.name), null, 1));
    }
  }, 240_000);
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.close()));
  });

  it('Radicale (the reference) answers the scenario as the RFCs say', () => {
    expectConformingRun(runs.get('Radicale')!);
  });

  it('Kith answers the scenario as the RFCs say', () => {
    expectConformingRun(runs.get('Kith')!);
  });

  it('Radicale finds an event by UID for python3-caldav’s event_by_uid (calendar-query prop-filter text-match)', () => {
    expect(runs.get('Radicale')!.uidLookup).toBe('Dentist');
  });

  // Kith answers calendar-query prop-filter text-match (RFC 4791 §9.7.2/§9.7.5; prop-filter.ts).
  it('Kith finds an event by UID for python3-caldav’s event_by_uid (calendar-query prop-filter text-match)', () => {
    expect(runs.get('Kith')!.uidLookup).toBe('Dentist');
  });

  it('Kith differs from Radicale only where the README documents it', () => {
    const kith = runs.get('Kith')!;
    const radicale = runs.get('Radicale')!;
    const differing = Object.keys({ ...kith, ...radicale }).filter((step) => JSON.stringify(kith[step]) !== JSON.stringify(radicale[step]));
    const undocumented = differing.filter((step) => !(step in DOCUMENTED_DIFFERENCES));
    expect(undocumented.map((step) => ({ step, kith: kith[step], radicale: radicale[step] }))).toEqual([]);
  });

  it('the Kith server held what the client did (seen through the REST API)', async () => {
    const kith = targets.find((t) => t.name === 'Kith')!;
    expect(await kith.titles()).toEqual(['Chess club', 'Dentist (Dr Ames)', 'School holiday', 'Swimming']);
  });
});
