import type { ModuleSql } from '../../storage/module-tables.js';

/** The channels' tables that hold a member's data, by their user column. */
const TABLES = ['notify_push_subscriptions', 'notify_email_addresses', 'notify_known_devices', 'notify_password_resets', 'notify_email_outbox'];

/** How often rows of deleted accounts are swept (and once at start). */
export const SWEEP_EVERY_MS = 3600_000;

/**
 * Forgets the channel data (push endpoints, email addresses, devices, pending mail) of accounts
 * that no longer exist. Reads the core's `users` table, nothing else of it: a deleted account's
 * address must not stay behind, and the core tells modules nothing when an account goes.
 */
export async function sweepDeletedUsers(sql: ModuleSql): Promise<number> {
  let removed = 0;
  for (const table of TABLES) {
    const { changes } = await sql.run(`DELETE FROM ${table} WHERE user_id NOT IN (SELECT user_id FROM users)`);
    removed += changes;
  }
  return removed;
}
