/**
 * The calendar screen, loaded on demand: it brings FullCalendar, the event dialogs and the
 * time-zone code, which the sign-in screen does not need. `preloadCalendar` starts the download
 * early (main.tsx calls it once the first screen is up), so opening the calendar rarely waits.
 */
import type { ComponentProps, FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CalendarScreen as Screen } from './calendar-screen.js';
import { startOpening } from './opening.js';
import { kith } from './store.js';

type Props = ComponentProps<typeof Screen>;

let loading: Promise<FunctionComponent<Props>> | undefined;
let loaded: FunctionComponent<Props> | undefined;

/** Fetches the calendar screen's code and the client's calendar code (once; retried after a failure). */
export function preloadCalendar(): Promise<FunctionComponent<Props>> {
  loading ??= Promise.all([import('./calendar-screen.js'), kith.preloadCalendarCode()]).then(
    ([m]) => (loaded = m.CalendarScreen),
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

export function CalendarScreen(props: Props) {
  const [Loaded, setLoaded] = useState<FunctionComponent<Props> | undefined>(() => loaded);
  const [failed, setFailed] = useState(false);
  // The room's data need not wait for the screen's code: open it now (see opening.ts).
  const roomId = props.room.roomId;
  useEffect(() => (loaded ? undefined : startOpening(roomId)), [roomId]);
  useEffect(() => {
    if (Loaded || failed) return;
    preloadCalendar().then(
      (c) => setLoaded(() => c),
      () => setFailed(true),
    );
  }, [failed]);
  if (Loaded) return <Loaded {...props} />;
  if (failed) {
    return (
      <p class="boot" role="alert">
        The calendar could not be loaded (are you offline?).{' '}
        <button type="button" onClick={() => setFailed(false)}>
          Try again
        </button>
      </p>
    );
  }
  return <p class="boot">Loading your calendar…</p>;
}
