/**
 * Debian's vdirsyncer (0.19), a two-way sync nobody here wrote, pairs the server's calendars
 * (found from the bare server address through /.well-known/caldav) with a local folder of .ics
 * files, against Debian's Radicale (the reference) and against Kith, in the same steps:
 * first sync; a local edit, a new local file and a server-side edit, synced both ways; an edit
 * on both sides of one event (reported as a conflict, then resolved with "a wins"); and a final
 * sync that has nothing left to move.
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
] as const)('vdirsyncer two-way sync against %s', (_name, start) => {
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
    await vdir.addLocally('vdir-new@interop.test', 'Book club', '20260318T180000Z');
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

  it('has nothing left to move on the next sync', async () => {
    const again = await vdir.sync();
    expect(again.code, again.stderr).toBe(0);
    expect(transfers(again.stderr + again.stdout)).toEqual([]);
  }, 60_000);
});
