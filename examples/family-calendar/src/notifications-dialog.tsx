/**
 * Notifications: push on this device, the email address, and what the server sends
 * (/users/me/notification-settings): change notices per calendar, quiet hours, a daily agenda,
 * and the zone their times are written in; and my default reminders per calendar (in its document).
 */
import type { RoomSummary, User } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { EmailSetup } from './email-setup.js';
import { PushSetup } from './push-setup.js';
import { loadReminderDefaults, ReminderDefaultsFields, saveReminderDefaults, type ReminderDefaults } from './reminder-defaults.js';
import { cache, describeError, kith } from './store.js';
import { FormMessages, Modal } from './ui.js';
import { ZonePicker } from './zone-picker.js';
import { deviceZone } from './zones.js';

type Changes = 'all' | 'participant' | 'none';

interface Settings {
  timeZone: string | null;
  quietHours: { start: string; end: string } | null;
  dailyAgenda: { time: string } | null;
  rooms: Record<string, { changes: string }>;
}

const CHANGES: Array<[Changes, string]> = [
  ['all', 'Every change'],
  ['participant', 'Changes to events I’m in'],
  ['none', 'Nothing'],
];

export function NotificationsDialog(props: { user: User; onClose: () => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [rooms, setRooms] = useState<RoomSummary[]>(() => cache.rooms(props.user.userId));
  const [quiet, setQuiet] = useState({ on: false, start: '22:00', end: '07:00' });
  const [agenda, setAgenda] = useState({ on: false, time: '07:00' });
  const [zone, setZone] = useState(deviceZone());
  const [roomPrefs, setRoomPrefs] = useState<Record<string, Changes>>({});
  const [storedDefaults, setStoredDefaults] = useState<Record<string, ReminderDefaults>>({});
  const [defaults, setDefaults] = useState<Record<string, ReminderDefaults>>({});
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void kith.rooms.list().then(setRooms, () => undefined);
  }, []);

  // Each calendar's defaults, once the list of calendars is known (cached first, then fresh).
  const roomKey = rooms.map((r) => r.roomId).join(',');
  useEffect(() => {
    void loadReminderDefaults(rooms).then((d) => {
      setStoredDefaults((loaded) => ({ ...d, ...loaded }));
      setDefaults((edited) => ({ ...d, ...edited }));
    });
  }, [roomKey]);

  useEffect(() => {
    kith.request<Settings>('GET', '/users/me/notification-settings').then(
      (s) => {
        setSettings(s);
        if (s.quietHours) setQuiet({ on: true, ...s.quietHours });
        if (s.dailyAgenda) setAgenda({ on: true, time: s.dailyAgenda.time });
        if (s.timeZone) setZone(s.timeZone);
        setRoomPrefs(Object.fromEntries(Object.entries(s.rooms).map(([id, p]) => [id, p.changes as Changes])));
      },
      (err: unknown) => setError(describeError(err)),
    );
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      const body = {
        timeZone: zone,
        quietHours: quiet.on ? { start: quiet.start, end: quiet.end } : null,
        dailyAgenda: agenda.on ? { time: agenda.time } : null,
        rooms: Object.fromEntries(rooms.map((r) => [r.roomId, { changes: roomPrefs[r.roomId] ?? 'all' }])),
      };
      setSettings(await kith.request<Settings>('PUT', '/users/me/notification-settings', body));
      const saved = await saveReminderDefaults(storedDefaults, defaults);
      setStoredDefaults(saved);
      setDefaults(saved);
      setStatus('Saved.');
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title="Notifications" onClose={props.onClose} id="notifications-dialog" class="notifications-dialog">
      <PushSetup />
      <EmailSetup />
      <section aria-labelledby="prefs-heading">
        <h3 id="prefs-heading">What to send</h3>
        {!settings && !error && <p class="hint">Loading…</p>}
        {settings && (
          <form onSubmit={save} class="notification-prefs">
            <fieldset>
              <legend>When someone else changes a calendar</legend>
              {rooms.map((r) => (
                <label key={r.roomId}>
                  {r.name}
                  <select name={`changes-${r.roomId}`} value={roomPrefs[r.roomId] ?? 'all'} onChange={(e) => setRoomPrefs({ ...roomPrefs, [r.roomId]: e.currentTarget.value as Changes })}>
                    {CHANGES.map(([v, text]) => (
                      <option key={v} value={v}>
                        {text}
                      </option>
                    ))}
                  </select>
                </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>Quiet hours</legend>
              <label class="check">
                <input type="checkbox" name="quiet-on" checked={quiet.on} onChange={(e) => setQuiet({ ...quiet, on: e.currentTarget.checked })} /> Hold news during quiet hours
              </label>
              {quiet.on && (
                <div class="row">
                  <label>
                    From
                    <input type="time" name="quiet-start" required value={quiet.start} onChange={(e) => setQuiet({ ...quiet, start: e.currentTarget.value })} />
                  </label>
                  <label>
                    Until
                    <input type="time" name="quiet-end" required value={quiet.end} onChange={(e) => setQuiet({ ...quiet, end: e.currentTarget.value })} />
                  </label>
                </div>
              )}
            </fieldset>
            <fieldset>
              <legend>Daily agenda</legend>
              <label class="check">
                <input type="checkbox" name="agenda-on" checked={agenda.on} onChange={(e) => setAgenda({ ...agenda, on: e.currentTarget.checked })} /> Send me the day’s events every morning
              </label>
              {agenda.on && (
                <label>
                  At
                  <input type="time" name="agenda-time" required value={agenda.time} onChange={(e) => setAgenda({ ...agenda, time: e.currentTarget.value })} />
                </label>
              )}
            </fieldset>
            <ReminderDefaultsFields rooms={rooms} defaults={defaults} onChange={setDefaults} />
            <ZonePicker id="notify-zone" label="Times in notifications" value={zone} onChange={(z) => z && setZone(z)} />
            {quiet.on && quiet.start === quiet.end && <p class="error">Quiet hours must start and end at different times.</p>}
            <footer class="modal-foot">
              <span class="spacer" />
              <button type="submit" class="primary" disabled={busy || (quiet.on && quiet.start === quiet.end)}>
                Save notification settings
              </button>
            </footer>
          </form>
        )}
        <FormMessages status={status} error={error} />
      </section>
    </Modal>
  );
}
