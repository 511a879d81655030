/**
 * One family calendar: the header (name, who is online, sync badge, undo, menu), the view toolbar,
 * FullCalendar fed with our own expanded occurrences, and the dialogs.
 */
import type { Calendar, Member, Occurrence, PresenceEntry, Role, RoomSummary, StatusInfo, User } from '@kith/client';
import type { EventChangeInfo } from 'fullcalendar';
import { useEffect, useRef, useState } from 'preact/hooks';
import { FamilyDialog, ScopeDialog, TrashDialog } from './dialogs.js';
import { applyChange, seriesOnly, type Change, type Scope } from './edits.js';
import { clearEventLink } from './deep-link.js';
import { EventDialog, type EventTarget } from './event-dialog.js';
import { startReminders, systemNotify } from './reminders.js';
import { cache, describeError, kith } from './store.js';
import { FC_VIEW, useFullCalendar, VIEWS, type ViewName } from './full-calendar.js';
import { ImportDialog } from './import-dialog.js';
import { openRoomCalendar } from './opening.js';
import { PhoneMonth } from './phone-month.js';
import { NotificationsDialog } from './notifications-dialog.js';
import { occurrenceToOpen, SearchDialog } from './search-dialog.js';
import { SettingsDialog } from './settings-dialog.js';
import { SubscribeDialog } from './subscribe-dialog.js';
import { addDays, addMinutes, addMonths, convertWall, fcDate, fcWall, nowWall } from './times.js';
import { Topbar } from './topbar.js';
import { Toasts, type Toast } from './ui.js';
import { zoneCity } from './zones.js';

export type { ViewName };
const VIEW_LABEL: Record<ViewName, string> = { month: 'Month', week: 'Week', day: 'Day', agenda: 'Agenda' };

export type Pending =
  | { kind: 'event'; target: EventTarget }
  | { kind: 'trash' }
  | { kind: 'family' }
  | { kind: 'search' }
  | { kind: 'import'; file?: File }
  | { kind: 'subscribe' }
  | { kind: 'settings' }
  | { kind: 'notifications' }
  | { kind: 'scope'; what: string; allowThis: boolean; resolve: (s: Scope | null) => void };

const PHONE = '(max-width: 640px)';

function initialView(): ViewName {
  const saved = cache.view() as ViewName | undefined;
  if (saved && VIEWS.includes(saved)) return saved;
  return matchMedia(PHONE).matches ? 'agenda' : 'month';
}

export function CalendarScreen(props: {
  user: User;
  room: RoomSummary;
  notice?: string | undefined;
  /** An event to open once the calendar is loaded (a notification's link). */
  openEventId?: string | undefined;
  onEventOpened?: () => void;
  onSwitchRoom: (notice?: string) => void;
  onSignOut: () => void;
  onSessionEnded: () => void;
}) {
  const { user, room } = props;
  const [cal, setCal] = useState<Calendar | null>(null);
  const [openError, setOpenError] = useState<string | null>(null);
  const [status, setStatus] = useState<StatusInfo>({ status: 'offline', unsavedEdits: 0 });
  const [role, setRole] = useState<Role>(room.role);
  const [revoked, setRevoked] = useState<string | null>(null);
  const [syncError, setSyncError] = useState<string | null>(null);
  const [members, setMembers] = useState<Member[]>(() => cache.members(room.roomId));
  const [presence, setPresence] = useState<PresenceEntry[]>([]);
  const [history, setHistory] = useState({ canUndo: false, canRedo: false });
  const [view, setView] = useState<ViewName>(initialView);
  // The latest view chosen, set in the click itself: a choice made between the room opening and
  // FullCalendar being created must be the view it is created in (a rendered `view` can be stale then).
  const viewRef = useRef<ViewName>(view);
  const [title, setTitle] = useState('');
  const [pending, setPending] = useState<Pending | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [roomName, setRoomName] = useState(room.name);
  const [displayZone, setDisplayZone] = useState(cache.displayZone);
  const [phone, setPhone] = useState(() => matchMedia(PHONE).matches);
  const [day, setDay] = useState(() => nowWall(displayZone).slice(0, 10));
  const hostRef = useRef<HTMLDivElement>(null);
  const canEdit = role !== 'viewer' && !revoked;
  const live = useRef({ canEdit, members, cal, displayZone });
  live.current = { canEdit, members, cal, displayZone };
  const phoneMonth = phone && view === 'month';

  useEffect(() => {
    const mq = matchMedia(PHONE);
    const on = () => setPhone(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);

  function toast(text: string, opts: Omit<Toast, 'id' | 'text'> = {}) {
    const id = Date.now() + Math.random();
    setToasts([{ id, text, ...opts }]); // one at a time: the newest says what just happened
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), opts.action ? 8000 : 5000);
  }

  // ---------------------------------------------------------------- open the calendar (local copy first)
  useEffect(() => {
    let closed = false;
    let opened: Calendar | null = null;
    const offs: Array<() => void> = [];
    void openRoomCalendar(room.roomId)
      .then((c) => {
        if (closed) {
          void c.close();
          return;
        }
        opened = c;
        setCal(c);
        setStatus({ status: c.status, unsavedEdits: c.unsavedEdits });
        if (c.role) setRole(c.role);
        setHistory({ canUndo: c.canUndo(), canRedo: c.canRedo() });
        offs.push(c.on('status', setStatus));
        offs.push(c.on('history', setHistory));
        offs.push(
          c.on('role', (r) => {
            setRole(r);
            const rooms = cache.rooms(user.userId).map((x) => (x.roomId === room.roomId ? { ...x, role: r } : x));
            cache.setRooms(user.userId, rooms);
            if (r === 'viewer') toast('You can now only view this calendar.');
            void refreshMembers();
          }),
        );
        offs.push(
          c.on('access-revoked', () => {
            setRevoked(`You are no longer a member of “${room.name}”. What you see is the copy on this device; it no longer syncs.`);
            cache.setRooms(user.userId, cache.rooms(user.userId).filter((x) => x.roomId !== room.roomId));
            cache.setLastRoom(user.userId, undefined);
          }),
        );
        offs.push(
          c.on('auth-required', (info) => {
            if (info.code !== 'LOGGED_OUT' && info.code !== 'USER_CHANGED') props.onSessionEnded();
          }),
        );
        offs.push(c.on('error', (err) => setSyncError(`Syncing stopped: ${err.code === 'ROOM_TOO_LARGE' ? 'this calendar is full.' : err.message}`)));
        offs.push(c.onPresence((p) => setPresence(p)));
        offs.push(startReminders(c, user.userId, (t, body, tag, url) => {
          toast(`Reminder: ${t} — ${body}`);
          systemNotify(t, body, tag, url);
        }));
        const name = c.doc.getMap('room').get('name');
        if (typeof name === 'string' && name) setRoomName(name);
        // Going offline is noticed at once (the browser knows before the socket times out);
        // back online, reconnect, unless syncing stopped for a reason a reconnect cannot fix.
        let paused = !navigator.onLine;
        let halted = false;
        for (const ev of ['access-revoked', 'auth-required', 'error'] as const) offs.push(c.on(ev, () => (halted = true)));
        const goOffline = () => {
          paused = true;
          c.disconnect();
        };
        const goOnline = () => {
          if (!paused || halted) return;
          paused = false;
          c.connect();
        };
        window.addEventListener('offline', goOffline);
        window.addEventListener('online', goOnline);
        offs.push(() => window.removeEventListener('offline', goOffline));
        offs.push(() => window.removeEventListener('online', goOnline));
      })
      .catch((err: unknown) => setOpenError(describeError(err)));
    cache.setLastRoom(user.userId, room.roomId);
    void refreshMembers();
    return () => {
      closed = true;
      for (const off of offs) off();
      void opened?.close();
    };
  }, [room.roomId]);

  async function refreshMembers() {
    try {
      const details = await kith.rooms.get(room.roomId);
      cache.setMembers(room.roomId, details.members);
      setMembers(details.members);
      setRoomName(details.name);
      const mine = details.members.find((m) => m.userId === user.userId);
      if (mine) setRole(mine.role);
    } catch {
      /* offline: the cached list stands */
    }
  }

  useEffect(() => {
    document.title = `${roomName} · Kith`;
    return () => {
      document.title = 'Kith · Family calendar';
    };
  }, [roomName]);

  // Someone online that the member list does not know yet: they just joined.
  useEffect(() => {
    if (presence.some((p) => !members.some((m) => m.userId === p.userId))) void refreshMembers();
  }, [presence]);

  // ---------------------------------------------------------------- FullCalendar
  const fcRef = useFullCalendar(hostRef, cal, viewRef, {
    members,
    canEdit,
    displayZone,
    onOpen: (occ) => openOccurrence(occ),
    onSelect: (sel) => newEvent(sel),
    onMoved: (info, occ, verb) => void onMoved(info, occ, verb),
    onDates: (t, shown, currentStart) => {
      setTitle(t);
      // A click on a day number (a nav link) changes the view from inside the calendar.
      if (shown) {
        viewRef.current = shown;
        setView(shown);
      }
      cal?.setViewing(currentStart);
    },
  });

  function changeView(v: ViewName) {
    viewRef.current = v;
    setView(v);
    cache.setView(v);
    fcRef.current?.changeView(FC_VIEW[v]);
  }

  function chooseDisplayZone(zone: string) {
    cache.setDisplayZone(zone);
    setDisplayZone(zone);
  }

  // ---------------------------------------------------------------- edits
  // A notification's link: open its event once this device has it (it may arrive with the first sync).
  useEffect(() => {
    const id = props.openEventId;
    if (!cal || !id) return;
    const tryOpen = () => {
      const ev = cal.getEvent(id);
      const occ = ev && occurrenceToOpen(cal, ev, live.current.displayZone);
      if (!ev || !occ) return false;
      setPending({ kind: 'event', target: { kind: 'existing', event: ev, occ } });
      clearEventLink();
      props.onEventOpened?.();
      return true;
    };
    if (tryOpen()) return;
    const off = cal.on('change', () => {
      if (tryOpen()) off();
    });
    return off;
  }, [cal, props.openEventId]);

  function openOccurrence(occ: Occurrence) {
    const ev = live.current.cal?.getEvent(occ.eventId);
    if (ev) setPending({ kind: 'event', target: { kind: 'existing', event: ev, occ } });
  }

  function newEvent(sel?: { start: Date; end: Date; allDay: boolean }) {
    let start: string;
    let end: string;
    if (!sel) {
      // The day in view (the phone month's selected day), at the next hour if that is today.
      const shown = phoneMonth ? day : fcDate(fcRef.current?.getDate() ?? new Date());
      const now = nowWall(live.current.displayZone);
      const hour = now.slice(0, 10) === shown ? Math.min(Number(now.slice(11, 13)) + 1, 22) : 9;
      start = `${shown}T${String(hour).padStart(2, '0')}:00`;
      end = addMinutes(start, 60);
    } else if (sel.allDay) {
      start = fcDate(sel.start);
      end = fcDate(sel.end);
      if (end === addDays(start, 1) && fcRef.current?.view.type === FC_VIEW.month) {
        // A click on a day in the month: a timed event that day, like most calendars.
        start = `${start}T09:00`;
        end = `${start.slice(0, 10)}T10:00`;
      }
    } else {
      start = fcWall(sel.start);
      end = fcWall(sel.end);
    }
    setPending({ kind: 'event', target: { kind: 'new', start, end } });
  }

  function askScope(what: string, allowThis: boolean): Promise<Scope | null> {
    return new Promise((resolve) => setPending({ kind: 'scope', what, allowThis, resolve }));
  }

  async function onMoved(info: EventChangeInfo, occ: Occurrence, verb: string) {
    const c = live.current.cal;
    const ev = c?.getEvent(occ.eventId);
    if (!c || !ev || !live.current.canEdit) {
      info.revert();
      return;
    }
    const e = info.event;
    let change: Change;
    const zone = live.current.displayZone;
    if (e.allDay) {
      const start = fcDate(e.start!);
      change = { start, end: e.end ? fcDate(e.end) : addDays(start, 1) };
    } else {
      // The drop is a wall clock of the display zone; the event keeps its own zone (floating: none).
      const start = convertWall(fcWall(e.start!), zone, ev.tz ?? zone);
      change = { start, end: e.end ? convertWall(fcWall(e.end), zone, ev.endTz ?? ev.tz ?? zone) : addMinutes(start, 60) };
    }
    let scope: Scope = 'all';
    if (ev.rrule) {
      const chosen = await askScope(`${verb} “${occ.title}”. Which events should change?`, !seriesOnly(change, occ));
      if (!chosen) {
        info.revert();
        return;
      }
      scope = chosen;
    }
    try {
      applyChange(c, ev, occ, change, scope, zone);
    } catch (err) {
      info.revert();
      toast(describeError(err), { kind: 'error' });
    }
  }

  function undo() {
    if (live.current.cal?.undo()) toast('Undone.');
  }
  function redo() {
    live.current.cal?.redo();
  }

  // Ctrl/⌘+Z, Ctrl/⌘+Shift+Z, Ctrl+Y; "/" or Ctrl/⌘+K searches — not while typing in a field or with a dialog open.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.closest('input, textarea, select, [contenteditable]') || t.closest('dialog'))) return;
      const k = e.key.toLowerCase();
      if ((k === '/' && !e.ctrlKey && !e.metaKey && !e.altKey) || (k === 'k' && (e.ctrlKey || e.metaKey))) {
        e.preventDefault();
        setPending({ kind: 'search' });
        return;
      }
      if (!(e.ctrlKey || e.metaKey) || !live.current.canEdit) return;
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        undo();
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        redo();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  // ---------------------------------------------------------------- render
  if (openError) {
    return (
      <main class="rooms">
        <p class="error" role="alert">
          Could not open this calendar on this device: {openError}
        </p>
        <button type="button" onClick={() => props.onSwitchRoom()}>
          Back to my calendars
        </button>
      </main>
    );
  }

  return (
    <div
      class="app"
      data-role={role}
      data-can-edit={String(canEdit)}
      onDragOver={(e) => {
        if (canEdit && e.dataTransfer?.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        const file = e.dataTransfer?.files[0];
        if (!canEdit || !file) return;
        e.preventDefault();
        setPending({ kind: 'import', file });
      }}
    >
      <Topbar
        roomName={roomName}
        user={user}
        role={role}
        canEdit={canEdit}
        status={status}
        presence={presence}
        members={members}
        history={history}
        onUndo={undo}
        onRedo={redo}
        onNewEvent={() => newEvent()}
        onOpen={(kind) => setPending({ kind })}
        onSwitchRoom={() => props.onSwitchRoom()}
        onSignOut={props.onSignOut}
        toast={toast}
      />
      {props.notice && !revoked && (
        <p class="banner info" role="status">
          {props.notice}
        </p>
      )}
      {role === 'viewer' && !revoked && (
        <p class="banner info" role="status">
          You can view this calendar but not change it.
        </p>
      )}
      {revoked && (
        <div class="banner warn" role="alert">
          {revoked}{' '}
          <button type="button" onClick={() => props.onSwitchRoom()}>
            My calendars
          </button>
        </div>
      )}
      {syncError && (
        <p class="banner warn" role="alert">
          {syncError}
        </p>
      )}
      <nav class="toolbar" aria-label="Calendar navigation">
        <div class="nav-buttons">
          <button type="button" onClick={() => (phoneMonth ? setDay(nowWall(displayZone).slice(0, 10)) : fcRef.current?.today())}>
            Today
          </button>
          <button type="button" class="icon" aria-label="Previous" onClick={() => (phoneMonth ? setDay(addMonths(day, -1)) : fcRef.current?.prev())}>
            ‹
          </button>
          <button type="button" class="icon" aria-label="Next" onClick={() => (phoneMonth ? setDay(addMonths(day, 1)) : fcRef.current?.next())}>
            ›
          </button>
        </div>
        <h2 class="view-title" aria-live="polite">
          {title}
        </h2>
        <button type="button" class="zone-button" onClick={() => setPending({ kind: 'settings' })} title="The time zone the calendar is shown in">
          Times in {zoneCity(displayZone)}
        </button>
        <div class="view-switch" role="group" aria-label="View">
          {VIEWS.map((v) => (
            <button type="button" key={v} aria-pressed={view === v} onClick={() => changeView(v)}>
              {VIEW_LABEL[v]}
            </button>
          ))}
        </div>
      </nav>
      <main class={`calendar-host ${phoneMonth ? 'hidden' : ''}`} ref={hostRef} aria-label={`${roomName} calendar`} hidden={phoneMonth} />
      {phoneMonth && cal && (
        <PhoneMonth
          cal={cal}
          members={members}
          displayZone={displayZone}
          day={day}
          onDay={setDay}
          onOpen={openOccurrence}
          onTitle={setTitle}
        />
      )}
      {pending?.kind === 'event' && cal && (
        <EventDialog
          cal={cal}
          target={pending.target}
          members={members}
          me={user.userId}
          canEdit={canEdit}
          displayZone={displayZone}
          onClose={() => setPending(null)}
          onDone={(msg) => {
            setPending(null);
            toast(msg, canEdit ? { action: { label: 'Undo', run: undo } } : {});
          }}
        />
      )}
      {pending?.kind === 'trash' && cal && (
        <TrashDialog cal={cal} canEdit={canEdit} members={members} onClose={() => setPending(null)} onRestored={(t) => toast(`Restored “${t}”.`)} />
      )}
      {pending?.kind === 'family' && (
        <FamilyDialog
          roomId={room.roomId}
          roomName={roomName}
          me={user.userId}
          role={role}
          members={members}
          onMembers={(m) => {
            cache.setMembers(room.roomId, m);
            setMembers(m);
          }}
          onClose={() => setPending(null)}
        />
      )}
      {pending?.kind === 'search' && cal && (
        <SearchDialog
          cal={cal}
          displayZone={displayZone}
          onClose={() => setPending(null)}
          onOpen={(occ) => openOccurrence(occ)}
        />
      )}
      {pending?.kind === 'import' && (
        <ImportDialog roomId={room.roomId} file={pending.file} onClose={() => setPending(null)} />
      )}
      {pending?.kind === 'subscribe' && <SubscribeDialog roomId={room.roomId} roomName={roomName} onClose={() => setPending(null)} />}
      {pending?.kind === 'settings' && (
        <SettingsDialog user={user} displayZone={displayZone} onDisplayZone={chooseDisplayZone} onClose={() => setPending(null)} onAccountDeleted={props.onSignOut} />
      )}
      {pending?.kind === 'notifications' && <NotificationsDialog user={user} onClose={() => setPending(null)} />}
      {pending?.kind === 'scope' && (
        <ScopeDialog
          what={pending.what}
          allowThis={pending.allowThis}
          onChoose={(s) => {
            pending.resolve(s);
            setPending(null);
          }}
        />
      )}
      <Toasts toasts={toasts} dismiss={(id) => setToasts((t) => t.filter((x) => x.id !== id))} />
    </div>
  );
}
