import type { ModuleMigrations } from '../../storage/module-tables.js';

/**
 * The channels' tables (the notifications module concatenates them after the core's). Times are
 * ms since the epoch. Secrets are never stored: verification codes and reset tokens as SHA-256.
 */
export const NOTIFY_CHANNEL_MIGRATIONS: ModuleMigrations = {
  sqlite: [
    // One browser's push subscription; the endpoint (a capability URL) is also its identity.
    `CREATE TABLE notify_push_subscriptions (
       endpoint_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, endpoint TEXT NOT NULL,
       p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    'CREATE INDEX notify_push_subscriptions_user ON notify_push_subscriptions (user_id)',
    // A member's email address: verified, or waiting for its code (pending_*).
    `CREATE TABLE notify_email_addresses (
       user_id TEXT PRIMARY KEY, address TEXT, address_key TEXT, unsubscribed INTEGER NOT NULL DEFAULT 0,
       pending_address TEXT, code_hash TEXT, code_expires_at INTEGER, code_attempts INTEGER NOT NULL DEFAULT 0,
       code_sent_at INTEGER, updated_at INTEGER NOT NULL)`,
    'CREATE INDEX notify_email_addresses_key ON notify_email_addresses (address_key)',
    // Email deliveries until sent: idempotent by the delivery's key, retried with backoff.
    `CREATE TABLE notify_email_outbox (
       key TEXT PRIMARY KEY, user_id TEXT NOT NULL, delivery TEXT NOT NULL, status TEXT NOT NULL,
       attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, claimed_until INTEGER NOT NULL DEFAULT 0,
       last_error TEXT, created_at INTEGER NOT NULL, sent_at INTEGER)`,
    'CREATE INDEX notify_email_outbox_due ON notify_email_outbox (status, next_attempt_at)',
    `CREATE TABLE notify_password_resets (
       token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL,
       used_at INTEGER, created_at INTEGER NOT NULL)`,
    'CREATE INDEX notify_password_resets_user ON notify_password_resets (user_id, created_at)',
    // Clients a member has signed in with (a hash of the User-Agent): a new one earns an email.
    `CREATE TABLE notify_known_devices (
       user_id TEXT NOT NULL, device_hash TEXT NOT NULL, first_seen_at INTEGER NOT NULL,
       PRIMARY KEY (user_id, device_hash))`,
  ],
  postgres: [
    `CREATE TABLE notify_push_subscriptions (
       endpoint_hash text PRIMARY KEY, user_id text NOT NULL, endpoint text NOT NULL,
       p256dh text NOT NULL, auth text NOT NULL, created_at bigint NOT NULL)`,
    'CREATE INDEX notify_push_subscriptions_user ON notify_push_subscriptions (user_id)',
    `CREATE TABLE notify_email_addresses (
       user_id text PRIMARY KEY, address text, address_key text, unsubscribed integer NOT NULL DEFAULT 0,
       pending_address text, code_hash text, code_expires_at bigint, code_attempts integer NOT NULL DEFAULT 0,
       code_sent_at bigint, updated_at bigint NOT NULL)`,
    'CREATE INDEX notify_email_addresses_key ON notify_email_addresses (address_key)',
    `CREATE TABLE notify_email_outbox (
       key text PRIMARY KEY, user_id text NOT NULL, delivery text NOT NULL, status text NOT NULL,
       attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL, claimed_until bigint NOT NULL DEFAULT 0,
       last_error text, created_at bigint NOT NULL, sent_at bigint)`,
    'CREATE INDEX notify_email_outbox_due ON notify_email_outbox (status, next_attempt_at)',
    `CREATE TABLE notify_password_resets (
       token_hash text PRIMARY KEY, user_id text NOT NULL, expires_at bigint NOT NULL,
       used_at bigint, created_at bigint NOT NULL)`,
    'CREATE INDEX notify_password_resets_user ON notify_password_resets (user_id, created_at)',
    `CREATE TABLE notify_known_devices (
       user_id text NOT NULL, device_hash text NOT NULL, first_seen_at bigint NOT NULL,
       PRIMARY KEY (user_id, device_hash))`,
  ],
};
