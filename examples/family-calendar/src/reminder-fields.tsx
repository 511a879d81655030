/**
 * The event form's reminders: a list of "when" (minutes, hours or days before; for all-day events
 * "at 9:00 the day before", as the model counts from local midnight) and "for whom" (me only, or
 * everyone taking part). Reminders someone set for themselves are kept as they are and shown.
 */
import type { Member, Reminder, ReminderInput } from '@kith/client';

/** One row of the form; `others` is a reminder for other members, kept untouched. */
export interface ReminderRow {
  key: string;
  id?: string;
  minutesBefore: number;
  forMe: boolean;
  others?: string[];
}

/** The model allows at most this many reminders on an event (LIMITS.reminders). */
const MAX_REMINDERS = 10;

/** The offsets the app offers, as [minutes before, words]. */
export const TIMED: Array<[number, string]> = [
  [0, 'At the start'],
  [5, '5 minutes before'],
  [10, '10 minutes before'],
  [15, '15 minutes before'],
  [30, '30 minutes before'],
  [60, '1 hour before'],
  [120, '2 hours before'],
  [1440, '1 day before'],
  [2880, '2 days before'],
  [10080, '1 week before'],
];

/** All-day events start at local midnight: 900 minutes before is 9:00 the day before. */
export const ALL_DAY: Array<[number, string]> = [
  [0, 'At midnight, the day of'],
  [900, 'At 9:00 the day before'],
  [2340, 'At 9:00 two days before'],
  [9540, 'At 9:00 a week before'],
];

export function describeOffset(minutes: number, allDay: boolean): string {
  const preset = (allDay ? ALL_DAY : TIMED).find(([m]) => m === minutes);
  if (preset) return preset[1];
  if (minutes % 1440 === 0) return `${minutes / 1440} days before`;
  if (minutes % 60 === 0) return `${minutes / 60} hours before`;
  return `${minutes} minutes before`;
}

let seq = 0;
export function rowsFrom(reminders: readonly Reminder[], me: string): ReminderRow[] {
  return reminders.map((r) => {
    const row: ReminderRow = { key: `r${seq++}`, id: r.id, minutesBefore: r.minutesBefore, forMe: r.for !== null && r.for.length === 1 && r.for[0] === me };
    if (r.for !== null && !row.forMe) row.others = [...r.for];
    return row;
  });
}

export function remindersFrom(rows: readonly ReminderRow[], me: string): ReminderInput[] {
  return rows.map((r) => ({
    ...(r.id ? { id: r.id } : {}),
    minutesBefore: r.minutesBefore,
    for: r.others ?? (r.forMe ? [me] : null),
  }));
}

export function ReminderFields(props: { rows: ReminderRow[]; allDay: boolean; members: Member[]; onChange: (rows: ReminderRow[]) => void }) {
  const { rows, allDay } = props;
  const presets = allDay ? ALL_DAY : TIMED;
  const update = (key: string, patch: Partial<ReminderRow>) => props.onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const name = (id: string) => props.members.find((m) => m.userId === id)?.username ?? 'a former member';
  const add = () => props.onChange([...rows, { key: `r${seq++}`, minutesBefore: allDay ? 900 : 15, forMe: true }]);
  return (
    <fieldset class="reminders">
      <legend>Reminders</legend>
      {rows.length === 0 && <p class="hint">No reminders.</p>}
      <ul class="reminder-list" aria-label="Reminders">
        {rows.map((r, i) => (
          <li key={r.key} class="reminder-row">
            <label>
              <span class="sr-only">Reminder {i + 1}: when</span>
              <select name="reminder-when" value={String(r.minutesBefore)} onChange={(e) => update(r.key, { minutesBefore: Number(e.currentTarget.value) })}>
                {presets.map(([m, text]) => (
                  <option key={m} value={String(m)}>
                    {text}
                  </option>
                ))}
                {!presets.some(([m]) => m === r.minutesBefore) && <option value={String(r.minutesBefore)}>{describeOffset(r.minutesBefore, allDay)}</option>}
              </select>
            </label>
            {r.others ? (
              <span class="hint">for {r.others.map(name).join(', ')}</span>
            ) : (
              <label>
                <span class="sr-only">Reminder {i + 1}: for whom</span>
                <select name="reminder-for" value={r.forMe ? 'me' : 'all'} onChange={(e) => update(r.key, { forMe: e.currentTarget.value === 'me' })}>
                  <option value="me">For me</option>
                  <option value="all">For everyone</option>
                </select>
              </label>
            )}
            <button type="button" class="link" aria-label={`Remove reminder ${i + 1}`} onClick={() => props.onChange(rows.filter((x) => x.key !== r.key))}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      {rows.length < MAX_REMINDERS && (
        <button type="button" class="link" onClick={add}>
          Add reminder
        </button>
      )}
    </fieldset>
  );
}
