/** Search titles, notes and places of every event, past and future ("/" or Ctrl/⌘+K opens it). */
import type { Calendar, CalendarEvent, Occurrence } from '@kith/client';
import { useMemo, useState } from 'preact/hooks';
import { describeRule } from './recurrence.js';
import { addDays, describeSpan, isDate, nowWall } from './times.js';
import { Modal } from './ui.js';

/** Results shown at most: a family calendar rarely has more matches worth reading. */
const MAX_RESULTS = 50;

/** The occurrence a result opens: the next one of a series, else its first; the event itself otherwise. */
export function occurrenceToOpen(cal: Calendar, ev: CalendarEvent, zone: string): Occurrence | undefined {
  const day = ev.start.slice(0, 10);
  const around = (from: string, days: number) =>
    cal.occurrencesOf(ev.id, { from: `${from}T00:00:00Z`, to: `${addDays(from, days)}T00:00:00Z`, timeZone: zone })[0];
  if (ev.rrule) return around(nowWall(zone).slice(0, 10), 800) ?? around(addDays(day, -2), 800);
  return around(addDays(day, -2), 5);
}

export function SearchDialog(props: { cal: Calendar; displayZone: string; onClose: () => void; onOpen: (occ: Occurrence) => void }) {
  const [query, setQuery] = useState('');
  const results = useMemo(() => (query.trim() ? props.cal.search(query.slice(0, 200)) : []), [query]);
  const today = nowWall(props.displayZone).slice(0, 10);

  function open(ev: CalendarEvent) {
    const occ = occurrenceToOpen(props.cal, ev, props.displayZone);
    if (!occ) return;
    props.onClose();
    props.onOpen(occ);
  }

  return (
    <Modal title="Search" onClose={props.onClose} id="search-dialog">
      <form onSubmit={(e) => (e.preventDefault(), results[0] && open(results[0]))} role="search">
        <label class="wide">
          Search events
          <input type="search" name="q" value={query} maxLength={200} placeholder="Title, place or notes" onInput={(e) => setQuery(e.currentTarget.value)} data-autofocus />
        </label>
      </form>
      {query.trim() && (
        <p class="hint" role="status">
          {results.length === 0 ? 'No events match.' : `${results.length} ${results.length === 1 ? 'event' : 'events'} found${results.length > MAX_RESULTS ? `; the first ${MAX_RESULTS} are shown` : ''}.`}
        </p>
      )}
      <ul class="search-results" aria-label="Search results">
        {results.slice(0, MAX_RESULTS).map((ev) => {
          const past = !ev.rrule && (isDate(ev.end) ? ev.end <= today : ev.end.slice(0, 10) < today);
          return (
            <li key={ev.id}>
              <button type="button" onClick={() => open(ev)} data-result={ev.title}>
                <strong>{ev.title || 'Untitled'}</strong>
                <span class="hint">
                  {span(ev)}
                  {ev.rrule ? ` · ${describeRule(ev.rrule)}` : ''}
                  {past ? ' · past' : ''}
                  {ev.location ? ` · ${ev.location}` : ''}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </Modal>
  );
}

function span(ev: CalendarEvent): string {
  try {
    return describeSpan(ev.start, ev.end);
  } catch {
    return ev.start;
  }
}
