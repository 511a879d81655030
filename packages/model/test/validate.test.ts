import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, getEvent, LIMITS, normalizeRule, updateEvent, validateEvent } from '../src/index.js';
import type { EventInput } from '../src/index.js';
import { ctx, expectCode } from './helpers.js';

const ok: EventInput = { title: 'Swim', start: '2026-03-20T09:00', end: '2026-03-20T10:00', tz: 'Europe/Berlin' };

describe('validation', () => {
  it('accepts a well-formed event', () => {
    expect(() => validateEvent(ok)).not.toThrow();
  });

  it('rejects an end before the start, naming the end', () => {
    const err = expectCode(() => validateEvent({ ...ok, end: '2026-03-20T08:00' }), 'END_BEFORE_START');
    expect(err.field).toBe('end');
    expect(err.message).toMatch(/end must not be before start/);
  });

  it('accepts a timed event that ends when it starts (RFC 5545 §3.6.1: a deadline)', () => {
    expect(() => validateEvent({ ...ok, end: ok.start })).not.toThrow();
    const doc = new Y.Doc();
    const id = createEvent(doc, { ...ok, end: ok.start }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ start: ok.start, end: ok.start, duration: 'PT0S' });
  });

  it('keeps an iCalendar UID, bounded and without control characters', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { ...ok, uid: 'abc@example.com' }, ctx());
    expect(getEvent(doc, id)?.uid).toBe('abc@example.com');
    expect(getEvent(doc, createEvent(doc, ok, ctx()))?.uid).toBeNull();
    expectCode(() => validateEvent({ ...ok, uid: 'x'.repeat(LIMITS.uid + 1) }), 'FIELD_TOO_LONG');
    expectCode(() => validateEvent({ ...ok, uid: 'a\r\nSUMMARY:x' }), 'INVALID_INPUT');
    expectCode(() => validateEvent({ ...ok, uid: 42 as unknown as string }), 'INVALID_INPUT');
  });

  it('reads any stored uid value without failing', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, ok, ctx());
    const map = doc.getMap('events').get(id) as Y.Map<unknown>;
    for (const v of [42, { a: 1 }, 'y'.repeat(5000), null]) {
      map.set('uid', v);
      const uid = getEvent(doc, id)?.uid;
      expect(uid === null || (typeof uid === 'string' && uid.length <= LIMITS.uid)).toBe(true);
    }
  });

  it('compares a zoned end in its own zone as an instant', () => {
    // 10:00 in London is 11:00 in Berlin: after a 10:30 Berlin start, so valid …
    expect(() => validateEvent({ ...ok, start: '2026-03-20T10:30', end: '2026-03-20T10:00', endTz: 'Europe/London' })).not.toThrow();
    // … while 09:00 London (10:00 Berlin) is before it.
    expectCode(() => validateEvent({ ...ok, start: '2026-03-20T10:30', end: '2026-03-20T09:00', endTz: 'Europe/London' }), 'END_BEFORE_START');
  });

  it('requires all-day ends to be at least a day later, because they are exclusive', () => {
    const err = expectCode(() => validateEvent({ title: 'Trip', start: '2026-03-20', end: '2026-03-20' }), 'END_BEFORE_START');
    expect(err.message).toMatch(/exclusive/);
  });

  it('refuses times outside the years 0001 to 9999, as wall clocks and, for zoned events, as instants, naming the field', () => {
    const doc = new Y.Doc();
    const at = (start: string, end: string, tz: string | null, more: Record<string, unknown> = {}) => () => createEvent(doc, { title: 'x', start, end, tz, ...more }, ctx());
    expect(expectCode(at('0000-06-01T09:00', '0000-06-01T10:00', 'UTC'), 'INVALID_DATE').field).toBe('start');
    expect(expectCode(at('0000-12-31', '0001-01-01', null), 'INVALID_DATE').field).toBe('start');
    // In range as walls, not as instants: Tokyo's 0001-01-01 01:00 is year 0000 in UTC, New York's last evening is 10000.
    expect(expectCode(at('0001-01-01T01:00', '0001-01-01T02:00', 'Asia/Tokyo'), 'INVALID_DATE').field).toBe('start');
    expect(expectCode(at('9999-12-31T22:00', '9999-12-31T23:00', 'America/New_York'), 'INVALID_DATE').field).toBe('start');
    expect(expectCode(at('2026-03-01', '2026-03-02', null, { rrule: 'FREQ=DAILY', exdates: ['0000-03-01'] }), 'INVALID_DATE').field).toBe('exdates');
    // The edges themselves; a move whose end would cross 9999 and a zone change that moves the start out are refused.
    createEvent(doc, { title: 'first', start: '0001-01-01T00:00', end: '0001-01-01T01:00', tz: 'UTC' }, ctx());
    createEvent(doc, { title: 'last day', start: '9999-12-30', end: '9999-12-31' }, ctx());
    const id = createEvent(doc, { title: 'early', start: '0001-01-01T05:00', end: '0001-01-01T06:00', tz: 'UTC' }, ctx());
    expect(expectCode(() => updateEvent(doc, id, { tz: 'Asia/Tokyo' }, ctx()), 'INVALID_DATE').field).toBe('start');
    expect(expectCode(() => updateEvent(doc, id, { start: '9999-12-31T23:30' }, ctx()), 'INVALID_DATE').field).toBe('end');
    updateEvent(doc, id, { title: 'still early' }, ctx());
    // An end zone in which the end is in year 10000.
    const late = createEvent(doc, { title: 'late', start: '9999-12-31T20:00', end: '9999-12-31T21:00', tz: 'UTC' }, ctx());
    expect(expectCode(() => updateEvent(doc, late, { endTz: 'Pacific/Kiritimati' }, ctx()), 'INVALID_DATE').field).toBe('end');
  });

  it('rejects unknown and offset-only time zones', () => {
    const err = expectCode(() => validateEvent({ ...ok, tz: 'Europe/Berlinn' }), 'UNKNOWN_TIME_ZONE');
    expect(err.field).toBe('tz');
    expect(err.message).toContain('Europe/Berlinn');
    expectCode(() => validateEvent({ ...ok, tz: '+01:00' }), 'UNKNOWN_TIME_ZONE');
    expectCode(() => validateEvent({ ...ok, endTz: 'Mars/Olympus' }), 'UNKNOWN_TIME_ZONE');
  });

  it('requires tz for timed events but accepts null for floating ones', () => {
    const { tz: _tz, ...noZone } = ok;
    expect(expectCode(() => validateEvent(noZone), 'INVALID_INPUT').field).toBe('tz');
    expect(() => validateEvent({ ...ok, tz: null })).not.toThrow();
  });

  it('rejects unreadable dates, offsets and impossible days', () => {
    expect(expectCode(() => validateEvent({ ...ok, start: 'tomorrow' }), 'INVALID_DATE').field).toBe('start');
    expectCode(() => validateEvent({ ...ok, start: '2026-03-20T09:00+01:00' }), 'INVALID_DATE');
    expectCode(() => validateEvent({ ...ok, start: '2026-02-30T09:00' }), 'INVALID_DATE');
    expect(expectCode(() => validateEvent({ ...ok, end: '2026-03-21' }), 'INVALID_DATE').message).toMatch(/same kind/);
  });

  it('rejects invalid or unsupported RRULEs with the reason', () => {
    const bad = ['FREQ=SOMETIMES', 'BYDAY=MO', 'FREQ=WEEKLY;BYDAY=XX', 'FREQ=WEEKLY;COUNT=0', 'FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z',
      'FREQ=MONTHLY;BYMONTHDAY=40', 'FREQ=HOURLY', 'FREQ=DAILY;BYHOUR=9,17', 'FREQ=WEEKLY;BYDAY=1MO', 'FREQ=DAILY;UNTIL=soon', 'FREQ=DAILY;FOO=1'];
    for (const rrule of bad) {
      const err = expectCode(() => validateEvent({ ...ok, rrule }), 'INVALID_RRULE');
      expect(err.field).toBe('rrule');
    }
    expect(expectCode(() => validateEvent({ ...ok, rrule: 'FREQ=HOURLY' }), 'INVALID_RRULE').message).toMatch(/HOURLY is not supported/);
  });

  it('normalizes a valid RRULE', () => {
    expect(normalizeRule('RRULE:byday=tu,th;freq=weekly')).toBe('FREQ=WEEKLY;BYDAY=TU,TH');
  });

  it('rejects oversized fields with FIELD_TOO_LONG naming the field and the limit', () => {
    const err = expectCode(() => validateEvent({ ...ok, title: 'x'.repeat(LIMITS.title + 1) }), 'FIELD_TOO_LONG');
    expect(err.field).toBe('title');
    expect(err.message).toBe(`title is ${LIMITS.title + 1} characters long; the limit is ${LIMITS.title}`);
    expect(expectCode(() => validateEvent({ ...ok, description: 'x'.repeat(LIMITS.description + 1) }), 'FIELD_TOO_LONG').field).toBe('description');
    expect(expectCode(() => validateEvent({ ...ok, location: 'x'.repeat(LIMITS.location + 1) }), 'FIELD_TOO_LONG').field).toBe('location');
    expect(expectCode(() => validateEvent({ ...ok, rrule: `FREQ=DAILY;${'BYMONTH=1;'.repeat(60)}` }), 'FIELD_TOO_LONG').field).toBe('rrule');
  });

  it('limits list sizes and reminder ranges', () => {
    const many = Array.from({ length: LIMITS.participants + 1 }, (_, i) => `m${i}`);
    expectCode(() => validateEvent({ ...ok, participants: many }), 'TOO_MANY_ITEMS');
    expectCode(() => validateEvent({ ...ok, reminders: [{ minutesBefore: -5 }] }), 'INVALID_INPUT');
  });

  it('validates a patch against the stored event', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, ok, ctx());
    expectCode(() => updateEvent(doc, id, { end: '2026-03-20T08:00' }, ctx()), 'END_BEFORE_START');
    expectCode(() => updateEvent(doc, 'nope', { title: 'x' }, ctx()), 'EVENT_NOT_FOUND');
  });
});
