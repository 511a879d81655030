/**
 * Push notification channels (`events.watch`, `channels.stop`) and delivery: an empty-body POST to the
 * channel's address with the X-Goog-* headers; `sync` first, then `exists` after each change.
 */
import { createHash } from 'node:crypto';
import { errors } from './errors.js';
import type { FaultInjector } from './faults.js';
import { isPlainObject, type JsonObject } from './calendar-data.js';

export interface Channel {
  id: string;
  resourceId: string;
  resourceUri: string;
  address: string;
  token?: string;
  expiration: number;
  calendarId: string;
  ownerEmail: string;
  clientId: string;
  messageNumber: number;
  stopped: boolean;
  /** A change notification is scheduled and not yet queued. */
  pending: boolean;
  queue: Promise<void>;
}

export interface DeliveryRecord {
  channelId: string;
  state: 'sync' | 'exists';
  messageNumber: number;
  address: string;
  at: number;
  /** HTTP status the receiver answered with. */
  status?: number;
  /** Network error, or `dropped by fault`. */
  error?: string;
}

export interface PushOptions {
  now: () => number;
  random: () => number;
  baseUrl: () => string;
  faults: FaultInjector;
  maxTtlMs: number;
  requireHttps: boolean;
  timeoutMs: number;
}

const CHANNEL_ID = /^[A-Za-z0-9\-_+/=]{1,64}$/;

export class PushManager {
  private readonly channels = new Map<string, Channel>();
  readonly deliveries: DeliveryRecord[] = [];
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly opts: PushOptions) {}

  reset(): void {
    for (const c of this.channels.values()) c.stopped = true;
    this.channels.clear();
    this.deliveries.length = 0;
  }

  list(): Array<Omit<Channel, 'queue' | 'pending'>> {
    return [...this.channels.values()].map(({ queue: _q, pending: _p, ...rest }) => ({ ...rest }));
  }

  watch(calendarId: string, ownerEmail: string, clientId: string, body: unknown): JsonObject {
    if (!isPlainObject(body)) throw errors.required('Missing channel.');
    const { id, type, address, token, expiration, params } = body;
    if (typeof id !== 'string' || id.length === 0) throw errors.required('Missing channel id.');
    if (!CHANNEL_ID.test(id)) throw errors.badRequest(`Invalid channel id ${id}.`);
    if (type !== 'web_hook' && type !== 'webhook') {
      throw errors.badRequest(`Invalid value for notification channel type: ${String(type)}`, 'invalid', 'push');
    }
    if (typeof address !== 'string' || address.length === 0) throw errors.required('Missing channel address.');
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw errors.badRequest(`Invalid channel address: ${address}`, 'invalid', 'push');
    }
    if (url.protocol !== 'https:' && (this.opts.requireHttps || url.protocol !== 'http:')) {
      throw errors.badRequest(`WebHook callback must be HTTPS: ${address}`, 'webhookUrlNotHttps', 'push');
    }
    if (token !== undefined && (typeof token !== 'string' || token.length > 256)) {
      throw errors.badRequest('Invalid channel token (a string of at most 256 characters).');
    }
    const existing = this.channels.get(id);
    if (existing && !existing.stopped && existing.expiration > this.opts.now()) {
      throw errors.badRequest(`Channel id ${id} not unique`, 'channelIdNotUnique', 'global');
    }
    const now = this.opts.now();
    let exp = now + this.opts.maxTtlMs;
    if (expiration !== undefined && expiration !== null) {
      const requested = Number(expiration);
      if (!Number.isFinite(requested) || requested <= now) {
        throw errors.badRequest('Invalid expiration time for the channel.', 'invalid', 'push');
      }
      exp = Math.min(requested, exp);
    } else if (isPlainObject(params) && params.ttl !== undefined) {
      const ttl = Number(params.ttl);
      if (!Number.isFinite(ttl) || ttl <= 0) throw errors.badRequest('Invalid ttl.', 'invalid', 'push');
      exp = Math.min(now + ttl * 1000, exp);
    }
    const resourceId = createHash('sha256').update(`events\n${calendarId}`).digest('base64url').slice(0, 27);
    const channel: Channel = {
      id,
      resourceId,
      resourceUri: `${this.opts.baseUrl()}/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events?alt=json`,
      address,
      ...(token !== undefined ? { token } : {}),
      expiration: exp,
      calendarId,
      ownerEmail,
      clientId,
      messageNumber: 0,
      stopped: false,
      pending: false,
      queue: Promise.resolve(),
    };
    this.channels.set(id, channel);
    setImmediate(() => this.enqueue(channel, 'sync'));
    return {
      kind: 'api#channel',
      id,
      resourceId,
      resourceUri: channel.resourceUri,
      ...(token !== undefined ? { token } : {}),
      expiration: String(exp),
    };
  }

  stop(ownerEmail: string, body: unknown): void {
    if (!isPlainObject(body) || typeof body.id !== 'string') throw errors.required('Missing channel id.');
    const channel = this.channels.get(body.id);
    if (!channel || channel.stopped || channel.ownerEmail !== ownerEmail) throw errors.notFound();
    if (body.resourceId !== undefined && body.resourceId !== channel.resourceId) throw errors.notFound();
    channel.stopped = true;
    this.channels.delete(channel.id);
  }

  stopCalendar(calendarId: string): void {
    for (const c of this.channels.values()) {
      if (c.calendarId === calendarId) {
        c.stopped = true;
        this.channels.delete(c.id);
      }
    }
  }

  /** Called after each change to a calendar's events. Bursts within one tick coalesce into one message. */
  notify(calendarId: string): void {
    for (const c of this.channels.values()) {
      if (c.calendarId !== calendarId || c.stopped || c.pending) continue;
      c.pending = true;
      setImmediate(() => {
        c.pending = false;
        this.enqueue(c, 'exists');
      });
    }
  }

  private enqueue(c: Channel, state: 'sync' | 'exists'): void {
    if (this.closed || c.stopped) return;
    if (c.expiration <= this.opts.now()) {
      c.stopped = true;
      this.channels.delete(c.id);
      return;
    }
    c.messageNumber = state === 'sync' ? 1 : c.messageNumber + 1 + Math.floor(this.opts.random() * 3);
    const messageNumber = c.messageNumber;
    c.queue = c.queue.then(() => this.deliver(c, state, messageNumber));
  }

  private async deliver(c: Channel, state: 'sync' | 'exists', messageNumber: number): Promise<void> {
    const record: DeliveryRecord = { channelId: c.id, state, messageNumber, address: c.address, at: this.opts.now() };
    this.deliveries.push(record);
    if (this.closed) {
      record.error = 'fake closed';
      return;
    }
    if (this.opts.faults.pick('push', c.calendarId)) {
      record.error = 'dropped by fault';
      return;
    }
    const headers: Record<string, string> = {
      'X-Goog-Channel-ID': c.id,
      'X-Goog-Channel-Expiration': new Date(c.expiration).toUTCString(),
      'X-Goog-Resource-ID': c.resourceId,
      'X-Goog-Resource-URI': c.resourceUri,
      'X-Goog-Resource-State': state,
      'X-Goog-Message-Number': String(messageNumber),
      'User-Agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
    };
    if (c.token !== undefined) headers['X-Goog-Channel-Token'] = c.token;
    const abort = new AbortController();
    this.inFlight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs);
    try {
      const res = await fetch(c.address, { method: 'POST', headers, body: '', signal: abort.signal });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(abort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const a of this.inFlight) a.abort();
    await Promise.all([...this.channels.values()].map((c) => c.queue.catch(() => undefined)));
  }
}
