/**
 * The parts of the client that only calendars need (Yjs, the calendar model with its recurrence
 * rules and time zones, y-websocket, y-indexeddb) are loaded on first use, so that an app's
 * sign-in screen does not wait for them. Bundlers (vite, rollup, esbuild) turn each `import()`
 * below into a chunk of its own; Node simply loads the module.
 */
import type { LocalPersistence, RoomStore } from './persistence/types.js';

let calendarCode: Promise<typeof import('./calendar.js')> | undefined;

/** The calendar module, loaded once. */
export function loadCalendarCode(): Promise<typeof import('./calendar.js')> {
  // A failed load (offline before the code was cached) is not remembered: the next call tries again.
  calendarCode ??= import('./calendar.js').catch((err: unknown) => {
    calendarCode = undefined;
    throw err;
  });
  return calendarCode;
}

/** A persistence whose implementation is loaded when a room is first opened or removed. */
export function lazyPersistence(load: () => Promise<LocalPersistence>): LocalPersistence & { preload(): Promise<unknown> } {
  let loaded: Promise<LocalPersistence> | undefined;
  const get = () =>
    (loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    }));
  return {
    /** Loads the implementation now (with the calendar code), so the first open does not wait for it. */
    preload: () => get(),
    async open(name, doc): Promise<RoomStore> {
      return (await get()).open(name, doc);
    },
    async remove(name): Promise<void> {
      await (await get()).remove(name);
    },
  };
}
