/**
 * The event form: create, view, edit and delete; for a series, Save and Delete ask which occurrences
 * they are for. Times are typed in the event's own zone (named beside them), with the display
 * zone's equivalent shown live when the two differ: what you type is what the event says.
 */
import type { Calendar, CalendarEvent, Member, Occurrence } from '@kith/client';
import { useMemo, useState } from 'preact/hooks';
import { Comments } from './comments.js';
import { ScopeDialog } from './dialogs.js';
import { memberColor, PALETTE } from './colors.js';
import { applyChange, applyDelete, seriesOnly, type Change, type Scope } from './edits.js';
import { describeRule, fromRule, noRepeat, toRule, type RepeatFields } from './recurrence.js';
import { ReminderFields, remindersFrom, rowsFrom, type ReminderRow } from './reminder-fields.js';
import { RepeatSection, withStartWeekday } from './repeat-section.js';
import { describeError } from './store.js';
import { addDays, bothTimes, describeSpan, isDate, shiftBy, splitWhen } from './times.js';
import { ErrorMessage, Modal } from './ui.js';
import { ZonePicker } from './zone-picker.js';
import { canonicalZone, offsetLabel, offsetMinutes, zoneCity } from './zones.js';

export type EventTarget =
  | { kind: 'new'; start: string; end: string }
  | { kind: 'existing'; event: CalendarEvent; occ: Occurrence };

interface Draft {
  title: string;
  location: string;
  description: string;
  allDay: boolean;
  startDate: string;
  startTime: string;
  /** Inclusive for all-day events (what people expect to read), exclusive in the model. */
  endDate: string;
  endTime: string;
  /** '' means floating: the same clock time in every zone. */
  tz: string;
  participants: string[];
  /** '' means "the member's colour". */
  color: string;
  reminders: ReminderRow[];
  repeat: RepeatFields;
}

const COLOR_NAMES = ['Blue', 'Orange', 'Green', 'Purple', 'Pink', 'Teal', 'Amber', 'Indigo', 'Lime', 'Violet'];

function whenOf(d: Draft): { start: string; end: string } {
  return d.allDay
    ? { start: d.startDate, end: addDays(d.endDate, 1) }
    : { start: `${d.startDate}T${d.startTime}`, end: `${d.endDate}T${d.endTime}` };
}

function draftFor(target: EventTarget, me: string, zone: string): Draft {
  if (target.kind === 'new') {
    const s = splitWhen(target.start);
    const allDay = isDate(target.start);
    const e = splitWhen(allDay ? addDays(target.end, -1) : target.end);
    return {
      title: '',
      location: '',
      description: '',
      allDay,
      startDate: s.date,
      startTime: s.time || '09:00',
      endDate: e.date,
      endTime: e.time || '10:00',
      tz: zone,
      participants: [me],
      color: '',
      reminders: [],
      repeat: noRepeat(),
    };
  }
  const { event: ev, occ } = target;
  const s = splitWhen(occ.start);
  const e = splitWhen(occ.allDay ? addDays(occ.end, -1) : occ.end);
  return {
    title: occ.title,
    location: occ.location,
    description: occ.description,
    allDay: occ.allDay,
    startDate: s.date,
    startTime: s.time || '09:00',
    endDate: e.date,
    endTime: e.time || '10:00',
    tz: ev.tz ? canonicalZone(ev.tz) : occ.allDay ? zone : '',
    participants: [...occ.participants],
    color: occ.color ?? '',
    reminders: rowsFrom(ev.reminders, me),
    repeat: withStartWeekday(fromRule(ev.rrule), s.date),
  };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** What changed between the form as opened and as saved: only those fields are written. */
function diff(orig: Draft, now: Draft, me: string): Change {
  const c: Change = {};
  if (now.title !== orig.title) c.title = now.title;
  if (now.location !== orig.location) c.location = now.location;
  if (now.description !== orig.description) c.description = now.description;
  if (!sameSet(now.participants, orig.participants)) c.participants = now.participants;
  if (now.color !== orig.color) c.color = now.color || null;
  const reminders = remindersFrom(now.reminders, me);
  if (JSON.stringify(reminders) !== JSON.stringify(remindersFrom(orig.reminders, me))) c.reminders = reminders;
  const rule = toRule(now.repeat);
  if (JSON.stringify(now.repeat) !== JSON.stringify(orig.repeat) && rule !== (orig.repeat.custom ?? toRule(orig.repeat))) c.rrule = rule;
  if (!now.allDay && now.tz !== orig.tz) c.tz = now.tz || null;
  // The form shows a legacy zone name by its current one; an untouched zone is not rewritten.
  if (c.tz !== undefined && orig.tz && c.tz === canonicalZone(orig.tz)) delete c.tz;
  const a = whenOf(orig);
  const b = whenOf(now);
  if (b.start !== a.start) c.start = b.start;
  if (b.end !== a.end) c.end = b.end;
  return c;
}

export function EventDialog(props: {
  cal: Calendar;
  target: EventTarget;
  members: Member[];
  me: string;
  canEdit: boolean;
  /** The zone the calendar is displayed in. */
  displayZone: string;
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  const { cal, target, displayZone } = props;
  const orig = useMemo(() => draftFor(target, props.me, displayZone), []);
  const [d, setD] = useState<Draft>(orig);
  const [asking, setAsking] = useState<'save' | 'delete' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const existing = target.kind === 'existing' ? target : null;
  const recurring = !!existing?.event.rrule;
  const readOnly = !props.canEdit;
  const change = existing ? diff(orig, d, props.me) : {};
  const onlySeries = existing ? seriesOnly(change, existing.occ) : false;

  const set = (patch: Partial<Draft>) => setD((cur) => ({ ...cur, ...patch }));
  /** Moving the start moves the end with it (the duration stays), as in every calendar. */
  const setStart = (patch: { startDate?: string; startTime?: string }) =>
    setD((cur) => {
      const next = { ...cur, ...patch };
      try {
        const a = whenOf(cur);
        const b = whenOf(next);
        if (a.start !== b.start) {
          const end = shiftBy(a.end, a.start, b.start);
          const e = splitWhen(next.allDay ? addDays(end, -1) : end);
          next.endDate = e.date;
          if (!next.allDay) next.endTime = e.time;
        }
      } catch {
        /* half-typed date: leave the end alone */
      }
      return next;
    });

  const setRepeat = (patch: Partial<RepeatFields>) => set({ repeat: withStartWeekday({ ...d.repeat, ...patch, custom: null }, d.startDate) });

  function save(e: Event) {
    e.preventDefault();
    if (readOnly) return;
    setError(null);
    if (target.kind === 'existing' && recurring && Object.keys(change).length > 0) {
      setAsking('save'); // like a drag: which events, asked when it matters
      return;
    }
    saveWith('all');
  }

  function saveWith(scope: Scope) {
    try {
      if (target.kind === 'new') {
        const { start, end } = whenOf(d);
        cal.createEvent({
          title: d.title.trim(),
          start,
          end,
          ...(d.allDay ? {} : { tz: d.tz || null }),
          participants: d.participants,
          color: d.color || null,
          reminders: remindersFrom(d.reminders, props.me),
          rrule: toRule(d.repeat),
          location: d.location,
          description: d.description,
        });
        props.onDone(`Added “${d.title.trim() || 'Untitled'}”.`);
        return;
      }
      if (Object.keys(change).length === 0) {
        props.onClose();
        return;
      }
      if (change.title !== undefined) change.title = change.title.trim();
      applyChange(cal, existing!.event, existing!.occ, change, scope, displayZone);
      props.onDone('Saved.');
    } catch (err) {
      setError(describeError(err));
    }
  }

  function remove(scope: Scope | null) {
    if (!existing || readOnly) return;
    if (recurring && scope === null) {
      setAsking('delete');
      return;
    }
    scope ??= 'all';
    try {
      applyDelete(cal, existing.event, existing.occ, recurring ? scope : 'all');
      props.onDone(!recurring || scope === 'all' ? 'Moved to the trash.' : 'Deleted.');
    } catch (err) {
      setError(describeError(err));
    }
  }

  const knownIds = new Set(props.members.map((m) => m.userId));
  const formerMembers = d.participants.filter((p) => !knownIds.has(p));
  const title = target.kind === 'new' ? 'New event' : readOnly ? 'Event details' : 'Edit event';
  const when = whenOf(d);

  return (
    <Modal title={title} onClose={props.onClose} id="event-dialog" class="event-dialog">
      <form onSubmit={save} class="event-form" aria-label={title}>
        <fieldset disabled={readOnly} class="plain">
          <label class="wide">
            Title
            <input name="title" required maxLength={500} value={d.title} onInput={(e) => set({ title: e.currentTarget.value })} placeholder="Swimming lesson" data-autofocus />
          </label>
          <label class="check">
            <input type="checkbox" name="all-day" checked={d.allDay} onChange={(e) => set({ allDay: e.currentTarget.checked, endDate: d.endDate < d.startDate ? d.startDate : d.endDate })} /> All day
          </label>
          <div class="row">
            <label>
              Starts
              <input type="date" name="start-date" required value={d.startDate} onChange={(e) => setStart({ startDate: e.currentTarget.value })} />
            </label>
            {!d.allDay && (
              <label>
                <span class="sr-only">Start time</span>
                <span aria-hidden="true">&nbsp;</span>
                <input type="time" name="start-time" aria-label="Start time" required value={d.startTime} onChange={(e) => setStart({ startTime: e.currentTarget.value })} />
              </label>
            )}
          </div>
          <div class="row">
            <label>
              Ends
              <input type="date" name="end-date" required value={d.endDate} onChange={(e) => set({ endDate: e.currentTarget.value })} />
            </label>
            {!d.allDay && (
              <label>
                <span class="sr-only">End time</span>
                <span aria-hidden="true">&nbsp;</span>
                <input type="time" name="end-time" aria-label="End time" required value={d.endTime} onChange={(e) => set({ endTime: e.currentTarget.value })} />
              </label>
            )}
          </div>
          {!d.allDay && (
            <ZonePicker id="tz" label="Time zone" value={d.tz} emptyLabel={FLOATING} onChange={(tz) => set({ tz })} disabled={readOnly} />
          )}
          <p class="hint when">
            {safeSpan(when.start, when.end)}
            {!d.allDay && <span class="zone-note"> · {zoneNote(d.tz)}</span>}
          </p>
          {!d.allDay && <BothTimes start={when.start} end={when.end} zone={d.tz} displayZone={displayZone} />}

          <fieldset class="who">
            <legend>Who</legend>
            {props.members.map((m, i) => (
              <label class="check member" key={m.userId}>
                <input
                  type="checkbox"
                  name="who"
                  value={m.userId}
                  checked={d.participants.includes(m.userId)}
                  onChange={(e) =>
                    set({ participants: e.currentTarget.checked ? [...d.participants, m.userId] : d.participants.filter((p) => p !== m.userId) })
                  }
                />
                <span class="swatch" style={{ background: memberColor(i) }} aria-hidden="true" />
                {m.username}
                {m.userId === props.me ? ' (me)' : ''}
              </label>
            ))}
            {formerMembers.length > 0 && <p class="hint">Also: {formerMembers.length} former member(s).</p>}
          </fieldset>

          <RepeatSection repeat={d.repeat} onChange={setRepeat} />

          <ReminderFields rows={d.reminders} allDay={d.allDay} members={props.members} onChange={(reminders) => set({ reminders })} />
          <div class="row">
            <label>
              Colour
              <select name="color" value={d.color} onChange={(e) => set({ color: e.currentTarget.value })}>
                <option value="">Member colour</option>
                {PALETTE.map((c, i) => (
                  <option key={c} value={c}>
                    {COLOR_NAMES[i]}
                  </option>
                ))}
                {d.color && !PALETTE.includes(d.color) && <option value={d.color}>{d.color}</option>}
              </select>
            </label>
          </div>
          <label class="wide">
            Where
            <input name="location" maxLength={1000} value={d.location} onInput={(e) => set({ location: e.currentTarget.value })} />
          </label>
          <label class="wide">
            Notes
            <textarea name="notes" rows={2} value={d.description} onInput={(e) => set({ description: e.currentTarget.value })} />
          </label>
          {recurring && (
            <p class="hint repeats">
              Repeats: {describeRule(existing!.event.rrule)}
              {!readOnly && ' — Save and Delete ask which events they are for.'}
            </p>
          )}
        </fieldset>
        {existing && <p class="hint meta">{meta(existing.event, props.members)}</p>}
        {readOnly && <p class="notice">You can see this calendar but not change it.</p>}
        <ErrorMessage error={error} />
        <footer class="modal-foot">
          {existing && !readOnly && (
            <button type="button" class="danger" onClick={() => remove(null)}>
              Delete
            </button>
          )}
          <span class="spacer" />
          <button type="button" onClick={props.onClose}>
            {readOnly ? 'Close' : 'Cancel'}
          </button>
          {!readOnly && (
            <button type="submit" class="primary">
              Save
            </button>
          )}
        </footer>
      </form>
      {existing && <Comments cal={cal} eventId={existing.event.id} me={props.me} members={props.members} displayZone={displayZone} />}
      {asking && (
        <ScopeDialog
          what={asking === 'save' ? `Save changes to “${d.title.trim() || 'Untitled'}”. Which events should change?` : `Delete “${d.title.trim() || 'Untitled'}”. Which events?`}
          title={asking === 'save' ? 'Save a repeating event' : 'Delete a repeating event'}
          allowThis={asking === 'delete' || !onlySeries}
          onChoose={(scope) => {
            setAsking(null);
            if (!scope) return;
            if (asking === 'save') saveWith(scope);
            else remove(scope);
          }}
        />
      )}
    </Modal>
  );
}

const FLOATING = 'Floating (same clock time everywhere)';

/** "Times in Berlin (UTC+01:00)": the zone the form's times are typed in. */
function zoneNote(tz: string): string {
  if (!tz) return 'floating: the same clock time in every zone';
  try {
    return `times in ${zoneCity(tz)} (${offsetLabel(offsetMinutes(tz))})`;
  } catch {
    return `times in ${tz}`;
  }
}

/** The event's times in the display zone too, live, when its zone is another one. */
function BothTimes(props: { start: string; end: string; zone: string; displayZone: string }) {
  const s = bothTimes(props.start, props.zone || null, props.displayZone);
  const e = bothTimes(props.end, props.zone || null, props.displayZone);
  if (!s || !e) return null;
  return (
    <p class="both-times" data-both-times>
      Starts {s}
      <br />
      Ends {e}
    </p>
  );
}

function safeSpan(start: string, end: string): string {
  try {
    return describeSpan(start, end);
  } catch {
    return '';
  }
}

function meta(ev: CalendarEvent, members: Member[]): string {
  const name = (id: string) => members.find((m) => m.userId === id)?.username ?? 'a former member';
  const created = `Added by ${name(ev.createdBy)}`;
  return ev.updatedBy && ev.updatedAt !== ev.createdAt ? `${created} · last changed by ${name(ev.updatedBy)}` : created;
}
