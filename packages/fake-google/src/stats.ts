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
}

const emptyStats = (): FakeStats => ({ requests: {}, writes: {}, statuses: {}, faults: {}, invitationsSent: 0 });
const bump = (rec: Record<string, number>, key: string, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

export class StatsRecorder {
  private stats = emptyStats();

  request(route: string): void {
    bump(this.stats.requests, route);
  }

  write(route: string): void {
    bump(this.stats.writes, route);
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
