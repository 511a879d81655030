/**
 * Refresh-token rows do not pile up for ever: every login and every refresh adds one, and a sweep
 * deletes those that can no longer matter (families with no usable token left), in bounded
 * statements, while a rotated token of a family that may still be alive stays, so that presenting
 * it again still revokes the family. And the lookups that deleting a user makes (its tokens, the
 * invites, rooms and feeds it made, its removals) use indexes instead of scanning whole tables.
 * On SQLite (a real file) and PostgreSQL (a fresh schema).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RefreshTokenPruner, RefreshTokens } from '../src/auth/refresh-tokens.js';
import { sha256 } from '../src/ids.js';
import { openStorage } from '../src/storage/open-storage.js';
import { sqliteFileIn } from '../src/storage/sqlite/sqlite-storage.js';
import type { RefreshTokenStore, Storage } from '../src/storage/storage.js';
import { storageEngines } from './helpers/postgres.js';

const T = 1_700_000_000_000;
const TTL = 10_000;

describe.each(await storageEngines('refresh-token pruning'))('refresh-token pruning on $engine', ({ skip, database }) => {
  let storage: Storage;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    if (skip) return;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-prune-'));
    const db = await database();
    storage = await openStorage({ dataDir, sqliteSynchronous: 'normal', ...(db.databaseUrl ? { databaseUrl: db.databaseUrl } : {}) });
    cleanup = async () => {
      await storage.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    };
  });
  afterEach(async () => {
    if (!skip) await cleanup();
  });

  async function user(): Promise<string> {
    const userId = randomUUID();
    expect(await storage.users.create({ userId, username: `u-${userId.slice(0, 8)}`, passwordHash: 'h', createdAt: T })).toBe(true);
    return userId;
  }

  /** Counts the store's steps, to see that each touches at most `batch` rows. */
  function counting(store: RefreshTokenStore) {
    const steps: number[] = [];
    return {
      steps,
      pruneDead: async (...args: Parameters<RefreshTokenStore['pruneDead']>) => {
        const step = await store.pruneDead(...args);
        steps.push(step.deleted);
        return step;
      },
    };
  }

  const exists = async (token: string) => (await storage.refreshTokens.find(sha256(token))) !== undefined;

  it.skipIf(skip)('deletes the rows of dead families, keeps live ones, and a kept rotated token is still caught as reuse', async () => {
    const tokens = new RefreshTokens(storage, TTL);
    const u = await user();
    // A family in use: rotated at +5 s, +9 s, +13 s; its newest token expires at +23 s.
    const live = [await tokens.issue(u, T)];
    for (const at of [5_000, 9_000, 13_000]) live.push((await tokens.rotate(live.at(-1)!, T + at)).refreshToken);
    // A family left alone: its newest token expired at +11 s.
    const expired = [await tokens.issue(u, T)];
    expired.push((await tokens.rotate(expired[0]!, T + 1_000)).refreshToken);
    // Logged out: every token revoked, all expired by +11 s.
    const loggedOut = [await tokens.issue(u, T)];
    loggedOut.push((await tokens.rotate(loggedOut[0]!, T + 1_000)).refreshToken);
    await tokens.revoke(loggedOut[1]!);
    // Logged out recently: revoked, but not expired yet (+25 s).
    const recent = await tokens.issue(u, T + 15_000);
    await tokens.revoke(recent);

    const store = counting(storage.refreshTokens);
    const pruner = new RefreshTokenPruner(store, { batch: 2, graceMs: 0 });
    expect(await pruner.sweep(T + 20_000)).toBe(4);
    expect(store.steps.length).toBeGreaterThan(2);
    for (const t of [...expired, ...loggedOut]) expect(await exists(t)).toBe(false);
    for (const t of [...live, recent]) expect(await exists(t)).toBe(true);

    // The family in use still works...
    const next = await tokens.rotate(live.at(-1)!, T + 20_001);
    // ...and its first token, expired but kept, is still recognised as reuse: the family dies.
    await expect(tokens.rotate(live[0]!, T + 20_002)).rejects.toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    await expect(tokens.rotate(next.refreshToken, T + 20_003)).rejects.toMatchObject({ code: 'REFRESH_TOKEN_INVALID' });

    // Once every token of theirs expired, nothing of them is left.
    await new RefreshTokenPruner(storage.refreshTokens, { graceMs: 0 }).sweep(T + 40_000);
    for (const t of [...live, next.refreshToken, recent]) expect(await exists(t)).toBe(false);
  });

  it.skipIf(skip)('keeps a family whose newest token expired within the grace period', async () => {
    const tokens = new RefreshTokens(storage, TTL);
    const u = await user();
    const first = await tokens.issue(u, T);
    const second = (await tokens.rotate(first, T + 1_000)).refreshToken; // expires at +11 s
    const pruner = new RefreshTokenPruner(storage.refreshTokens, { graceMs: 60_000 });
    expect(await pruner.sweep(T + 11_000 + 30_000)).toBe(0);
    expect(await exists(first)).toBe(true);
    expect(await exists(second)).toBe(true);
    expect(await pruner.sweep(T + 11_000 + 61_000)).toBe(2);
  });

  it.skipIf(skip)('sweeps thousands of dead rows in statements of at most the batch size, rows of live families untouched', async () => {
    const tokens = new RefreshTokens(storage, TTL);
    const u = await user();
    const kept = [await tokens.issue(u, T + 100_000)];
    kept.push((await tokens.rotate(kept[0]!, T + 100_500)).refreshToken);
    // 2,500 expired rows in 500 families (as months of logins and refreshes leave them).
    for (let i = 0; i < 2_500; i++) {
      await storage.refreshTokens.insert({
        tokenHash: randomBytes(32).toString('hex'),
        userId: u,
        familyId: `fam-${i % 500}`,
        status: i < 500 ? 'active' : 'rotated',
        expiresAt: T + (i % 997),
        createdAt: T,
      });
    }
    const store = counting(storage.refreshTokens);
    expect(await new RefreshTokenPruner(store, { batch: 1_000, graceMs: 0 }).sweep(T + 50_000)).toBe(2_500);
    expect(store.steps.every((n) => n <= 1_000)).toBe(true);
    expect(store.steps.length).toBeGreaterThanOrEqual(3);
    for (const t of kept) expect(await exists(t)).toBe(true);
    expect((await tokens.rotate(kept[1]!, T + 101_000)).userId).toBe(u);
  });

  it.skipIf(skip)('the timer sweeps on its own and stops with close()', async () => {
    const tokens = new RefreshTokens(storage, 1);
    const u = await user();
    const old = await tokens.issue(u, Date.now() - 1_000);
    const store = counting(storage.refreshTokens);
    const pruner = new RefreshTokenPruner(store, { firstAfterMs: 5, everyMs: 20, graceMs: 0 });
    pruner.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(await exists(old)).toBe(false);
    await pruner.close();
    const steps = store.steps.length;
    expect(steps).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(store.steps.length).toBe(steps);
  });
});

describe('indexes for deleting a user (SQLite)', () => {
  let dataDir: string;
  let storage: Storage;
  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-prune-plan-'));
    storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
  });
  afterEach(async () => {
    await storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const plan = (db: BetterSqlite3.Database, sql: string) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as Array<{ detail: string }>).map((r) => r.detail).join('; ');

  it('looks rows up by user and by creator through an index, not a scan of the table', () => {
    const db = new BetterSqlite3(sqliteFileIn(dataDir), { readonly: true });
    try {
      for (const [sql, index] of [
        ['DELETE FROM refresh_tokens WHERE user_id = ?', 'refresh_tokens_user'],
        [`UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = ? AND status = 'active'`, 'refresh_tokens_user'],
        ['DELETE FROM invites WHERE created_by = ?', 'invites_creator'],
        ['UPDATE rooms SET created_by = NULL WHERE created_by = ?', 'rooms_creator'],
        ['DELETE FROM room_feeds WHERE created_by = ?', 'room_feeds_creator'],
        ['DELETE FROM room_removals WHERE user_id = ?', 'room_removals_user'],
      ] as const) {
        const detail = plan(db, sql);
        expect(detail, sql).toContain(index);
        expect(detail, sql).not.toMatch(/\bSCAN\b/);
      }
    } finally {
      db.close();
    }
  });

  it('finds a family\'s usable token and walks expired rows through indexes', () => {
    const db = new BetterSqlite3(sqliteFileIn(dataDir), { readonly: true });
    try {
      const live = db
        .prepare(`EXPLAIN QUERY PLAN SELECT 1 FROM refresh_tokens WHERE family_id = ? AND status = 'active' AND expires_at > ?`)
        .all('f', 0) as Array<{ detail: string }>;
      expect(live.map((r) => r.detail).join('; ')).toContain('refresh_tokens_live');
      const walk = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT expires_at, token_hash FROM refresh_tokens WHERE (expires_at, token_hash) > (?, ?)
           AND expires_at <= ? ORDER BY expires_at, token_hash LIMIT 1 OFFSET 999`,
        )
        .all(0, '', 1) as Array<{ detail: string }>;
      const detail = walk.map((r) => r.detail).join('; ');
      expect(detail).toContain('refresh_tokens_expiry');
      expect(detail).not.toMatch(/\bSCAN\b|TEMP B-TREE/);
    } finally {
      db.close();
    }
  });
});
