/** Change notifications for UIs: which events a transaction touched, from Yjs observeDeep. */
import type * as Y from 'yjs';
import { eventsMap } from './schema.js';

export interface EventsChange {
  /** Ids of events created, changed, trashed, restored or purged, sorted. */
  ids: string[];
  /** True when the change was made on this Y.Doc rather than applied from an update. */
  local: boolean;
  origin: unknown;
}

/** Calls `listener` once per transaction that changed events; returns the unsubscribe function. */
export function observeEvents(doc: Y.Doc, listener: (change: EventsChange) => void): () => void {
  const events = eventsMap(doc);
  const handler = (yevents: Array<Y.YEvent<Y.AbstractType<unknown>>>, tr: Y.Transaction): void => {
    const ids = new Set<string>();
    for (const e of yevents) {
      if (e.target === events) {
        for (const key of e.changes.keys.keys()) ids.add(key);
      } else {
        // path is relative to the observed map, so its first step is the event id.
        const first = e.path[0];
        if (typeof first === 'string') ids.add(first);
      }
    }
    if (ids.size > 0) listener({ ids: [...ids].sort(), local: tr.local, origin: tr.origin });
  };
  events.observeDeep(handler);
  return () => events.unobserveDeep(handler);
}
