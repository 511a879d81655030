/** Reminders for everyone reach the room's ICS feed as VALARMs; personal ones stay out of it. */
import { createEvent, initRoom } from '@kith/model';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { buildIcs } from '../../src/calendar/ics-export.js';

describe('reminders in the ICS feed', () => {
  it('writes a VALARM per reminder for everyone, all-day ones before local midnight', () => {
    const doc = new Y.Doc();
    initRoom(doc, { name: 'Millers', defaultTz: 'Europe/Berlin' });
    createEvent(
      doc,
      { title: 'Dentist', start: '2026-06-04T16:00', end: '2026-06-04T17:00', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 30 }, { minutesBefore: 10, for: ['u2'] }] },
      { actor: 'u1' },
    );
    createEvent(doc, { title: 'Birthday', start: '2026-06-10', end: '2026-06-11', reminders: [{ minutesBefore: 900 }] }, { actor: 'u1' });
    const ics = buildIcs(doc, { roomId: 'r1', name: 'Millers' });
    const vevents = new ICAL.Component(ICAL.parse(ics)).getAllSubcomponents('vevent');
    const triggers = Object.fromEntries(
      vevents.map((v) => [v.getFirstPropertyValue('summary'), v.getAllSubcomponents('valarm').map((a) => String(a.getFirstPropertyValue('trigger')))]),
    );
    expect(triggers).toEqual({ Dentist: ['-PT30M'], Birthday: ['-PT15H'] });
  });
});
