import { KithError } from '../errors/catalogue.js';

/**
 * Open WebSockets per user and per client address, for `/sync` and `/live` together, so that
 * one account or one host cannot hold thousands of sockets (and their buffers) open. Counts only:
 * no per-socket state here; the caller keeps the user id and address it took a slot with and
 * hands them back when the socket closes.
 */
export class SocketQuota {
  private readonly users = new Map<string, number>();
  private readonly addresses = new Map<string, number>();

  constructor(private readonly limits: { socketsPerUser: number; socketsPerIp: number }) {}

  /** Takes an address slot (at upgrade, before the user is known); throws TOO_MANY_SOCKETS when full. */
  takeAddress(address: string): void {
    take(this.addresses, address, this.limits.socketsPerIp);
  }

  /** Takes a user slot; throws TOO_MANY_SOCKETS when full. */
  takeUser(userId: string): void {
    take(this.users, userId, this.limits.socketsPerUser);
  }

  releaseAddress(address: string): void {
    release(this.addresses, address);
  }

  releaseUser(userId: string): void {
    release(this.users, userId);
  }

  /** Sockets counted for a user / an address (for tests and metrics). */
  userCount(userId: string): number {
    return this.users.get(userId) ?? 0;
  }

  addressCount(address: string): number {
    return this.addresses.get(address) ?? 0;
  }

  /** How many users and addresses hold slots: both drop to 0 once every socket is closed. */
  get size(): { users: number; addresses: number } {
    return { users: this.users.size, addresses: this.addresses.size };
  }
}

function take(counts: Map<string, number>, key: string, limit: number): void {
  const n = counts.get(key) ?? 0;
  if (n >= limit) throw new KithError('TOO_MANY_SOCKETS');
  counts.set(key, n + 1);
}

function release(counts: Map<string, number>, key: string): void {
  const n = counts.get(key) ?? 0;
  // Keys are deleted at zero: the maps hold only who has sockets open right now.
  if (n <= 1) counts.delete(key);
  else counts.set(key, n - 1);
}
