/**
 * VALARMs become reminders on import (ics-alarms.ts): real exports from Google, Thunderbird, Etar
 * and ical.js' samples, and made-up files for the trigger kinds, the bounds and the alarms that
 * are a client's own (Apple's default alarm, ACTION:NONE, snoozes). Re-importing keeps the
 * reminders' ids (nothing is rewritten), keeps members' personal reminders, and a file with no
 * VALARM leaves the reminders as they are.
 */
import { readFileSync } from 'node:fs';
import { createEvent, getEvent, initRoom, listEvents, updateEvent } from '@kith/model';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { buildIcs } from '../src/calendar/ics-export.js';
import { applyImport, eventIdForUid, parseIcs } from '../src/calendar/ics-import.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/interop/${name}`, import.meta.url), 'utf8');

function room(): Y.Doc {
  const doc = new Y.Doc();
  initRoom(doc, { name: 'Millers', defaultTz: 'Europe/Berlin' });
  return doc;
}

const importInto = (doc: Y.Doc, ics: string) => applyImport(doc, parseIcs(ics), 'u1');
const offsets = (doc: Y.Doc, uid: string) => getEvent(doc, eventIdForUid(uid))!.reminders.map((r) => [r.minutesBefore, r.for]);

function calendar(...vevents: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...vevents, 'END:VCALENDAR', ''].join('\r\n');
}

function event(uid: string, alarms: string[][], times = ['DTSTART:20260604T140000Z', 'DTEND:20260604T150000Z']): string {
  const blocks = alarms.map((lines) => ['BEGIN:VALARM', ...lines, 'END:VALARM'].join('\r\n'));
  return ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', 'SUMMARY:Dentist', ...times, ...blocks, 'END:VEVENT'].join('\r\n');
}

const display = (trigger: string, ...more: string[]) => ['ACTION:DISPLAY', trigger, 'DESCRIPTION:x', ...more];

describe('VALARMs on import', () => {
  it('reads the alarms of real exports as reminders for everyone, one per offset', () => {
    const cases: Array<[string, string, number[]]> = [
      // Google writes DISPLAY and EMAIL at 15 minutes: one reminder (channels are each member's choice).
      ['icalendar__alarm_google_future.ics', '79fs7pkqvht9m5igs0vjv1sfra@google.com', [10, 14, 15]],
      ['icalendar__alarm_etar_future.ics', '17281276213728ad54d03afa44d1ca60b8c52afaece9e@sufficientlysecure.org', [5, 25, 30]],
      ['icalendar__alarm_thunderbird_future.ics', 'b9a23b47-f109-4e7a-908c-75e925b27def', [15, 45]],
      ['icaljs__daily_recur.ics', null as unknown as string, [30]],
      // An all-day event with an absolute trigger (23:30 UTC the day before): 30 minutes before its start.
      ['icaljs__day_long_recur_yearly.ics', null as unknown as string, [30]],
    ];
    for (const [file, uid, want] of cases) {
      const doc = room();
      const result = importInto(doc, fixture(file));
      expect(result.errors.filter((e) => e.code === 'REMINDER_DROPPED'), file).toEqual([]);
      const ev = uid ? getEvent(doc, eventIdForUid(uid))! : listEvents(doc)[0]!;
      expect(ev.reminders.map((r) => r.minutesBefore), file).toEqual(want);
      expect(ev.reminders.every((r) => r.for === null), file).toBe(true);
    }
  });

  it('converts RELATED=END and absolute triggers, ignores a client’s own alarms, and drops (and reports) what the model cannot hold', () => {
    const doc = room();
    const alarms = [
      display('TRIGGER:-PT1H'),
      ['ACTION:AUDIO', 'TRIGGER;RELATED=END:-PT90M'], // 1 h event: 30 min before the start
      ['ACTION:EMAIL', 'TRIGGER;VALUE=DATE-TIME:20260603T140000Z', 'SUMMARY:s', 'DESCRIPTION:d', 'ATTENDEE:mailto:a@example.com'], // a day before
      display('TRIGGER:-PT1H', 'ACKNOWLEDGED:20260604T130000Z'), // same offset, acknowledged: still the one reminder
      display('TRIGGER:-PT5M', 'X-APPLE-DEFAULT-ALARM:TRUE'),
      ['ACTION:NONE', 'TRIGGER;VALUE=DATE-TIME:19760401T005545Z'],
      display('TRIGGER:-PT2M', 'RELATED-TO;RELTYPE=SNOOZE:abc'),
      ['ACTION:PROCEDURE', 'TRIGGER:-PT7M', 'ATTACH:ftp://example.com/x'],
      display('TRIGGER:PT5M'), // after the start
      display('TRIGGER:-P5W'), // beyond four weeks
    ];
    const result = importInto(doc, calendar(event('mix@test', alarms)));
    expect(result.imported).toBe(1);
    expect(offsets(doc, 'mix@test')).toEqual([[30, null], [60, null], [1440, null]]);
    expect(result.errors).toEqual([expect.objectContaining({ uid: 'mix@test', code: 'REMINDER_DROPPED', message: expect.stringMatching(/^2 VALARMs were not imported/) })]);
  });

  it('keeps at most ten reminders per event and says how many it left out', () => {
    const doc = room();
    const alarms = Array.from({ length: 13 }, (_, i) => display(`TRIGGER:-PT${i + 1}M`));
    const result = importInto(doc, calendar(event('many@test', alarms)));
    expect(offsets(doc, 'many@test')).toHaveLength(10);
    expect(result.errors).toEqual([expect.objectContaining({ code: 'REMINDER_DROPPED', message: expect.stringMatching(/^3 VALARMs/) })]);
  });

  it('re-imports without rewriting, keeps personal reminders, replaces everyone’s from the file, and keeps them when the file has none', () => {
    const doc = room();
    const first = calendar(event('dentist@test', [display('TRIGGER:-PT30M'), display('TRIGGER:-P1D')]));
    importInto(doc, first);
    const id = eventIdForUid('dentist@test');
    const ids = getEvent(doc, id)!.reminders.map((r) => r.id);
    expect(importInto(doc, first)).toMatchObject({ unchanged: 1, updated: 0 });
    expect(getEvent(doc, id)!.reminders.map((r) => r.id)).toEqual(ids);

    // A member's own reminder, added in Kith, stays through re-imports.
    const ev = getEvent(doc, id)!;
    updateEvent(doc, id, { reminders: [...ev.reminders, { id: 'mine', minutesBefore: 10, for: ['u2'] }] }, { actor: 'u2' });
    expect(importInto(doc, first)).toMatchObject({ unchanged: 1 });

    const changed = calendar(event('dentist@test', [display('TRIGGER:-PT30M'), display('TRIGGER:-PT2H')]));
    expect(importInto(doc, changed)).toMatchObject({ updated: 1 });
    const after = getEvent(doc, id)!.reminders;
    expect(after.map((r) => [r.minutesBefore, r.for])).toEqual([[10, ['u2']], [30, null], [120, null]]);
    expect(after.find((r) => r.minutesBefore === 30)!.id).toBe(ids[0]); // the one still there keeps its id

    // Many exporters write no VALARM at all: that does not remove anyone's reminders.
    expect(importInto(doc, calendar(event('dentist@test', [])))).toMatchObject({ unchanged: 1 });
    expect(getEvent(doc, id)!.reminders).toHaveLength(3);
  });

  it('round-trips reminders made in Kith through the feed unchanged, ids included', () => {
    const doc = room();
    const id = createEvent(
      doc,
      { title: 'Swim', start: '2026-06-04T16:00', end: '2026-06-04T17:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY', reminders: [{ minutesBefore: 45 }, { minutesBefore: 5, for: ['u2'] }] },
      { actor: 'u1' },
    );
    const feed = buildIcs(doc, { roomId: 'r1', name: 'Millers' });
    expect(feed).toContain('X-KITH-REMINDER-ID:');
    const before = getEvent(doc, id)!.reminders;
    // The feed names the event `<id>@kith`: re-importing it finds the same event.
    expect(importInto(doc, feed)).toMatchObject({ imported: 0, updated: 0, unchanged: 1, errors: [] });
    expect(getEvent(doc, id)!.reminders).toEqual(before);
  });
});
