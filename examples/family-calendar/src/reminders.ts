/**
 * Reminders while the app is open: a browser notification (when allowed) and a message in the
 * page at `minutesBefore` each occurrence. Each one fires once per device.
 *
 * The server may send the same reminder by Web Push. Both are shown through the service worker
 * with the server's tag (`rem:<eventId>:<occKey>`, see reminderTag), so the browser keeps one
 * notification: whichever comes second replaces the first instead of adding a second one.
 */
import type { Calendar, Occurrence, ReminderDefaults } from '@kith/client';
import { eventLink } from './deep-link.js';
import { describeSpan } from './times.js';

const FIRED_KEY = 'kith.app.reminders-fired';
const LOOK_AHEAD_MS = 8 * 24 * 3600_000; // the longest reminder offered is a week before
const STALE_MS = 10 * 60_000; // a reminder missed by more than this (app closed) is not shown late

function loadFired(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(FIRED_KEY) ?? '{}') as Record<string, number>;
  } catch {
    return {};
  }
}

/**
 * The offsets (minutes before) I am reminded at for `occ`: its reminders that reach me, else — as
 * the server counts them (packages/server/src/notify/reminders.ts) — my defaults for the room,
 * when the occurrence is mine (it names no participants, or me among them).
 */
export function remindersFor(occ: Occurrence, me: string, defaults: ReminderDefaults = { timed: [], allDay: [] }): number[] {
  const mine = occ.participants.length === 0 || occ.participants.includes(me);
  const own = occ.reminders.filter((r) => (r.for === null ? mine : r.for.includes(me))).map((r) => r.minutesBefore);
  if (own.length > 0 || !mine) return own;
  return occ.allDay ? defaults.allDay : defaults.timed;
}

/** The tag the server's push reminders carry (packages/server/src/notify/texts.ts). */
export function reminderTag(eventId: string, occKey: string): string {
  return `rem:${eventId}:${occKey}`;
}

export function startReminders(cal: Calendar, me: string, show: (title: string, body: string, tag: string, url: string) => void): () => void {
  const tick = () => {
    const now = Date.now();
    const fired = loadFired();
    let dirty = false;
    for (const [k, at] of Object.entries(fired)) {
      if (at < now - LOOK_AHEAD_MS) {
        delete fired[k];
        dirty = true;
      }
    }
    const defaults = cal.reminderDefaults(me);
    const occs = cal.occurrences({ from: new Date(now - STALE_MS).toISOString(), to: new Date(now + LOOK_AHEAD_MS).toISOString() });
    for (const occ of occs) {
      const start = Date.parse(occ.startInstant);
      for (const minutes of remindersFor(occ, me, defaults)) {
        const at = start - minutes * 60_000;
        const key = `${cal.roomId}|${occ.eventId}|${occ.occKey}|${minutes}`;
        if (at > now || at < now - STALE_MS || fired[key]) continue;
        fired[key] = start;
        dirty = true;
        let when = '';
        try {
          when = describeSpan(occ.start, occ.end);
        } catch {
          /* keep it short */
        }
        show(occ.title || 'Event', minutes === 0 ? `Now: ${when}` : `${when}${occ.location ? ` · ${occ.location}` : ''}`, reminderTag(occ.eventId, occ.occKey), eventLink(cal.roomId, occ.eventId));
      }
    }
    if (dirty) localStorage.setItem(FIRED_KEY, JSON.stringify(fired));
  };
  tick();
  const timer = setInterval(tick, 20_000);
  // A new or moved event may be due at once: look again shortly after every change.
  let soon: ReturnType<typeof setTimeout> | undefined;
  const off = cal.on('change', () => {
    if (!soon) soon = setTimeout(() => ((soon = undefined), tick()), 1000);
  });
  return () => {
    clearInterval(timer);
    if (soon) clearTimeout(soon);
    off();
  };
}

/**
 * Shows a system notification when the person allowed them: through the service worker when one
 * runs (so a push with the same tag replaces it, and a click opens the event), else from the page.
 */
export function systemNotify(title: string, body: string, tag: string, url: string): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const options = { body, tag, icon: '/icon.svg', data: { url } };
  if (navigator.serviceWorker?.controller) {
    void navigator.serviceWorker.ready.then((reg) => reg.showNotification(title, options));
    return;
  }
  try {
    new Notification(title, options);
  } catch {
    // Some browsers (Android Chrome) only allow notifications from the service worker.
    void navigator.serviceWorker?.ready.then((reg) => reg.showNotification(title, options));
  }
}
