/**
 * The exactly-once ledger on both engines (one suite): a key is claimed once, an expired claim is
 * taken over, a finished key is never claimed again, skips count once, and pruning keeps open claims
 * but forgets claims whose lease ran out before its horizon; many keys are settled in batches.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireServices } from '@kith/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/notify/ledger.js';
import { NOTIFY_CORE_MIGRATIONS } from '../../src/notify/migrations.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { openTestPostgresStorage, probePostgres } from '../helpers/postgres.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

function ledgerSuite(engine: string, open: () => Promise<Storage>) {
  describe(`notify ledger: ${engine}`, () => {
    it('claims once; an expired claim is taken over; finished keys stay finished; skips count once; prune keeps open claims, forgets long-expired ones', async () => {
      const storage = await open();
      const ledger = new Ledger(await storage.modules.open('notify', NOTIFY_CORE_MIGRATIONS));
      const t = 1_000_000;
      const claims = await Promise.all(['a', 'b', 'c'].map((holder) => ledger.claim('k1', holder, t, 5_000)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      const winner = ['a', 'b', 'c'][claims.indexOf(true)]!;
      expect(await ledger.claim('k1', 'd', t + 4_999, 5_000)).toBe(false); // lease still running
      expect(await ledger.claim('k1', 'd', t + 5_000, 5_000)).toBe(true); // the holder died: taken over
      await ledger.finish('k1', winner, 'sent', t + 5_001); // the old holder no longer holds it: no effect
      expect((await ledger.states(['k1'])).get('k1')?.state).toBe('claimed');
      await ledger.finish('k1', 'd', 'sent', t + 5_002);
      expect((await ledger.states(['k1'])).get('k1')?.state).toBe('sent');
      expect(await ledger.claim('k1', 'e', t + 999_999, 5_000)).toBe(false);

      expect(await ledger.skip('k2', t)).toBe(true);
      expect(await ledger.skip('k2', t)).toBe(false);
      expect(await ledger.claim('k2', 'a', t, 5_000)).toBe(false);

      expect(await ledger.claim('k3', 'a', t, 5_000)).toBe(true);
      await ledger.retryLater('k3', 'a', t + 60_000, t);
      expect(await ledger.claim('k3', 'b', t + 59_999, 5_000)).toBe(false);
      expect(await ledger.claim('k3', 'b', t + 60_000, 5_000)).toBe(true);

      // Open claims touched before the horizon: k4's lease still runs, k5 waits for a retry after it.
      expect(await ledger.claim('k4', 'a', t + 9_999_000, 5_000)).toBe(true);
      expect(await ledger.claim('k5', 'a', t, 5_000)).toBe(true);
      await ledger.retryLater('k5', 'a', t + 20_000_000, t);

      // k1 (sent), k2 (skipped), and k3: claimed by a holder that died, its lease out since t + 65 s.
      expect(await ledger.prune(t + 10_000_000)).toBe(3);
      expect([...(await ledger.states(['k1', 'k2', 'k3', 'k4', 'k5'])).keys()].sort()).toEqual(['k4', 'k5']);

      await ledger.raiseState('alive', 10);
      await ledger.raiseState('alive', 5);
      expect(await ledger.getState('alive')).toBe(10);
    });

    it('skipAll settles many keys at once (past one batch), leaving keys already there as they are', async () => {
      const storage = await open();
      const ledger = new Ledger(await storage.modules.open('notify', NOTIFY_CORE_MIGRATIONS));
      const t = 2_000_000;
      expect(await ledger.claim('m-sent', 'a', t, 5_000)).toBe(true);
      await ledger.finish('m-sent', 'a', 'sent', t);
      expect(await ledger.claim('m-open', 'a', t, 5_000)).toBe(true);
      const keys = [...Array.from({ length: 450 }, (_, i) => `m-${i}`), 'm-sent', 'm-open'];
      await ledger.skipAll(keys, t);
      await ledger.skipAll([], t);
      const states = await ledger.states(keys);
      expect(states.size).toBe(452);
      expect(states.get('m-sent')?.state).toBe('sent');
      expect(states.get('m-open')?.state).toBe('claimed');
      expect([...states].filter(([, s]) => s.state === 'skipped')).toHaveLength(450);
      expect(await ledger.claim('m-7', 'b', t + 999_999, 5_000)).toBe(false); // never sent later
    });
  });
}

ledgerSuite('SQLite', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-notify-ledger-'));
  const storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
  cleanups.push(async () => {
    await storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return storage;
});

const probe = await probePostgres();
if (!probe.available) {
  const msg = `notify ledger on PostgreSQL needs a server (${probe.reason}): ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
} else {
  ledgerSuite('PostgreSQL', async () => {
    const opened = await openTestPostgresStorage(probe.url);
    cleanups.push(opened.cleanup);
    return opened.storage;
  });
}
