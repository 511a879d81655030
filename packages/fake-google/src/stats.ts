/** Counters of what the fake was asked and answered, per route, for tests to assert on (`fake.stats()`). */

export interface FakeStats {
  /** Requests received per route (including failed and faulted ones). */
  requests: Record<string, number>;
  /** Writes applied per route (including `commitThenDrop` ones, whose answer was never sent). */
  writes: Record<string, number>;
  /** Response status codes per route. */
  statuses: Record<string, Record<string, number>>;
  /** Injected faults fired per route. */
  faults: Record<string, number>;
  /** Invitation emails Google would have sent (attendees on writes with `sendUpdates` all/externalOnly). */
  invitationsSent: number;
  /** The last writes applied (at most 1000): route, event id and the top-level fields the body carried. */
  writeLog: Array<{ route: string; eventId: string | null; fields: string[] }>;
}

const emptyStats = (): FakeStats => ({ requests: {}, writes: {}, statuses: {}, faults: {}, invitationsSent: 0, writeLog: [] });
const WRITE_LOG_MAX = 1000;
const bump = (rec: Record<string, number>, key: string, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

export class StatsRecorder {
  private stats = emptyStats();

  request(route: string): void {
    bump(this.stats.requests, route);
  }

  write(route: string, eventId?: string, body?: unknown): void {
    bump(this.stats.writes, route);
    const fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).sort() : [];
    this.stats.writeLog.push({ route, eventId: eventId ?? null, fields });
    if (this.stats.writeLog.length > WRITE_LOG_MAX) this.stats.writeLog.splice(0, this.stats.writeLog.length - WRITE_LOG_MAX);
  }

  status(route: string, statusCode: number): void {
    const byStatus = (this.stats.statuses[route] ??= {});
    bump(byStatus, String(statusCode));
  }

  fault(route: string): void {
    bump(this.stats.faults, route);
  }

  invitations(count: number): void {
    this.stats.invitationsSent += count;
  }

  /** A deep copy, so a test's snapshot does not change under it. */
  snapshot(): FakeStats {
    return JSON.parse(JSON.stringify(this.stats)) as FakeStats;
  }

  reset(): void {
    this.stats = emptyStats();
  }
}
