import { createECDH } from 'node:crypto';
import { KithError } from '../../errors/catalogue.js';
import { sha256 } from '../../ids.js';
import type { ModuleSql } from '../../storage/module-tables.js';

export const PUSH_LIMITS = { maxEndpointLength: 1024, maxPerUser: 20 } as const;

/**
 * The browsers' push services. A subscription names the URL the server will POST to, so only
 * these (and hosts the operator adds) are accepted: otherwise a subscription could make the
 * server call any host, its own network included (SSRF).
 */
export const BROWSER_PUSH_HOSTS = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.push.services.mozilla.com',
  '*.push.apple.com',
  '*.notify.windows.com',
] as const;

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface StoredSubscription extends PushSubscriptionInput {
  endpointHash: string;
}

export interface EndpointPolicy {
  allowedHosts: readonly string[];
  /** Tests: `http://127.0.0.1:<port>` too (a mock push service). */
  allowLoopback: boolean;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern,
  );
}

/** Throws a 400 unless the subscription is one the server may send to; the schema checked shapes. */
export function checkSubscription(sub: PushSubscriptionInput, policy: EndpointPolicy): void {
  let url: URL;
  try {
    url = new URL(sub.endpoint);
  } catch {
    throw new KithError('INVALID_PUSH_SUBSCRIPTION', 'The endpoint is not a URL.');
  }
  if (url.username || url.password) throw new KithError('INVALID_PUSH_SUBSCRIPTION', 'The endpoint must not carry credentials.');
  const loopback = policy.allowLoopback && url.protocol === 'http:' && url.hostname === '127.0.0.1';
  if (!loopback) {
    if (url.protocol !== 'https:') throw new KithError('INVALID_PUSH_SUBSCRIPTION', 'The endpoint must be an https URL.');
    if (url.port !== '' && url.port !== '443') throw new KithError('PUSH_HOST_NOT_ALLOWED');
    if (!hostAllowed(url.hostname.toLowerCase(), policy.allowedHosts)) throw new KithError('PUSH_HOST_NOT_ALLOWED');
  }
  // P-256 public key, uncompressed (65 bytes, 0x04 first), and a 16-byte auth secret (RFC 8291).
  const p256dh = B64URL.test(sub.keys.p256dh) ? Buffer.from(sub.keys.p256dh, 'base64url') : undefined;
  if (!p256dh || p256dh.length !== 65 || p256dh[0] !== 4 || !onP256(p256dh)) {
    throw new KithError('INVALID_PUSH_SUBSCRIPTION', 'keys.p256dh must be a base64url uncompressed P-256 key (65 bytes, a point on the curve).');
  }
  const auth = B64URL.test(sub.keys.auth) ? Buffer.from(sub.keys.auth, 'base64url') : undefined;
  if (!auth || auth.length !== 16) throw new KithError('INVALID_PUSH_SUBSCRIPTION', 'keys.auth must be 16 bytes, base64url.');
}

/** Whether these 65 bytes are a point on P-256 (what encrypting a message to it needs). */
function onP256(key: Buffer): boolean {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(PROBE_KEY);
    ecdh.computeSecret(key);
    return true;
  } catch {
    return false;
  }
}
const PROBE_KEY = Buffer.alloc(32, 1);

type Row = { endpoint_hash: string; endpoint: string; p256dh: string; auth: string };
const toSubscription = (r: Row): StoredSubscription => ({
  endpointHash: r.endpoint_hash,
  endpoint: r.endpoint,
  keys: { p256dh: r.p256dh, auth: r.auth },
});

/** The subscriptions table; every read and write is scoped to one user or one endpoint. */
export class PushSubscriptions {
  constructor(private readonly sql: ModuleSql) {}

  /**
   * Saves it for the user. The same endpoint again replaces the old row, whoever had it: one
   * browser, now signed in as someone else, must not keep receiving the previous account's pushes.
   */
  async save(userId: string, sub: PushSubscriptionInput, now = Date.now()): Promise<void> {
    const endpointHash = sha256(sub.endpoint);
    await this.sql.transaction(async (tx) => {
      if (tx.engine === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtext(?::text))', [`notify_push:${userId}`]);
      await tx.run('DELETE FROM notify_push_subscriptions WHERE endpoint_hash = ?', [endpointHash]);
      const count = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM notify_push_subscriptions WHERE user_id = ?', [userId]);
      if (Number(count?.n ?? 0) >= PUSH_LIMITS.maxPerUser) throw new KithError('TOO_MANY_PUSH_SUBSCRIPTIONS');
      await tx.run(
        'INSERT INTO notify_push_subscriptions (endpoint_hash, user_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [endpointHash, userId, sub.endpoint, sub.keys.p256dh, sub.keys.auth, now],
      );
    });
  }

  /** true when the user had it. */
  async remove(userId: string, endpoint: string): Promise<boolean> {
    const { changes } = await this.sql.run('DELETE FROM notify_push_subscriptions WHERE endpoint_hash = ? AND user_id = ?', [
      sha256(endpoint),
      userId,
    ]);
    return changes > 0;
  }

  /** The push service said it is gone (404/410). */
  async removeGone(endpointHash: string): Promise<void> {
    await this.sql.run('DELETE FROM notify_push_subscriptions WHERE endpoint_hash = ?', [endpointHash]);
  }

  async of(userId: string): Promise<StoredSubscription[]> {
    const rows = await this.sql.all<Row>(
      'SELECT endpoint_hash, endpoint, p256dh, auth FROM notify_push_subscriptions WHERE user_id = ? ORDER BY created_at',
      [userId],
    );
    return rows.map(toSubscription);
  }

  async count(userId: string): Promise<number> {
    const r = await this.sql.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM notify_push_subscriptions WHERE user_id = ?', [userId]);
    return Number(r?.n ?? 0);
  }
}
