/** The "Repeat" part of the event form: frequency, interval, weekdays, and how the series ends. */
import { describeRule, WEEKDAYS, weekdayName, weekdayOf, type RepeatFields } from './recurrence.js';

/** A weekly rule without days repeats on the start's weekday: the form shows that day ticked. */
export function withStartWeekday(repeat: RepeatFields, startDate: string): RepeatFields {
  if (repeat.freq !== 'WEEKLY' || repeat.byDay.length || repeat.custom) return repeat;
  const day = weekdayOf(startDate);
  return day ? { ...repeat, byDay: [day] } : repeat;
}

export function RepeatSection(props: { repeat: RepeatFields; onChange: (patch: Partial<RepeatFields>) => void }) {
  return (
    <>
      <div class="row">
        <label>
          Repeat
          <select name="repeat" value={props.repeat.freq} onChange={(e) => props.onChange({ freq: e.currentTarget.value as RepeatFields['freq'] })}>
            <option value="none">Does not repeat</option>
            <option value="DAILY">Daily</option>
            <option value="WEEKLY">Weekly</option>
            <option value="MONTHLY">Monthly</option>
            <option value="YEARLY">Yearly</option>
          </select>
        </label>
        {props.repeat.freq !== 'none' && (
          <label>
            Every
            <input type="number" name="interval" min={1} max={99} value={props.repeat.interval} onChange={(e) => props.onChange({ interval: Number(e.currentTarget.value) || 1 })} />
          </label>
        )}
      </div>
      {props.repeat.custom && <p class="hint">Repeats: {describeRule(props.repeat.custom)} (kept unless you change it).</p>}
      {props.repeat.freq === 'WEEKLY' && (
        <fieldset class="weekdays">
          <legend>On</legend>
          {WEEKDAYS.map((w) => (
            <label class="check day" key={w}>
              <input
                type="checkbox"
                name="byday"
                value={w}
                checked={props.repeat.byDay.includes(w)}
                onChange={(e) => props.onChange({ byDay: e.currentTarget.checked ? [...props.repeat.byDay, w] : props.repeat.byDay.filter((x) => x !== w) })}
              />
              {weekdayName(w)}
            </label>
          ))}
        </fieldset>
      )}
      {props.repeat.freq !== 'none' && (
        <div class="row">
          <label>
            Ends
            <select name="repeat-ends" value={props.repeat.ends} onChange={(e) => props.onChange({ ends: e.currentTarget.value as RepeatFields['ends'] })}>
              <option value="never">Never</option>
              <option value="until">On a date</option>
              <option value="count">After a number of times</option>
            </select>
          </label>
          {props.repeat.ends === 'until' && (
            <label>
              Last date
              <input type="date" name="repeat-until" required value={props.repeat.until} onChange={(e) => props.onChange({ until: e.currentTarget.value })} />
            </label>
          )}
          {props.repeat.ends === 'count' && (
            <label>
              Times
              <input type="number" name="repeat-count" min={1} max={999} value={props.repeat.count} onChange={(e) => props.onChange({ count: Number(e.currentTarget.value) || 1 })} />
            </label>
          )}
        </div>
      )}
    </>
  );
}
