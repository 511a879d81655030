/**
 * `createKithClient`: the session (register, login, transparent refresh, logout), the rooms API,
 * and `openCalendar`, which gives an offline-first calendar over one room.
 */
import type { Role } from '@kith/protocol';
import type { Calendar, CalendarOptions } from './calendar.js';
import { Emitter } from './emitter.js';
import { KithApiError } from './errors.js';
import { lazyPersistence, loadCalendarCode } from './lazy.js';
import type { LocalPersistence } from './persistence/types.js';
import { MemoryTokenStore, sessionFrom, type Session, type TokenStore, type User } from './session.js';
import type { SyncConnection, SyncHost, WebSocketConstructor } from './sync.js';

export type { Role };

export interface RoomSummary {
  roomId: string;
  name: string;
  /** My role in the room. */
  role: Role;
}

export interface Member {
  userId: string;
  username: string;
  role: Role;
}

export interface RoomDetails extends RoomSummary {
  /** ISO date-time. */
  createdAt: string;
  members: Member[];
}

export interface InviteOptions {
  role: Role;
  /** Lifetime in hours (default: the server's, 168 unless configured). */
  expiresInHours?: number;
  /** How many people may accept it (default: the server's, 10 unless configured). */
  maxUses?: number;
}

export interface Invite {
  /** Names the invite in `rooms.invites` and `rooms.revokeInvite`; cannot be used to join. */
  inviteId: string;
  code: string;
  /** A link to share; `acceptInvite` takes it as well as the bare code. */
  url: string;
  role: Role;
  expiresAt: string | null;
  maxUses: number | null;
}

/** An invite as `rooms.invites` lists it: its code is never shown again (the server keeps only a hash). */
export interface InviteSummary {
  inviteId: string;
  role: Role;
  /** userId of the owner who made it. */
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  maxUses: number | null;
  uses: number;
  /** Neither expired nor used up. */
  usable: boolean;
}

export interface RegisterOptions {
  /**
   * An invite code or link: the account is created only if the invite admits it, and joins its
   * room in the same step. Required by servers started with `--registration invite-only`.
   */
  invite?: string;
}

/** The registered user; `room` is the room joined when an invite came with the registration. */
export interface RegisteredUser extends User {
  room?: RoomSummary;
}

export interface AcceptedInvite extends RoomSummary {
  /** False when I was already a member. */
  joined: boolean;
}

export type PersistenceOption = 'indexeddb' | 'memory' | LocalPersistence;

export interface KithClientOptions {
  /** The server, e.g. `https://kith.example.org` (REST at its root, sync at `/sync`). */
  baseUrl: string;
  /** Where the session is kept (default: memory; `LocalStorageTokenStore` in browsers to stay signed in). */
  tokenStore?: TokenStore;
  /** WebSocket implementation (default: the global one; pass `ws` in Node 20). */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Where rooms are kept on this device (default: IndexedDB when present, else memory). */
  persistence?: PersistenceOption;
  /** Sync endpoint (default: `baseUrl` with ws(s):// and `/sync`). */
  syncUrl?: string;
  /** Longest wait between reconnect attempts, ms (default 2500). */
  maxBackoffMs?: number;
  /** Share edits between tabs of one browser over BroadcastChannel (default: true in browsers). */
  crossTab?: boolean;
  /**
   * While a calendar is open, refresh the access token before it expires (default true), by
   * `refreshMarginSeconds` (default 60, at most a quarter of the token's lifetime).
   */
  autoRefresh?: boolean;
  refreshMarginSeconds?: number;
}

export interface ClientEvents {
  /** The signed-in user changed (login, logout, session ended). */
  session: (user: User | null) => void;
  /** The session ended (the refresh token was refused): sign in again. */
  'auth-required': (info: { code: string }) => void;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** The longest delay setTimeout keeps (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A new device's first fetch of a room's state gives up after this (the socket then sends it). */
const STATE_FETCH_TIMEOUT_MS = 30_000;

const isBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';

export class KithClient {
  readonly baseUrl: string;
  readonly syncUrl: string;
  private readonly events = new Emitter<ClientEvents>();
  private readonly store: TokenStore;
  private readonly fetchImpl: typeof fetch;
  private readonly persistence: LocalPersistence;
  private session: Session | null = null;
  private readonly loaded: Promise<void>;
  private refreshing: Promise<Session> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** Open calendars with their sockets (token changes and sign-out reach them through these). */
  private readonly calendars = new Map<Calendar, SyncConnection>();
  private closed = false;

  constructor(private readonly options: KithClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.syncUrl = (options.syncUrl ?? `${this.baseUrl.replace(/^http/, 'ws')}/sync`).replace(/\/+$/, '');
    this.store = options.tokenStore ?? new MemoryTokenStore();
    const f = options.fetch ?? globalThis.fetch;
    if (!f) throw new Error('createKithClient: no fetch implementation; pass options.fetch');
    this.fetchImpl = (input, init) => f(input, init);
    const p = options.persistence ?? (typeof indexedDB !== 'undefined' ? 'indexeddb' : 'memory');
    // Loaded with the calendar code, when a calendar is first opened: signing in needs neither.
    this.persistence =
      p === 'indexeddb'
        ? lazyPersistence(() => import('./persistence/indexeddb.js').then((m) => m.indexedDbPersistence()))
        : p === 'memory'
          ? lazyPersistence(() => import('./persistence/memory.js').then((m) => m.memoryPersistence()))
          : p;
    this.loaded = Promise.resolve(this.store.get()).then((s) => {
      this.session = s ?? null;
    });
  }

  // ---------------------------------------------------------------- session

  /**
   * Listens to `session` (`(user: User | null)`: the signed-in user changed) or `auth-required`
   * (`({ code })`: the refresh token was refused, sign in again). Returns the unsubscribe function.
   */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  /** Resolves once the stored session (if any) has been read. */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** The signed-in user (from the stored session; no network). Null before `ready()` or when signed out. */
  get user(): User | null {
    return this.session?.user ?? null;
  }

  /** `user`, once the stored session has been read (`ready()`). */
  async currentUser(): Promise<User | null> {
    await this.loaded;
    return this.user;
  }

  /**
   * Creates an account; does not sign in (call `login`).
   * @param username 3–32 letters, digits, `_`, `.` or `-`, compared case-insensitively (`VALIDATION_FAILED` otherwise)
   * @param password 8–1024 characters
   * @param options.invite an invite code or link: required on `--registration invite-only` servers;
   *   the account joins its room, named by the answer's `room`
   */
  async register(username: string, password: string, options: RegisterOptions = {}): Promise<RegisteredUser> {
    const body = options.invite === undefined ? { username, password } : { username, password, inviteCode: inviteCode(options.invite) };
    return this.request<RegisteredUser>('POST', '/users/register', body, { auth: false });
  }

  /** Signs in; the session is kept in the token store. */
  async login(username: string, password: string): Promise<User> {
    await this.loaded;
    const pair = await this.request<TokenPair>('POST', '/users/login', { username, password }, { auth: false });
    await this.setSession(sessionFrom(pair, undefined));
    return this.session!.user;
  }

  /**
   * Signs out: forgets the session, stops calendars (`auth-required`, code LOGGED_OUT) and revokes
   * the refresh token on the server (best effort: it works offline too).
   */
  async logout(): Promise<void> {
    await this.loaded;
    const s = this.session;
    await this.setSession(null);
    // Calendars stop with auth-required (code LOGGED_OUT) and resume when this user signs in again.
    for (const sync of this.calendars.values()) sync.authRequired('LOGGED_OUT');
    if (s) {
      // Best effort: signing out works offline too (the refresh token then simply expires).
      await this.request('POST', '/users/logout', { refreshToken: s.refreshToken }, { auth: false }).catch(() => undefined);
    }
  }

  /** `GET /users/me`. */
  async me(): Promise<User> {
    return this.request<User>('GET', '/users/me');
  }

  /**
   * Gets a new token pair with the refresh token. Concurrent calls share one request (refresh
   * tokens rotate: a second request with the same one would sign every session out). When
   * `staleToken` is given and the session already holds another token, nothing is sent.
   */
  async refresh(staleToken?: string): Promise<Session> {
    await this.loaded;
    if (this.closed) throw closedError();
    if (this.refreshing) return this.refreshing;
    const current = this.session;
    if (!current) throw new KithApiError(401, 'NOT_LOGGED_IN', 'Not signed in.');
    if (staleToken !== undefined && current.token !== staleToken) return current;
    this.refreshing = this.withRefreshLock(() => this.doRefresh(current)).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(held: Session): Promise<Session> {
    // Another tab (sharing a localStorage store) may have rotated the pair already: adopt it.
    const stored = await this.store.get();
    // Closed while reading the store (or waiting for another tab's refresh): send nothing.
    if (this.closed) throw closedError();
    if (stored && stored.refreshToken !== held.refreshToken && stored.user.userId === held.user.userId) {
      await this.setSession(stored, false);
      if (stored.expiresAt > Date.now() + 1000) return stored;
      held = stored;
    }
    try {
      const pair = await this.request<TokenPair>('POST', '/users/refresh', { refreshToken: held.refreshToken }, { auth: false });
      if (this.closed) {
        // Closed while the answer was on its way: the client, its events and timers stay as they
        // are. The server has retired the token sent, though, and using it again would revoke the
        // whole login: if the store still holds it, the successor replaces it.
        if ((await this.store.get())?.refreshToken === held.refreshToken) await this.store.set(sessionFrom(pair, held.user));
        throw closedError();
      }
      if (this.session?.refreshToken !== held.refreshToken) {
        // Signed out (or in again) while the answer was on its way: keeping the pair would sign the
        // old session back in. Revoke it instead (best effort, as logout does).
        void this.request('POST', '/users/logout', { refreshToken: pair.refreshToken }, { auth: false }).catch(() => undefined);
        if (this.session?.user.userId === held.user.userId) return this.session;
        throw new KithApiError(401, 'NOT_LOGGED_IN', 'Signed out while the token was being refreshed.');
      }
      const next = sessionFrom(pair, held.user);
      await this.setSession(next);
      return next;
    } catch (err) {
      if (err instanceof KithApiError && err.status === 401) {
        // The refresh token is gone (expired, revoked, or reused): this session is over.
        if (!this.closed && this.session?.refreshToken === held.refreshToken) {
          await this.setSession(null);
          this.events.emit('auth-required', { code: err.code });
          for (const sync of this.calendars.values()) sync.authRequired(err.code);
        }
      }
      throw err;
    }
  }

  private async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis as { navigator?: { locks?: { request(name: string, cb: () => Promise<T>): Promise<T> } } })
      .navigator?.locks;
    if (isBrowser && locks) return locks.request(`kith-refresh:${this.baseUrl}`, fn);
    return fn();
  }

  private async setSession(session: Session | null, persist = true): Promise<void> {
    const before = this.session;
    this.session = session;
    if (persist) await this.store.set(session);
    for (const [cal, sync] of this.calendars) {
      if (!session) continue;
      if (cal.user.userId !== session.user.userId) {
        // A calendar opened for someone else must not carry this user's token.
        sync.authRequired('USER_CHANGED');
      } else if (session.token !== before?.token) {
        sync.setToken(session.token);
        // Signed in again after the session ended: resume where it stopped.
        if (sync.stopped === 'auth') cal.connect();
      }
    }
    if (before?.user.userId !== session?.user.userId) this.events.emit('session', session?.user ?? null);
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const s = this.session;
    if (!s || this.closed || this.options.autoRefresh === false || this.calendars.size === 0) return;
    const margin = Math.min((this.options.refreshMarginSeconds ?? 60) * 1000, (s.expiresIn * 1000) / 4);
    // Never sooner than 250 ms: whatever the clocks say, refreshing cannot turn into a tight loop.
    this.setRefreshTimer(Math.max(250, s.expiresAt - margin - Date.now()), s);
  }

  private setRefreshTimer(delay: number, s: Session): void {
    // One timer at most: refreshes that shared a request each arm a retry, and a timer no longer
    // held here would outlive close().
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (this.closed) return;
    if (delay > MAX_TIMER_MS) {
      // setTimeout fires at once past 2^31 - 1 ms (24.8 days): for tokens that live longer, each
      // refresh then scheduled the next at once. Wait that long and look again.
      this.refreshTimer = setTimeout(() => this.scheduleRefresh(), MAX_TIMER_MS);
      (this.refreshTimer as { unref?: () => void }).unref?.();
      return;
    }
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh(s.token).catch((err: unknown) => {
        // Offline or the server is struggling: try again soon (a refused refresh ended the session).
        if (err instanceof KithApiError && err.status !== 401 && this.session === s) this.setRefreshTimer(5000, s);
      });
    }, delay);
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  // ---------------------------------------------------------------- REST

  /**
   * One JSON request. Authenticated requests refresh an expired token first, and on a 401
   * `TOKEN_EXPIRED` (or `UNAUTHENTICATED`) refresh once and retry once.
   * @param method HTTP method (`GET`, `POST`, `PATCH`, `DELETE`, …)
   * @param path a REST path of the server, e.g. `/rooms/abc/events?from=…&to=…`
   * @param body sent as JSON when given
   * @param options.auth false sends no token (default: the session's)
   * @throws KithApiError with the server's catalogue code, or NETWORK_ERROR (status 0)
   */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { auth?: boolean } = {},
  ): Promise<T> {
    const auth = opts.auth ?? true;
    let token: string | undefined;
    if (auth) {
      await this.loaded;
      if (!this.session) throw new KithApiError(401, 'NOT_LOGGED_IN', 'Not signed in.');
      if (this.session.expiresAt <= Date.now()) {
        try {
          await this.refresh(this.session.token);
        } catch (err) {
          if (err instanceof KithApiError && (err.status === 401 || err.code === 'CLIENT_CLOSED')) throw err;
          // Offline: try the request anyway; its own error says more.
        }
      }
      token = this.session?.token;
    }
    const first = await this.send(method, path, body, token);
    if (auth && first.status === 401 && (first.code === 'TOKEN_EXPIRED' || first.code === 'UNAUTHENTICATED')) {
      const s = await this.refresh(token);
      const second = await this.send(method, path, body, s.token);
      return this.result<T>(second);
    }
    return this.result<T>(first);
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
  ): Promise<{ status: number; code?: string; message?: string; data?: unknown; retryAfter?: number }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new KithApiError(0, 'NETWORK_ERROR', `Could not reach ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text().catch(() => '');
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (res.ok) return { status: res.status, data };
    const e = (data as ErrorBody | undefined)?.error;
    const retry = Number(res.headers.get('retry-after'));
    return {
      status: res.status,
      code: typeof e?.code === 'string' ? e.code : 'UNEXPECTED_RESPONSE',
      message: typeof e?.message === 'string' ? e.message : `HTTP ${res.status} from ${method} ${path}`,
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    };
  }

  private result<T>(r: { status: number; code?: string; message?: string; data?: unknown; retryAfter?: number }): T {
    if (r.status >= 200 && r.status < 300) return r.data as T;
    throw new KithApiError(r.status, r.code ?? 'UNEXPECTED_RESPONSE', r.message ?? `HTTP ${r.status}`, r.retryAfter);
  }

  // ---------------------------------------------------------------- rooms

  readonly rooms = {
    /** The rooms I belong to. */
    list: async (): Promise<RoomSummary[]> => (await this.request<{ rooms: RoomSummary[] }>('GET', '/rooms')).rooms,
    /** Creates a room; I am its owner. */
    create: (name: string): Promise<RoomSummary> => this.request<RoomSummary>('POST', '/rooms', { name }),
    /** Details and members; `ROOM_NOT_FOUND` (404) for rooms I am not in. */
    get: (roomId: string): Promise<RoomDetails> => this.request<RoomDetails>('GET', `/rooms/${enc(roomId)}`),
    /** Owner only. */
    invite: (roomId: string, options: InviteOptions): Promise<Invite> =>
      this.request<Invite>('POST', `/rooms/${enc(roomId)}/invites`, options),
    /** Owner only: the room's invites, newest first (expired and used-up ones too, until revoked). */
    invites: async (roomId: string): Promise<InviteSummary[]> =>
      (await this.request<{ invites: InviteSummary[] }>('GET', `/rooms/${enc(roomId)}/invites`)).invites,
    /** Owner only: the invite's link stops working at once. `INVITE_NOT_FOUND` (404) if it is gone already. */
    revokeInvite: async (roomId: string, inviteId: string): Promise<void> => {
      await this.request('DELETE', `/rooms/${enc(roomId)}/invites/${enc(inviteId)}`);
    },
    /** Joins the room of an invite; takes the code or the invite URL. */
    acceptInvite: (codeOrUrl: string): Promise<AcceptedInvite> =>
      this.request<AcceptedInvite>('POST', `/invites/${enc(inviteCode(codeOrUrl))}/accept`),
    /** Owner only; `LAST_OWNER` (409) if the room would have no owner left. */
    setRole: (roomId: string, userId: string, role: Role): Promise<Member> =>
      this.request<Member>('PATCH', `/rooms/${enc(roomId)}/members/${enc(userId)}`, { role }),
    /** Owner, or anyone removing themself. */
    removeMember: async (roomId: string, userId: string): Promise<void> => {
      await this.request('DELETE', `/rooms/${enc(roomId)}/members/${enc(userId)}`);
    },
    /** Leaves the room (removes myself). */
    leave: async (roomId: string): Promise<void> => {
      await this.loaded;
      const me = this.session?.user;
      if (!me) throw new KithApiError(401, 'NOT_LOGGED_IN', 'Not signed in.');
      await this.rooms.removeMember(roomId, me.userId);
    },
  };

  // ---------------------------------------------------------------- calendars

  /**
   * Loads the code that calendars need (Yjs, the calendar model, sync and local storage) without
   * opening one. Optional: `openCalendar` loads it too; call this early (e.g. while a sign-in form
   * is shown) so that the first calendar opens without waiting for it. Rejects if it cannot be
   * loaded (e.g. offline before the app's files were cached); a later call tries again.
   */
  async preloadCalendarCode(): Promise<void> {
    const persistence = this.persistence as Partial<ReturnType<typeof lazyPersistence>>;
    await Promise.all([loadCalendarCode(), persistence.preload?.()]);
  }

  /**
   * Opens a room's calendar. It resolves once the local copy is loaded (works with no server at
   * all), then connects in the background; watch `calendar.status`.
   */
  async openCalendar(roomId: string, options: CalendarOptions = {}): Promise<Calendar> {
    await this.loaded;
    const { Calendar, syncConnectionOf } = await loadCalendarCode();
    if (this.closed) throw closedError();
    const user = this.session?.user;
    if (!user) throw new KithApiError(401, 'NOT_LOGGED_IN', 'Sign in before opening a calendar.');
    const WebSocketImpl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new Error('createKithClient: no WebSocket implementation; pass options.WebSocket (e.g. `ws` in Node 20)');
    const storeName = `kith:${new URL(this.baseUrl).host}:${user.userId}:${roomId}`;
    const calendar = await Calendar.open({
      roomId,
      user,
      storeName,
      persistence: this.persistence,
      syncUrl: this.syncUrl,
      WebSocket: WebSocketImpl,
      host: this.syncHost,
      maxBackoffMs: this.options.maxBackoffMs ?? 2500,
      crossTab: this.options.crossTab ?? isBrowser,
      onClose: (cal) => {
        this.calendars.delete(cal);
        this.scheduleRefresh();
      },
      ...options,
    });
    if (this.closed) {
      // Closed while the local copy was loading: close() did not see this calendar, so nobody
      // else would ever close it (its store, socket and timers).
      await calendar.close().catch(() => undefined);
      throw closedError();
    }
    this.calendars.set(calendar, syncConnectionOf(calendar));
    this.scheduleRefresh();
    if (options.connect !== false) calendar.connect();
    return calendar;
  }

  /** Deletes a room's local copy on this device (close its calendar first). */
  async forgetLocalCopy(roomId: string): Promise<void> {
    await this.loaded;
    const user = this.session?.user;
    if (!user) throw new KithApiError(401, 'NOT_LOGGED_IN', 'Not signed in.');
    await this.persistence.remove(`kith:${new URL(this.baseUrl).host}:${user.userId}:${roomId}`);
  }

  /** Closes every open calendar and stops timers. The session stays in the token store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    await Promise.all([...this.calendars.keys()].map((c) => c.close()));
    this.events.removeAll();
  }

  private readonly syncHost: SyncHost = {
    token: () => this.session?.token,
    fetchState: async (roomId) => {
      // Only with a live token: refreshing and auth errors are the socket's business.
      const session = this.session;
      if (!session || session.expiresAt <= Date.now()) return undefined;
      const res = await this.fetchImpl(`${this.baseUrl}/rooms/${enc(roomId)}/state`, {
        headers: { authorization: `Bearer ${session.token}`, accept: 'application/octet-stream' },
        signal: AbortSignal.timeout(STATE_FETCH_TIMEOUT_MS),
      });
      if (!res.ok || res.headers.get('content-type') !== 'application/octet-stream') return undefined;
      return new Uint8Array(await res.arrayBuffer());
    },
    tokenExpired: () => !!this.session && this.session.expiresAt <= Date.now(),
    refresh: async (stale) => {
      try {
        await this.refresh(stale);
        return 'ok';
      } catch (err) {
        return err instanceof KithApiError && err.status === 401 ? 'auth' : 'offline';
      }
    },
    checkAccess: async (roomId) => {
      try {
        await this.rooms.get(roomId);
        return 'ok';
      } catch (err) {
        if (!(err instanceof KithApiError)) return 'offline';
        if (err.status === 404 || err.status === 403) return 'revoked';
        if (err.status === 401) return 'auth';
        return 'offline';
      }
    },
  };
}

interface TokenPair {
  token: string;
  refreshToken: string;
  expiresIn: number;
}

const enc = encodeURIComponent;

const closedError = () => new KithApiError(0, 'CLIENT_CLOSED', 'The client is closed.');

function inviteCode(codeOrUrl: string): string {
  const m = /\/invites?\/([^/?#]+)\/?(?:[?#].*)?$/.exec(codeOrUrl.trim());
  return m ? decodeURIComponent(m[1]!) : codeOrUrl.trim();
}

/** Creates a client for one Kith server. */
export function createKithClient(options: KithClientOptions): KithClient {
  return new KithClient(options);
}
