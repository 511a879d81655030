/**
 * The month on a phone, as phone calendars show it: each day a number with coloured dots (and a
 * count), the selected day's events listed below. Titles never get cut to five letters.
 */
import type { Calendar, Member, Occurrence } from '@kith/client';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Temporal } from 'temporal-polyfill';
import { colorOf, firstDayOfWeek } from './full-calendar.js';
import { addDays, bothTimes, formatTime, instantToWall, nowWall } from './times.js';

/** Dots drawn per day; more show as a count. */
const MAX_DOTS = 3;

interface Placed {
  occ: Occurrence;
  /** Display-zone wall clocks (timed) or dates (all-day). */
  start: string;
  end: string;
}

function monthCells(day: string): string[] {
  const first = Temporal.PlainDate.from(day).with({ day: 1 });
  const weekStart = firstDayOfWeek() || 7; // ISO: Monday 1 … Sunday 7
  const lead = (first.dayOfWeek - weekStart + 7) % 7;
  const start = first.subtract({ days: lead });
  const weeks = Math.ceil((lead + first.daysInMonth) / 7);
  return Array.from({ length: weeks * 7 }, (_, i) => start.add({ days: i }).toString());
}

/** The days an occurrence covers, in the display zone. */
function daysOf(p: Placed): string[] {
  const first = p.start.slice(0, 10);
  // All-day ends are exclusive dates; a timed event ending at midnight does not take the next day.
  const lastInstant = p.occ.allDay ? addDays(p.end, -1) : p.end.slice(11) === '00:00' && p.end.slice(0, 10) > first ? addDays(p.end.slice(0, 10), -1) : p.end.slice(0, 10);
  const out: string[] = [];
  for (let d = first; d <= lastInstant && out.length < 62; d = addDays(d, 1)) out.push(d);
  return out.length ? out : [first];
}

export function PhoneMonth(props: {
  cal: Calendar;
  members: Member[];
  displayZone: string;
  day: string;
  onDay: (day: string) => void;
  onOpen: (occ: Occurrence) => void;
  onTitle: (title: string) => void;
}) {
  const { cal, displayZone, day } = props;
  const [version, setVersion] = useState(0);
  useEffect(() => cal.on('change', () => setVersion((v) => v + 1)), [cal]);
  const cells = useMemo(() => monthCells(day), [day.slice(0, 7)]);
  const byDay = useMemo(() => {
    const from = Temporal.PlainDate.from(cells[0]!).toZonedDateTime(displayZone).toInstant().toString();
    const to = Temporal.PlainDate.from(addDays(cells[cells.length - 1]!, 1)).toZonedDateTime(displayZone).toInstant().toString();
    const map = new Map<string, Placed[]>();
    for (const occ of cal.occurrences({ from, to, timeZone: displayZone })) {
      const p: Placed = occ.allDay ? { occ, start: occ.start, end: occ.end } : { occ, start: instantToWall(occ.startInstant, displayZone), end: instantToWall(occ.endInstant, displayZone) };
      for (const d of daysOf(p)) map.set(d, [...(map.get(d) ?? []), p]);
    }
    return map;
  }, [cells, version, displayZone, props.members]);

  const month = day.slice(0, 7);
  const today = nowWall(displayZone).slice(0, 10);
  const locale = navigator.language;
  useEffect(() => {
    props.onTitle(Temporal.PlainDate.from(day).toLocaleString(locale, { month: 'long', year: 'numeric' }));
  }, [month]);
  const selected = byDay.get(day) ?? [];

  return (
    <main class="phone-month" aria-label="Month">
      <div class="pm-weekdays" aria-hidden="true">
        {cells.slice(0, 7).map((d) => (
          <span key={d}>{Temporal.PlainDate.from(d).toLocaleString(locale, { weekday: 'narrow' })}</span>
        ))}
      </div>
      <div class="pm-grid" role="group" aria-label="Days">
        {cells.map((d) => {
          const list = byDay.get(d) ?? [];
          const label = `${Temporal.PlainDate.from(d).toLocaleString(locale, { weekday: 'long', day: 'numeric', month: 'long' })}, ${list.length === 0 ? 'nothing planned' : `${list.length} ${list.length === 1 ? 'event' : 'events'}`}`;
          return (
            <button
              type="button"
              key={d}
              class={`pm-day ${d.slice(0, 7) !== month ? 'other' : ''} ${d === today ? 'today' : ''}`}
              aria-pressed={d === day}
              aria-label={label}
              data-date={d}
              data-count={list.length}
              onClick={() => props.onDay(d)}
            >
              <span class="pm-num">{Number(d.slice(8))}</span>
              <span class="pm-dots" aria-hidden="true">
                {list.slice(0, MAX_DOTS).map((p, i) => (
                  <i key={i} style={{ background: colorOf(p.occ, props.members) }} />
                ))}
                {list.length > MAX_DOTS && <b>+{list.length - MAX_DOTS}</b>}
              </span>
            </button>
          );
        })}
      </div>
      <section class="pm-agenda" aria-label={`Events on ${Temporal.PlainDate.from(day).toLocaleString(locale, { weekday: 'long', day: 'numeric', month: 'long' })}`}>
        <h3>{Temporal.PlainDate.from(day).toLocaleString(locale, { weekday: 'long', day: 'numeric', month: 'long' })}</h3>
        {selected.length === 0 && <p class="empty">Nothing planned.</p>}
        <ul>
          {selected.map((p) => {
            const both = p.occ.allDay ? null : bothTimes(p.occ.start, p.occ.tz, displayZone, locale);
            return (
              <li key={`${p.occ.eventId}|${p.occ.occKey}`}>
                <button type="button" class="pm-event" data-title={p.occ.title || 'Untitled'} onClick={() => props.onOpen(p.occ)}>
                  <span class="pm-swatch" style={{ background: colorOf(p.occ, props.members) }} aria-hidden="true" />
                  <span class="pm-time">{p.occ.allDay ? 'All day' : `${formatTime(p.start, locale)}–${formatTime(p.end, locale)}`}</span>
                  <span class="pm-title">
                    {p.occ.title || 'Untitled'}
                    {both && <span class="both-times">{both}</span>}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      </section>
    </main>
  );
}
