/**
 * The state one fake Google server holds — calendars, OAuth grants, push channels, faults, stats — wired together
 * once, and shared by the route modules and the programmatic surface.
 */
import { FaultInjector } from './faults.js';
import { FakeOAuth } from './oauth.js';
import type { FakeGoogleOptions } from './options.js';
import { PushManager } from './push.js';
import { RequestQuota } from './quota.js';
import { StatsRecorder } from './stats.js';
import { FakeCalendarStore } from './store.js';

export interface FakeContext {
  readonly options: FakeGoogleOptions;
  readonly now: () => number;
  /** Who signs in when nobody says who (lower-cased). */
  readonly defaultUser: string;
  readonly faults: FaultInjector;
  readonly push: PushManager;
  readonly store: FakeCalendarStore;
  readonly oauth: FakeOAuth;
  readonly stats: StatsRecorder;
  readonly quota: RequestQuota;
  /** Origin the server listens on, e.g. `http://127.0.0.1:43123`; empty until it listens. */
  baseUrl: string;
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createContext(options: FakeGoogleOptions): FakeContext {
  const now = options.now ?? Date.now;
  // One PRNG for faults, pushes and the store, so a seed replays the same run.
  const random = prng(options.seed ?? 1);
  const baseUrl = (): string => ctx.baseUrl;

  const faults = new FaultInjector(random, now);
  const push = new PushManager({
    now,
    random,
    baseUrl,
    faults,
    maxTtlMs: options.channelMaxTtlMs ?? 7 * 24 * 3_600_000,
    requireHttps: options.requireHttpsWebhooks ?? false,
    timeoutMs: options.pushTimeoutMs ?? 5_000,
  });
  const store = new FakeCalendarStore({
    now,
    random,
    baseUrl,
    defaultTimeZone: options.defaultTimeZone ?? 'UTC',
    updatedMinMaxAgeMs: options.updatedMinMaxAgeMs ?? 28 * 24 * 3_600_000,
    trashRetentionMs: options.trashRetentionMs ?? 30 * 24 * 3_600_000,
    expansionHorizonDays: options.expansionHorizonDays ?? 730,
    shortPages: options.shortPages ?? false,
    onChange: (calendarId) => push.notify(calendarId),
  });
  const defaultUser = (options.defaultUser ?? 'demo@kith.example').toLowerCase();
  const oauth = new FakeOAuth({
    now,
    defaultUser,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3599,
    onUser: (email) => void store.ensurePrimaryCalendar(email.toLowerCase()),
    ...(options.clients ? { clients: options.clients } : {}),
  });

  const ctx: FakeContext = {
    options,
    now,
    defaultUser,
    faults,
    push,
    store,
    oauth,
    stats: new StatsRecorder(),
    quota: new RequestQuota(options.requestsPerMinutePerUser, now),
    baseUrl: '',
  };
  return ctx;
}
