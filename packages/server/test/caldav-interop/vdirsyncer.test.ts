/**
 * Debian's vdirsyncer (0.19), a two-way sync nobody here wrote, pairs the server's calendars
 * (found from the bare server address through /.well-known/caldav) with a local folder of .ics
 * files, against Debian's Radicale (the reference) and against Kith, in the same steps:
 * first sync; a local edit, a new local file and a server-side edit, synced both ways; an edit
 * on both sides of one event (reported as a conflict, then resolved with "a wins"); syncs until
 * settled (Kith's rewritten objects are re-read once); and an upload vdirsyncer names <uuid>.ics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireServices } from '@kith/test-support';
import { Vdirsyncer } from './clients.js';
import { kithTarget, radicaleTarget, type DavTarget } from './targets.js';
import { missingTools } from './tools.js';

const missing = missingTools({ radicale: true, vdirsyncer: true });
if (missing) {
  const message = `vdirsyncer interop tests ${missing}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(message);
  console.warn(message);
}

/** Lines where vdirsyncer says it moved an item (copy, update or delete, either direction). */
const transfers = (output: string): string[] => output.split('\n').filter((l) => /^(Copying|Updating|Deleting)/.test(l.trim()));

describe.skipIf(Boolean(missing)).each([
  ['Radicale', radicaleTarget],
  ['Kith', kithTarget],
] as const)('vdirsyncer two-way sync against %s', (name, start) => {
  let target: DavTarget;
  let vdir: Vdirsyncer;
  beforeAll(async () => {
    target = await start();
    vdir = await Vdirsyncer.create(target);
  }, 60_000);
  afterAll(async () => {
    await vdir?.close();
    await target?.close();
  });

  it('discovers the calendar from the server address and copies every event into the folder', async () => {
    const discovered = await vdir.discover();
    expect(discovered.code, discovered.stderr).toBe(0);
    expect(discovered.stderr).toMatch(/"Family"/);
    const first = await vdir.sync();
    expect(first.code, first.stderr).toBe(0);
    expect(await vdir.titles()).toEqual(['Dentist', 'School holiday', 'Swimming']);
    expect(await target.titles()).toEqual(['Dentist', 'School holiday', 'Swimming']);
  }, 60_000);

  it('carries a local edit and a new local file to the server and a server-side edit to the folder', async () => {
    await vdir.renameLocally('Dentist', 'Dentist (moved to Friday)');
    // A UID vdirsyncer takes as the file's name on the server too (letters, digits, "_.-+" only).
    await vdir.addLocally('vdir-new.interop-test', 'Book club', '20260318T180000Z');
    await target.rename('Swimming', 'Swimming lessons');
    const synced = await vdir.sync();
    expect(synced.code, synced.stderr).toBe(0);
    const expected = ['Book club', 'Dentist (moved to Friday)', 'School holiday', 'Swimming lessons'];
    expect(await target.titles()).toEqual(expected);
    expect(await vdir.titles()).toEqual(expected);
  }, 60_000);

  it('reports an event edited on both sides as a conflict, changing neither, then resolves it with "a wins"', async () => {
    await vdir.renameLocally('School holiday', 'Holiday (edited in the folder)');
    await target.rename('School holiday', 'Holiday (edited on the server)');
    const conflicted = await vdir.sync();
    expect(conflicted.code).not.toBe(0);
    expect(conflicted.stderr).toMatch(/conflict/i);
    expect(await vdir.titles()).toContain('Holiday (edited in the folder)');
    expect(await target.titles()).toContain('Holiday (edited on the server)');

    await vdir.writeConfig('"a wins"');
    const resolved = await vdir.sync();
    expect(resolved.code, resolved.stderr).toBe(0);
    const expected = ['Book club', 'Dentist (moved to Friday)', 'Holiday (edited in the folder)', 'Swimming lessons'];
    expect(await target.titles()).toEqual(expected);
    expect(await vdir.titles()).toEqual(expected);
  }, 60_000);

  it('settles: after re-reading what the server rewrote, a sync has nothing left to move', async () => {
    const settle = await vdir.sync();
    expect(settle.code, settle.stderr).toBe(0);
    const moved = transfers(settle.stderr + settle.stdout);
    if (name === 'Radicale') {
      // Radicale stores the uploaded bytes and answers the PUT with their ETag.
      expect(moved).toEqual([]);
    } else {
      // Kith stores the event, not the bytes, and answers a PUT with no ETag (RFC 4791 §5.3.4,
      // RFC 7231 §4.3.4); vdirsyncer then downloads the rewritten object once. Only downloads.
      for (const line of moved) expect(line).toMatch(/^Copying \(updating\) item \S+ to family_local\//);
    }
    const again = await vdir.sync();
    expect(again.code, again.stderr).toBe(0);
    expect(transfers(again.stderr + again.stdout)).toEqual([]);
    const expected = ['Book club', 'Dentist (moved to Friday)', 'Holiday (edited in the folder)', 'Swimming lessons'];
    expect(await target.titles()).toEqual(expected);
    expect(await vdir.titles()).toEqual(expected);
  }, 60_000);

  // vdirsyncer names an upload `<random uuid>.ics` whenever the UID has a character outside
  // [A-Za-z0-9_.+-] — any UID with "@", as Google's and most others' have; RFC 4791 ties no
  // resource name to the UID, and Kith keeps the name (object-names.ts).
  it('uploads a new event whose UID is not a safe file name (vdirsyncer names it <uuid>.ics)', async () => {
    await vdir.addLocally('vdir-at@interop.test', 'Chess club', '20260319T180000Z');
    const synced = await vdir.sync();
    expect(synced.code, synced.stderr).toBe(0);
    expect(await target.titles()).toContain('Chess club');
    const again = await vdir.sync();
    expect(again.code, again.stderr).toBe(0);
    if (name === 'Radicale') {
      expect(transfers(again.stderr + again.stdout)).toEqual([]);
    } else {
      // As in the test above: Kith's rewritten object (no ETag after PUT) is downloaded once.
      expect(transfers(again.stderr + again.stdout)).toEqual([expect.stringMatching(/^Copying \(updating\) item vdir-at@interop\.test to family_local\//)]);
      const settled = await vdir.sync();
      expect(transfers(settled.stderr + settled.stdout)).toEqual([]);
    }
    expect(await vdir.titles()).toContain('Chess club');
  }, 60_000);
});
