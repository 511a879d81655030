/**
 * The notification parts of the app without a browser: the event links a push or an email opens,
 * what the reminder fields write (mine, everyone's, other members' kept as they are), and which
 * reminders the open tab shows (the event's, else my defaults for the room).
 */
import { describe, expect, it } from 'vitest';
import { eventLink, parseEventLink } from '../src/deep-link.js';
import type { Occurrence } from '@kith/client';
import { describeOffset, remindersFrom, rowsFrom } from '../src/reminder-fields.js';
import { remindersFor } from '../src/reminders.js';

describe('event links', () => {
  it('round-trip room and event ids, escaped, in the form the server writes', () => {
    expect(eventLink('r1', 'e1')).toBe('/#/rooms/r1/events/e1');
    const link = eventLink('room/with space', 'ev#1');
    expect(parseEventLink(new URL(link, 'https://kith.test').hash)).toEqual({ roomId: 'room/with space', eventId: 'ev#1' });
  });

  it('refuse anything else', () => {
    for (const hash of ['', '#/', '#/rooms/r1', '#/rooms/r1/events/', '#/rooms//events/e1', '#/rooms/r1/events/e1/x', '#/rooms/%E0%A4%A/events/e1', `#/rooms/${'a'.repeat(400)}/events/e1`]) {
      expect(parseEventLink(hash), hash).toBeNull();
    }
  });
});

describe('reminder fields', () => {
  const stored = [
    { id: 'a', minutesBefore: 15, for: ['ann'] },
    { id: 'b', minutesBefore: 1440, for: null },
    { id: 'c', minutesBefore: 60, for: ['ben'] },
  ];

  it('read mine as "for me", null as "for everyone", and keep other members’ own reminders untouched', () => {
    const rows = rowsFrom(stored, 'ann');
    expect(rows.map((r) => [r.minutesBefore, r.forMe, r.others ?? null])).toEqual([
      [15, true, null],
      [1440, false, null],
      [60, false, ['ben']],
    ]);
    expect(remindersFrom(rows, 'ann')).toEqual(stored);
  });

  it('write a new row without an id (the model makes one) and flip "for whom"', () => {
    const rows = rowsFrom(stored.slice(0, 1), 'ann');
    rows[0]!.forMe = false;
    rows.push({ key: 'new', minutesBefore: 900, forMe: true });
    expect(remindersFrom(rows, 'ann')).toEqual([
      { id: 'a', minutesBefore: 15, for: null },
      { minutesBefore: 900, for: ['ann'] },
    ]);
  });

  it('name offsets: presets, whole days or hours, else minutes; all-day ones from 9:00 the day before', () => {
    expect(describeOffset(900, true)).toBe('At 9:00 the day before');
    expect(describeOffset(60, false)).toBe('1 hour before');
    expect(describeOffset(4320, false)).toBe('3 days before');
    expect(describeOffset(180, false)).toBe('3 hours before');
    expect(describeOffset(7, false)).toBe('7 minutes before');
  });
});

describe('in-tab reminders', () => {
  const occ = (over: Partial<Occurrence>): Occurrence =>
    ({ eventId: 'e', occKey: 'k', title: 'T', allDay: false, participants: [], reminders: [], ...over }) as Occurrence;
  const defaults = { timed: [10], allDay: [900] };

  it('use the event’s reminders that reach me, else my defaults for the room, as the server does', () => {
    expect(remindersFor(occ({ reminders: [{ id: 'a', minutesBefore: 15, for: null }] }), 'ann', defaults)).toEqual([15]);
    expect(remindersFor(occ({ reminders: [{ id: 'a', minutesBefore: 15, for: ['ben'] }] }), 'ann', defaults)).toEqual([10]);
    expect(remindersFor(occ({}), 'ann', defaults)).toEqual([10]);
    expect(remindersFor(occ({ allDay: true }), 'ann', defaults)).toEqual([900]);
    expect(remindersFor(occ({}), 'ann')).toEqual([]);
  });

  it('leave out occurrences that name other people only', () => {
    expect(remindersFor(occ({ participants: ['ben'] }), 'ann', defaults)).toEqual([]);
    expect(remindersFor(occ({ participants: ['ben', 'ann'] }), 'ann', defaults)).toEqual([10]);
  });
});
