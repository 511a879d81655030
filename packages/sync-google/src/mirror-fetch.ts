/** What the export reads from Google when its side of a part is unknown or stale: one event, one instance. */
import { defaultsFor, exceptionKey, googleOccurrence, googleUpdated, type PartCanon, type RemoteException } from './canon.js';
import { classify, type GoogleClients } from './google.js';
import type { MirrorTools } from './mirror-context.js';
import type { GEvent } from './mirror-state.js';
import type { LinkRow, MirrorRow } from './store.js';

/** The event as Google has it now; null when Google has no such event. */
export async function fetchEvent(tools: MirrorTools, link: LinkRow, google: GoogleClients, eventId: string): Promise<GEvent | null> {
  try {
    const res = await tools.call(link, google, 'events.get', () => google.api.events.get({ calendarId: link.calendarId, eventId }));
    return res.data;
  } catch (err) {
    const failure = classify(err);
    if (failure.status === 404) return null;
    throw failure;
  }
}

/** The instance of a series at an occurrence key, looked for in the days around it; null when Google has none. */
export async function findInstance(tools: MirrorTools, link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, key: string): Promise<RemoteException | null> {
  const defaults = defaultsFor(ours, key);
  const center = defaults.time.allDay ? Date.parse(`${key}T00:00:00Z`) : defaults.time.start;
  const day = 86_400_000;
  const res = await tools.call(link, google, 'events.instances', () =>
    google.api.events.instances({
      calendarId: link.calendarId,
      eventId: row.googleId,
      timeMin: new Date(center - 2 * day).toISOString(),
      timeMax: new Date(center + 3 * day).toISOString(),
      showDeleted: true,
      maxResults: 50,
    }),
  );
  const master = row.remote?.master ?? null;
  for (const item of res.data.items ?? []) {
    if (!item.id || exceptionKey(item, master, link.calendarTz) !== key) continue;
    const cancelled = item.status === 'cancelled';
    return { id: item.id, etag: item.etag ?? '', updated: googleUpdated(item), cancelled, values: cancelled ? null : googleOccurrence(item, link.calendarTz) };
  }
  return null;
}
