/**
 * The live JSON socket (`/live`): events and their changes as JSON on a plain WebSocket, for
 * clients that do not speak Yjs.
 *
 *   → {"type":"join_room","roomId","token"}              ← {"type":"joined","roomId","role"}
 *   → {"type":"create_event","roomId","eventTitle","startTime","endTime","participants"?,…}
 *                                                        ← {"type":"event_created","roomId","eventId","event"}
 *   → {"type":"update_event","roomId","eventId",…fields} ← {"type":"event_updated","roomId","eventId","event"}
 *   → {"type":"delete_event","roomId","eventId"}         ← {"type":"event_deleted","roomId","eventId"}
 *   → {"type":"leave_room","roomId"}                     ← {"type":"left","roomId"}
 *   → {"type":"token","token"}                           ← {"type":"token_refreshed","expiresAt"}
 *   → {"type":"ping"}                                    ← {"type":"pong"}
 *
 * Every member joined to a room receives `{"type":"update_event","roomId","event"}` whenever an
 * event is created or changed there, and `{"type":"delete_event","roomId","eventId"}` when one is
 * deleted — by anyone: this socket, REST, a Yjs client, an import. Errors are
 * `{"type":"error","code","message","roomId"?,"requestId"?}` with catalogue codes; any message may
 * carry a `requestId`, echoed in its answer. One socket may join several rooms, all with tokens of
 * one user; the socket closes with 4401 when its newest token expires.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Compile } from 'typebox/compile';
import { Type, type TSchema } from 'typebox';
import { createEvent, deleteEvent, getEvent, updateEvent } from '@kith/model';
import { verifyAccessToken } from '../auth/access-tokens.js';
import type { KithConfig } from '../config/config.js';
import { ERRORS, KithError, type ErrorCode } from '../errors/catalogue.js';
import { describeValidation } from '../errors/http.js';
import type { MembershipEvents } from '../rooms/membership-events.js';
import { MembershipWatches } from '../rooms/membership-watches.js';
import type { Role, Storage } from '../storage/storage.js';
import type { UpgradeAccess } from '../modules/module.js';
import type { RoomApi } from '../sync/room-api.js';
import { refuseUpgrade } from '../sync/upgrade.js';
import { PingSlices } from '../sync/ping-slices.js';
import { TokenBucket } from '../sync/token-bucket.js';
import { eventView, toEventInput, toEventPatch, type ChargeWork, type EventBody } from './api-events.js';
import { Channels, type ChannelListener, type EventChange } from './channels.js';
import { asKithError, modelCall } from './errors.js';
import { CreateEventBody, PatchEventBody } from './schemas.js';
import { idUnits, WorkBudgets } from './work-budget.js';

export interface LiveDeps {
  app: FastifyInstance;
  rooms: RoomApi;
  /** Socket caps shared with `/sync`, and the client address as `/sync` resolves it. */
  upgrades: Pick<UpgradeAccess, 'quota' | 'addressOf'>;
  storage: Storage;
  config: KithConfig;
  logger: Logger;
  membership?: Pick<MembershipEvents, 'subscribe'>;
  /** Conversion-work budgets by user, shared with the REST routes (work-budget.ts). */
  work?: WorkBudgets;
}

/** Largest JSON message; larger ones close the socket with 1009. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** Malformed or unknown messages tolerated before the socket is closed (4400). */
const MAX_STRIKES = 10;
/** A socket that has not joined any room by then is closed (4401). */
const JOIN_TIMEOUT_MS = 30_000;
/**
 * Past this much unsent data the client is not reading; it is closed (4429) and re-lists on
 * reconnect. Messages here are single events (a few KB at most), so 1 MB is hundreds behind:
 * lower than /sync's 16 MB, which must fit a whole room's sync answer.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A closed socket whose peer does not answer the close handshake is cut off after this. */
const CLOSE_GRACE_MS = 2_000;
/**
 * Each message takes one token of the socket's bucket (--updates-per-second) plus one per this
 * many bytes: reading and checking 256 KiB of small JSON items costs ~2.5 ms, so a socket sending
 * the largest messages (17 tokens each) spends ~30 ms a second on them, even before it joins.
 */
const BYTES_PER_TOKEN = 16 * 1024;
const RoomId = Type.String({ minLength: 1, maxLength: 64 });
const RequestId = Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Number()]));
const checkers = {
  join_room: Compile(Type.Object({ type: Type.Literal('join_room'), roomId: RoomId, token: Type.String({ maxLength: 4096 }), requestId: RequestId }, { additionalProperties: false })),
  leave_room: Compile(Type.Object({ type: Type.Literal('leave_room'), roomId: RoomId, requestId: RequestId }, { additionalProperties: false })),
  token: Compile(Type.Object({ type: Type.Literal('token'), token: Type.String({ maxLength: 4096 }), requestId: RequestId }, { additionalProperties: false })),
  ping: Compile(Type.Object({ type: Type.Literal('ping'), requestId: RequestId }, { additionalProperties: false })),
  create_event: Compile(withEnvelope(CreateEventBody, {})),
  update_event: Compile(withEnvelope(PatchEventBody, { eventId: Type.String({ minLength: 1, maxLength: 128 }) })),
  delete_event: Compile(Type.Object({ type: Type.Literal('delete_event'), roomId: RoomId, eventId: Type.String({ minLength: 1, maxLength: 128 }), requestId: RequestId }, { additionalProperties: false })),
};

type MessageType = keyof typeof checkers;

/** An event body schema plus `type`, `roomId`, `requestId` (and extra envelope fields). */
function withEnvelope(body: TSchema & { properties: Record<string, TSchema> }, extra: Record<string, TSchema>) {
  return Type.Object(
    { ...body.properties, type: Type.String(), roomId: RoomId, requestId: RequestId, ...extra },
    { additionalProperties: false },
  );
}

const ENVELOPE = new Set(['type', 'roomId', 'requestId', 'eventId']);
const bodyOf = (msg: Record<string, unknown>): EventBody =>
  Object.fromEntries(Object.entries(msg).filter(([k]) => !ENVELOPE.has(k))) as EventBody;

/** A message over its user's work budget (closes the socket with 4429). */
class OverBudget extends KithError {
  constructor() {
    super('RATE_LIMITED');
  }
}

/** Bytes of a received message. */
function sizeOf(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

export class LiveServer {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<LiveSocket>();
  readonly channels: Channels;
  readonly work: WorkBudgets;
  /** Membership changes told while a socket reads a role (see MembershipWatches). */
  readonly memberships = new MembershipWatches();
  private accepting = true;
  readonly pings: PingSlices;
  private readonly unsubscribe: () => void;

  constructor(readonly deps: LiveDeps) {
    this.work = deps.work ?? new WorkBudgets();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });
    this.channels = new Channels({ rooms: deps.rooms, storage: deps.storage, logger: deps.logger });
    this.pings = new PingSlices(deps.config.sync.pingIntervalMs, (visit) => {
      for (const s of this.sockets) if (!s.closed) visit(s, s.ws);
    });
    this.unsubscribe =
      deps.membership?.subscribe((change) => {
        this.memberships.changed(change.roomId, change.userId, change.role);
        for (const s of this.sockets) s.membershipChanged(change.roomId, change.userId, change.role);
      }) ?? (() => undefined);
  }

  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const { quota, addressOf } = this.deps.upgrades;
    const address = addressOf(req);
    try {
      if (!this.accepting) throw new KithError('SHUTTING_DOWN');
      // The user is known only once the socket joins a room: the address is counted now, the user then.
      quota.takeAddress(address);
    } catch (err) {
      refuseUpgrade(socket, err);
      return;
    }
    let upgraded = false;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      if (!this.accepting) {
        quota.releaseAddress(address);
        ws.close(ERRORS.SHUTTING_DOWN.closeCode, 'SHUTTING_DOWN');
        return;
      }
      const live = new LiveSocket(ws, this, address);
      this.sockets.add(live);
      ws.on('close', () => {
        this.sockets.delete(live);
        live.dispose();
        live.releaseSlots();
      });
    });
    // A bad handshake is answered by ws itself without calling back: give the slot back.
    if (!upgraded) quota.releaseAddress(address);
  };

  async close(): Promise<void> {
    this.accepting = false;
    this.pings.stop();
    this.unsubscribe();
    for (const s of [...this.sockets]) s.close('SHUTTING_DOWN');
    this.channels.closeAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

class LiveSocket implements ChannelListener {
  private user: { userId: string; username: string } | undefined;
  private expiresAt = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private readonly rooms = new Map<string, Role>();
  private readonly bucket: TokenBucket;
  private strikes = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Keep-alive: pong seen since the last ping; which tick of the interval pings this socket. */
  alive = true;
  readonly pingSlice: number;
  closed = false;
  /** Counted in the socket quota under its user (from its first token on). */
  private userSlot = false;
  private addressSlot = true;

  constructor(
    readonly ws: WebSocket,
    private readonly server: LiveServer,
    private readonly address: string,
  ) {
    const { limits } = server.deps.config;
    this.pingSlice = server.pings.assign();
    this.bucket = new TokenBucket(limits.updatesPerSecond, limits.updatesBurst);
    this.joinTimer = setTimeout(() => this.close('UNAUTHENTICATED'), JOIN_TIMEOUT_MS);
    this.joinTimer.unref();
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (err) => server.deps.logger.debug({ err }, 'live socket error'));
  }

  get userId(): string {
    return this.user?.userId ?? '';
  }

  // ---- ChannelListener

  deliver(roomId: string, role: Role, changes: EventChange[]): void {
    if (!this.rooms.has(roomId)) return;
    this.rooms.set(roomId, role);
    for (const change of changes) this.send(change);
  }

  revoked(roomId: string): void {
    if (!this.rooms.delete(roomId)) return;
    this.sendError(new KithError('MEMBERSHIP_REVOKED'), { roomId });
  }

  lost(roomId: string): void {
    if (!this.rooms.delete(roomId)) return;
    this.sendError(new KithError('ROOM_UNAVAILABLE', 'The room could not be reloaded; join it again.'), { roomId });
  }

  /** A membership change published by the room API: removal stops delivery at once. */
  membershipChanged(roomId: string, userId: string, role: Role | null): void {
    if (userId !== this.userId || !this.rooms.has(roomId)) return;
    if (role !== null) {
      this.rooms.set(roomId, role);
      return;
    }
    this.server.channels.unlisten(roomId, this);
    this.revoked(roomId);
  }

  /** Stops hearing the room (quietly); false when the socket had not joined it. */
  private leave(roomId: string): boolean {
    if (!this.rooms.delete(roomId)) return false;
    this.server.channels.unlisten(roomId, this);
    return true;
  }

  // ---- socket

  close(code: ErrorCode): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(ERRORS[code].closeCode, code);
    // A peer that never reads never answers the close handshake either (its buffers stay held).
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
    this.dispose();
  }

  /** Gives the socket's quota slots back; once the socket is really gone (its buffers freed). */
  releaseSlots(): void {
    const { quota } = this.server.deps.upgrades;
    if (this.addressSlot) quota.releaseAddress(this.address);
    if (this.userSlot && this.user) {
      quota.releaseUser(this.user.userId);
      this.server.work.release(this.user.userId);
    }
    this.addressSlot = this.userSlot = false;
  }

  dispose(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.joinTimer);
    for (const roomId of this.rooms.keys()) this.server.channels.unlisten(roomId, this);
    this.rooms.clear();
  }

  private send(message: object): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close('RATE_LIMITED');
      return;
    }
    this.ws.send(JSON.stringify(message));
  }

  /** Takes conversion work from the user's budget (work-budget.ts), or throws OverBudget. */
  private readonly charge: ChargeWork = (units) => {
    if (units > 0 && !this.server.work.take(this.userId, units)) throw new OverBudget();
  };

  private sendError(err: KithError, extra: Record<string, unknown> = {}): void {
    this.send({ type: 'error', code: err.code, message: err.message, ...extra });
  }

  private strike(err: KithError, extra: Record<string, unknown> = {}): void {
    this.sendError(err, extra);
    if (++this.strikes >= MAX_STRIKES) this.close('MALFORMED_MESSAGE');
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!this.bucket.take(1 + Math.floor(sizeOf(data) / BYTES_PER_TOKEN))) {
      this.close('RATE_LIMITED');
      return;
    }
    if (isBinary) {
      this.strike(new KithError('MALFORMED_MESSAGE', 'Send JSON text frames.'));
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      this.strike(new KithError('MALFORMED_MESSAGE', 'The message is not valid JSON.'));
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
      this.strike(new KithError('MALFORMED_MESSAGE', 'A message is a JSON object with a string "type".'));
      return;
    }
    const m = msg as Record<string, unknown> & { type: string };
    const requestId = typeof m.requestId === 'string' || typeof m.requestId === 'number' ? { requestId: m.requestId } : {};
    if (!Object.hasOwn(checkers, m.type)) {
      this.strike(new KithError('UNKNOWN_MESSAGE_TYPE', `Unknown message type "${m.type.slice(0, 40)}".`), requestId);
      return;
    }
    const checker = checkers[m.type as MessageType];
    const roomRef = typeof m.roomId === 'string' ? { roomId: m.roomId.slice(0, 64) } : {};
    if (!checker.Check(m)) {
      const message = describeValidation(m.type, [...checker.Errors(m)]) ?? 'The message is invalid.';
      this.strike(new KithError('VALIDATION_FAILED', message), { ...requestId, ...roomRef });
      return;
    }
    // One message at a time, in order: a create sent right after a join sees the join done.
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await this.handle(m as Record<string, unknown> & { type: string });
      } catch (err) {
        if (err instanceof OverBudget) return this.close('RATE_LIMITED');
        const e = asKithError(err);
        if (e.code === 'INTERNAL') this.server.deps.logger.error({ err, type: m.type }, 'live message failed');
        this.sendError(e, { ...requestId, ...roomRef });
      }
    });
  }

  private async handle(m: Record<string, unknown> & { type: string }): Promise<void> {
    const reply = (message: Record<string, unknown>) =>
      this.send(m.requestId !== undefined ? { ...message, requestId: m.requestId } : message);
    const { rooms, storage } = this.server.deps;
    switch (m.type as MessageType) {
      case 'ping':
        return reply({ type: 'pong' });
      case 'token': {
        this.authenticate(m.token as string);
        return reply({ type: 'token_refreshed', expiresAt: new Date(this.expiresAt).toISOString() });
      }
      case 'join_room': {
        const roomId = m.roomId as string;
        this.authenticate(m.token as string);
        // Until the join is answered: a change told while the member read is in flight wins over
        // the read's answer (a removal must not be undone by subscribing, a demotion by the reply).
        const watch = this.server.memberships.watch(roomId, this.userId);
        try {
          const role = watch.roleAfter(await storage.rooms.member(roomId, this.userId));
          // Closed meanwhile: its rooms were let go already, and nothing may listen again.
          if (this.closed) return;
          if (role === null) {
            this.leave(roomId);
            throw new KithError('ROOM_NOT_FOUND');
          }
          if (!this.rooms.has(roomId)) {
            this.rooms.set(roomId, role);
            try {
              await this.server.channels.listen(roomId, this);
            } catch (err) {
              this.rooms.delete(roomId);
              throw err;
            }
            if (this.closed) return;
          }
          // From the set above on, changes reach the socket itself: one that took the room away
          // meanwhile (a removal, the channel's own revocation, a lost room) is not undone here.
          const latest = watch.latest();
          if (!this.rooms.has(roomId) || latest === null) {
            this.leave(roomId);
            throw latest === null ? new KithError('MEMBERSHIP_REVOKED') : new KithError('ROOM_UNAVAILABLE', 'The room was left while joining; join it again.');
          }
          const now = latest ?? role;
          this.rooms.set(roomId, now);
          clearTimeout(this.joinTimer);
          return reply({ type: 'joined', roomId, role: now });
        } finally {
          watch.end();
        }
      }
      case 'leave_room': {
        const roomId = m.roomId as string;
        this.leave(roomId);
        return reply({ type: 'left', roomId });
      }
      case 'create_event': {
        const roomId = await this.writer(m.roomId as string);
        const actor = this.userId;
        const body = bodyOf(m);
        this.charge(idUnits(body));
        const event = await rooms.edit(roomId, (doc) =>
          modelCall(() => {
            const id = createEvent(doc, toEventInput(body, this.charge), { actor });
            return eventView(getEvent(doc, id)!);
          }),
        );
        return reply({ type: 'event_created', roomId, eventId: event.eventId, event });
      }
      case 'update_event': {
        const roomId = await this.writer(m.roomId as string);
        const actor = this.userId;
        const eventId = m.eventId as string;
        const body = bodyOf(m);
        this.charge(idUnits(body));
        const event = await rooms.edit(roomId, (doc) =>
          modelCall(() => {
            const current = getEvent(doc, eventId);
            if (!current || current.deleted !== null) throw new KithError('EVENT_NOT_FOUND');
            updateEvent(doc, eventId, toEventPatch(body, current, this.charge), { actor });
            return eventView(getEvent(doc, eventId)!);
          }),
        );
        return reply({ type: 'event_updated', roomId, eventId, event });
      }
      case 'delete_event': {
        const roomId = await this.writer(m.roomId as string);
        const actor = this.userId;
        const eventId = m.eventId as string;
        await rooms.edit(roomId, (doc) =>
          modelCall(() => {
            const current = getEvent(doc, eventId);
            if (!current || current.deleted !== null) throw new KithError('EVENT_NOT_FOUND');
            deleteEvent(doc, eventId, { actor });
          }),
        );
        return reply({ type: 'event_deleted', roomId, eventId });
      }
    }
  }

  /** Verifies a token of this socket's user and moves the socket's expiry to the token's. */
  private authenticate(token: string): void {
    const claims = verifyAccessToken(this.server.deps.app, token);
    if (this.user && claims.userId !== this.user.userId) throw new KithError('TOKEN_USER_MISMATCH');
    if (!this.userSlot) {
      try {
        this.server.deps.upgrades.quota.takeUser(claims.userId);
        this.server.work.acquire(claims.userId);
      } catch (err) {
        // Over the user's socket cap: say so, then close (the client should not retry at once).
        this.sendError(asKithError(err));
        this.close('TOO_MANY_SOCKETS');
        throw err;
      }
      this.userSlot = true;
    }
    this.user = { userId: claims.userId, username: claims.username };
    const expiresAt = claims.exp * 1000;
    if (expiresAt <= this.expiresAt) return;
    this.expiresAt = expiresAt;
    clearTimeout(this.expiryTimer);
    // setTimeout holds at most ~24.8 days; re-arm in steps for longer-lived tokens.
    const arm = () => {
      const left = this.expiresAt - Date.now();
      if (left <= 0) return this.close('TOKEN_EXPIRED');
      this.expiryTimer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
      this.expiryTimer.unref();
    };
    arm();
  }

  /** The room, if this socket joined it and its user may still write there (read fresh from storage). */
  private async writer(roomId: string): Promise<string> {
    if (!this.rooms.has(roomId)) throw new KithError('NOT_JOINED', `Join room "${roomId.slice(0, 64)}" first.`);
    if (this.expiresAt <= Date.now()) throw new KithError('TOKEN_EXPIRED');
    // A change told while the read is in flight wins over its answer (a demotion or a removal
    // must not be undone by a read that started before it).
    const watch = this.server.memberships.watch(roomId, this.userId);
    let member: { role: Role } | undefined;
    try {
      member = await this.server.deps.storage.rooms.member(roomId, this.userId);
    } finally {
      watch.end();
    }
    const role = watch.roleAfter(member);
    if (role === null) {
      this.leave(roomId);
      throw new KithError('MEMBERSHIP_REVOKED');
    }
    // Left meanwhile (revoked by a delivery, lost, closed): a read does not join it again.
    if (!this.rooms.has(roomId)) throw new KithError('NOT_JOINED', `Join room "${roomId.slice(0, 64)}" first.`);
    this.rooms.set(roomId, role);
    if (role === 'viewer') throw new KithError('READ_ONLY');
    return roomId;
  }
}
