import { Counter, type Registry } from 'prom-client';

/** Feed text kept in memory, all rooms together (characters; feeds are mostly ASCII). */
export const FEED_CACHE_CHARS = 64 * 1024 * 1024;

export interface BuiltFeed {
  ics: string;
  etag: string;
  /** Events left out because their stored values cannot be written: the first few, and how many. */
  skipped: { sample: Array<{ eventId: string; reason: string }>; count: number };
}

/**
 * Each room's feed as last built, served again while the room's stored log head and name are what
 * they were: building a 5,000-event room's feed holds the event loop for about 2 s (ical-generator
 * and zone work, measured 7 Dec), and calendar apps poll every few minutes whether anything changed
 * or not. A feed is kept under the key of what it was built from (the stored head read with the
 * stored bytes) and looked up under the head read first: a commit between the two leaves the feed
 * under a newer key than the poll asked for, and at worst makes the next poll build again. Polls
 * that arrive during a build for their key share it. The least recently served feeds go first past
 * `maxChars`.
 */
export class FeedCache {
  private readonly feeds = new Map<string, { key: string; feed: BuiltFeed }>();
  private readonly building = new Map<string, { key: string; feed: Promise<BuiltFeed> }>();
  private chars = 0;
  private readonly builds: Counter;
  private readonly hits: Counter;

  constructor(
    registry: Registry,
    private readonly maxChars = FEED_CACHE_CHARS,
  ) {
    this.builds = new Counter({ name: 'kith_feed_builds_total', help: 'ICS feeds built from a room (the others were served as last built)', registers: [registry] });
    this.hits = new Counter({ name: 'kith_feed_cache_hits_total', help: 'ICS feed requests served as last built (the room had not changed)', registers: [registry] });
  }

  /**
   * The room's feed for `key`: as last built when it was kept under `key`, else from `build`,
   * which names the key its feed is kept under.
   */
  get(roomId: string, key: string, build: () => Promise<{ key: string; feed: BuiltFeed }>): Promise<BuiltFeed> {
    const kept = this.feeds.get(roomId);
    if (kept?.key === key) {
      // Map order is the eviction order: a served feed moves to the end.
      this.feeds.delete(roomId);
      this.feeds.set(roomId, kept);
      this.hits.inc();
      return Promise.resolve(kept.feed);
    }
    const running = this.building.get(roomId);
    if (running?.key === key) {
      this.hits.inc();
      return running.feed;
    }
    this.builds.inc();
    const built = build();
    const feed = built.then((b) => b.feed);
    this.building.set(roomId, { key, feed });
    // Kept only if no build for another key started meanwhile.
    const current = () => this.building.get(roomId)?.feed === feed && this.building.delete(roomId);
    built.then(
      (b) => {
        if (current()) this.keep(roomId, b.key, b.feed);
      },
      () => current(),
    );
    return feed;
  }

  private keep(roomId: string, key: string, feed: BuiltFeed): void {
    const kept = this.feeds.get(roomId);
    if (kept) {
      this.feeds.delete(roomId);
      this.chars -= kept.feed.ics.length;
    }
    if (feed.ics.length > this.maxChars) return;
    this.feeds.set(roomId, { key, feed });
    this.chars += feed.ics.length;
    for (const [id, old] of this.feeds) {
      if (this.chars <= this.maxChars) break;
      this.feeds.delete(id);
      this.chars -= old.feed.ics.length;
    }
  }
}
