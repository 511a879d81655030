/**
 * My default reminders per calendar (GET/PUT /rooms/:id/reminder-defaults): they remind me of every
 * event of that calendar that has no reminder of its own for me — one list for timed events, one
 * for all-day ones. The form offers one offset of each kind; a list set elsewhere with several is
 * shown as it is and kept unless changed.
 */
import type { RoomSummary } from '@kith/client';
import { ALL_DAY, describeOffset, TIMED } from './reminder-fields.js';
import { kith } from './store.js';

export interface ReminderDefaults {
  timed: number[];
  allDay: number[];
}

const NONE = 'none';

/** A select's value for a stored list: its single offset, none, or the whole list kept as it is. */
function valueOf(list: readonly number[]): string {
  return list.length === 0 ? NONE : list.join(',');
}

function listOf(value: string): number[] {
  return value === NONE ? [] : value.split(',').map(Number);
}

/** Each room's defaults; a room that cannot be read now (gone, offline) is left out of the form. */
export async function loadReminderDefaults(rooms: readonly RoomSummary[]): Promise<Record<string, ReminderDefaults>> {
  const read = await Promise.allSettled(rooms.map((r) => kith.request<ReminderDefaults>('GET', `/rooms/${encodeURIComponent(r.roomId)}/reminder-defaults`)));
  const found: Record<string, ReminderDefaults> = {};
  read.forEach((result, i) => {
    if (result.status === 'fulfilled') found[rooms[i]!.roomId] = result.value;
  });
  return found;
}

/** Stores the rooms whose defaults differ from what was loaded. */
export async function saveReminderDefaults(loaded: Record<string, ReminderDefaults>, edited: Record<string, ReminderDefaults>): Promise<Record<string, ReminderDefaults>> {
  const saved = { ...loaded };
  for (const [roomId, next] of Object.entries(edited)) {
    const before = loaded[roomId];
    if (before && valueOf(before.timed) === valueOf(next.timed) && valueOf(before.allDay) === valueOf(next.allDay)) continue;
    saved[roomId] = await kith.request<ReminderDefaults>('PUT', `/rooms/${encodeURIComponent(roomId)}/reminder-defaults`, next);
  }
  return saved;
}

function OffsetSelect(props: { label: string; name: string; allDay: boolean; list: number[]; onChange: (list: number[]) => void }) {
  const presets = props.allDay ? ALL_DAY : TIMED;
  const current = valueOf(props.list);
  const isPreset = props.list.length === 0 || (props.list.length === 1 && presets.some(([m]) => m === props.list[0]));
  return (
    <label>
      {props.label}
      <select name={props.name} value={current} onChange={(e) => props.onChange(listOf(e.currentTarget.value))}>
        <option value={NONE}>No reminder</option>
        {presets.map(([m, text]) => (
          <option key={m} value={String(m)}>
            {text}
          </option>
        ))}
        {!isPreset && <option value={current}>{props.list.map((m) => describeOffset(m, props.allDay)).join(', ')}</option>}
      </select>
    </label>
  );
}

export function ReminderDefaultsFields(props: {
  rooms: readonly RoomSummary[];
  defaults: Record<string, ReminderDefaults>;
  onChange: (defaults: Record<string, ReminderDefaults>) => void;
}) {
  const set = (roomId: string, patch: Partial<ReminderDefaults>) =>
    props.onChange({ ...props.defaults, [roomId]: { ...(props.defaults[roomId] ?? { timed: [], allDay: [] }), ...patch } });
  return (
    <fieldset class="reminder-defaults">
      <legend>My reminders for events without one</legend>
      {props.rooms.map((r) => {
        const d = props.defaults[r.roomId];
        if (!d) return null;
        return (
          <fieldset key={r.roomId} class="row">
            <legend>{r.name}</legend>
            <OffsetSelect label="Events with a time" name={`default-timed-${r.roomId}`} allDay={false} list={d.timed} onChange={(timed) => set(r.roomId, { timed })} />
            <OffsetSelect label="All-day events" name={`default-allday-${r.roomId}`} allDay={true} list={d.allDay} onChange={(allDay) => set(r.roomId, { allDay })} />
          </fieldset>
        );
      })}
    </fieldset>
  );
}
