/** The words of notifications: short titles and plain bodies, times in the member's own zone. */
import type { Delivery } from './delivery.js';
import type { DueReminder } from './reminders.js';

export function formatTime(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false }).format(ms);
}

export function formatDay(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short' }).format(ms);
}

export function reminderMessage(roomId: string, roomName: string, r: DueReminder, zone: string, now: number): Omit<Delivery, 'key'> {
  const when = r.allDay ? formatDay(r.startMs, r.tz) : `${formatDay(r.startMs, zone)} ${formatTime(r.startMs, zone)}`;
  const minutes = Math.round((r.startMs - now) / 60_000);
  const soon = minutes < 60 ? `in ${minutes} min` : minutes < 2_880 ? `in ${Math.round(minutes / 60)} h` : `in ${Math.round(minutes / 1_440)} days`;
  return {
    userId: r.userId,
    roomId,
    kind: 'reminder',
    title: r.allDay ? `${r.title} (${when})` : `${r.title} at ${formatTime(r.startMs, zone)}`,
    body: `${r.title}: ${when}, ${soon}${roomName ? ` · ${roomName}` : ''}`,
    url: `/#/rooms/${encodeURIComponent(roomId)}/events/${encodeURIComponent(r.eventId)}`,
    tag: `rem:${r.eventId}:${r.occKey}`,
  };
}
