/** Google's per-user request quota: beyond `limit` requests in a sliding minute, 403 `userRateLimitExceeded`. */
import { errors } from './errors.js';

export class RequestQuota {
  private readonly userRequests = new Map<string, number[]>();

  constructor(
    private readonly limit: number | undefined,
    private readonly now: () => number,
  ) {}

  check(email: string): void {
    if (!this.limit) return;
    const t = this.now();
    const list = (this.userRequests.get(email) ?? []).filter((x) => x > t - 60_000);
    if (list.length >= this.limit) {
      this.userRequests.set(email, list);
      throw errors.userRateLimitExceeded();
    }
    list.push(t);
    this.userRequests.set(email, list);
  }

  clear(): void {
    this.userRequests.clear();
  }
}
