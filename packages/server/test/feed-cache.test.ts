/** FeedCache alone: what is kept under which key, what a build racing another does, and the memory bound. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FeedCache, type BuiltFeed } from '../src/calendar/feed-cache.js';

const feedOf = (ics: string): BuiltFeed => ({ ics, etag: `"${ics}"`, skipped: { sample: [], count: 0 } });

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('FeedCache', () => {
  it('keeps a feed under the key its build names, not the key it was asked for', async () => {
    const cache = new FeedCache(new Registry());
    let builds = 0;
    const build = (key: string, ics: string) => async () => (builds++, { key, feed: feedOf(ics) });
    // Asked at head 5; a commit landed before the stored bytes were read: built at 6.
    expect((await cache.get('r', '5', build('6', 'six'))).ics).toBe('six');
    expect((await cache.get('r', '6', build('6', 'never'))).ics).toBe('six');
    expect((await cache.get('r', '5', build('5', 'asked for 5 again'))).ics).toBe('asked for 5 again');
    expect(builds).toBe(2);
  });

  it('shares a running build with polls for the same key, and keeps nothing of a build overtaken by one for a newer key', async () => {
    const cache = new FeedCache(new Registry());
    const slow = deferred<{ key: string; feed: BuiltFeed }>();
    const a = cache.get('r', '1', () => slow.promise);
    const b = cache.get('r', '1', async () => ({ key: '1', feed: feedOf('second build') }));
    const newer = cache.get('r', '2', async () => ({ key: '2', feed: feedOf('two') }));
    slow.resolve({ key: '1', feed: feedOf('one') });
    expect([(await a).ics, (await b).ics, (await newer).ics]).toEqual(['one', 'one', 'two']);
    expect((await cache.get('r', '2', async () => ({ key: '2', feed: feedOf('rebuilt') }))).ics).toBe('two');
    expect((await cache.get('r', '1', async () => ({ key: '1', feed: feedOf('one again') }))).ics).toBe('one again');
  });

  it('forgets a failed build, and drops the least recently served feeds past its size', async () => {
    const cache = new FeedCache(new Registry(), 10);
    await expect(cache.get('r', '1', async () => Promise.reject(new Error('room unavailable')))).rejects.toThrow('room unavailable');
    expect((await cache.get('r', '1', async () => ({ key: '1', feed: feedOf('1234') }))).ics).toBe('1234');
    await cache.get('s', '1', async () => ({ key: '1', feed: feedOf('abcd') }));
    await cache.get('r', '1', async () => ({ key: '1', feed: feedOf('not built') })); // r served again: s is older now
    await cache.get('t', '1', async () => ({ key: '1', feed: feedOf('wxyz') })); // 12 characters: s goes
    expect((await cache.get('s', '1', async () => ({ key: '1', feed: feedOf('abcd built again') }))).ics).toBe('abcd built again');
    expect((await cache.get('u', '1', async () => ({ key: '1', feed: feedOf('more than ten') }))).ics).toBe('more than ten');
    expect((await cache.get('u', '1', async () => ({ key: '1', feed: feedOf('too big to keep') }))).ics).toBe('too big to keep');
  });
});
