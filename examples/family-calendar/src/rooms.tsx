/** Choosing a family calendar, or creating the first one. */
import type { RoomSummary, User } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { cache, describeError, kith } from './store.js';

export function RoomsScreen(props: {
  user: User;
  error?: string | undefined;
  notice?: string | undefined;
  onOpen: (room: RoomSummary) => void;
  onSignOut: () => void;
}) {
  const [rooms, setRooms] = useState<RoomSummary[]>(() => cache.rooms(props.user.userId));
  const [error, setError] = useState<string | undefined>(props.error);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    kith.rooms
      .list()
      .then((fresh) => {
        cache.setRooms(props.user.userId, fresh);
        setRooms(fresh);
      })
      .catch((err: unknown) => setError((e) => e ?? describeError(err)));
  }, []);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const room = await kith.rooms.create(name.trim());
      cache.setRooms(props.user.userId, [...rooms, room]);
      const cal = await kith.openCalendar(room.roomId, { connect: false });
      cal.initRoom({ name: room.name, defaultTz: Intl.DateTimeFormat().resolvedOptions().timeZone });
      await cal.close();
      props.onOpen(room);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <main class="rooms">
      <header class="rooms-head">
        <h1 class="brand">
          <img src="/icon.svg" alt="" width="32" height="32" /> Kith
        </h1>
        <span class="who">Signed in as {props.user.username}</span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {rooms.length > 0 && (
        <section aria-labelledby="my-calendars">
          <h2 id="my-calendars">Your calendars</h2>
          <ul class="room-list">
            {rooms.map((r) => (
              <li key={r.roomId}>
                <button type="button" onClick={() => props.onOpen(r)}>
                  <strong>{r.name}</strong> <span class="role">{r.role}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="new-calendar">
        <h2 id="new-calendar">{rooms.length ? 'Create another calendar' : 'Create your family calendar'}</h2>
        <form onSubmit={create} class="inline-form">
          <label>
            Calendar name
            <input
              name="calendar-name"
              required
              maxLength={100}
              placeholder="The Millers"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <button class="primary" type="submit" disabled={busy}>
            Create calendar
          </button>
        </form>
        <p class="hint">To join someone else’s calendar, open the invite link they sent you.</p>
      </section>
    </main>
  );
}
