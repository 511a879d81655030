/**
 * One family calendar: the header (name, who is online, sync badge, undo, menu), the view toolbar,
 * FullCalendar fed with our own expanded occurrences, and the dialogs.
 */
import type { Calendar, Member, Occurrence, PresenceEntry, Role, RoomSummary, StatusInfo, User } from '@kith/client';
import { Calendar as FullCalendar, type DateSelectInfo, type EventChangeInfo, type EventInput } from 'fullcalendar';
import dayGridPlugin from 'fullcalendar/daygrid';
import interactionPlugin from 'fullcalendar/interaction';
import listPlugin from 'fullcalendar/list';
import themePlugin from 'fullcalendar/themes/monarch';
import timeGridPlugin from 'fullcalendar/timegrid';
import 'fullcalendar/skeleton.css';
import 'fullcalendar/themes/monarch/theme.css';
import 'fullcalendar/themes/monarch/palettes/blue.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { memberColor, NEUTRAL } from './colors.js';
import { FamilyDialog, ScopeDialog, TrashDialog } from './dialogs.js';
import { applyChange, seriesOnly, type Change, type Scope } from './edits.js';
import { EventDialog, type EventTarget } from './event-dialog.js';
import { startReminders, systemNotify } from './reminders.js';
import { cache, describeError, kith } from './store.js';
import { addDays, addMinutes, isDate, localDate, wallIn } from './times.js';
import { Presence, SyncBadge, Toasts, type Toast } from './ui.js';

export type ViewName = 'month' | 'week' | 'day' | 'agenda';
const FC_VIEW: Record<ViewName, string> = { month: 'dayGridMonth', week: 'timeGridWeek', day: 'timeGridDay', agenda: 'listAgenda' };
const VIEW_LABEL: Record<ViewName, string> = { month: 'Month', week: 'Week', day: 'Day', agenda: 'Agenda' };
const VIEWS = Object.keys(FC_VIEW) as ViewName[];

type Pending = { kind: 'event'; target: EventTarget } | { kind: 'trash' } | { kind: 'family' } | { kind: 'scope'; what: string; allowThis: boolean; resolve: (s: Scope | null) => void };

/** Monday or Sunday first, as the person's locale says. */
function firstDayOfWeek(): number {
  try {
    const loc = new Intl.Locale(navigator.language) as Intl.Locale & { getWeekInfo?: () => { firstDay: number }; weekInfo?: { firstDay: number } };
    const first = (loc.getWeekInfo?.() ?? loc.weekInfo)?.firstDay;
    return first ? first % 7 : 1;
  } catch {
    return 1;
  }
}

function initialView(): ViewName {
  const saved = cache.view() as ViewName | undefined;
  if (saved && VIEWS.includes(saved)) return saved;
  return matchMedia('(max-width: 640px)').matches ? 'agenda' : 'month';
}

export function CalendarScreen(props: {
  user: User;
  room: RoomSummary;
  notice?: string | undefined;
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
  const [title, setTitle] = useState('');
  const [pending, setPending] = useState<Pending | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [roomName, setRoomName] = useState(room.name);
  const hostRef = useRef<HTMLDivElement>(null);
  const fcRef = useRef<FullCalendar | null>(null);
  const occs = useRef(new Map<string, Occurrence>());
  const canEdit = role !== 'viewer' && !revoked;
  const live = useRef({ canEdit, members, cal });
  live.current = { canEdit, members, cal };

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
    void kith
      .openCalendar(room.roomId, { connect: navigator.onLine, undoCaptureMs: 0 })
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
        offs.push(startReminders(c, user.userId, (t, body) => {
          toast(`Reminder: ${t} — ${body}`);
          systemNotify(t, body, `${t}|${body}`);
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
  /** The event's own colour, else that of its participant who joined the family first. */
  function colorOf(o: Occurrence): string {
    if (o.color) return o.color;
    const indexes = o.participants.map((p) => live.current.members.findIndex((m) => m.userId === p)).filter((i) => i >= 0);
    return indexes.length ? memberColor(Math.min(...indexes)) : NEUTRAL;
  }

  function toInput(o: Occurrence): EventInput {
    const id = `${o.eventId}|${o.occKey}`;
    occs.current.set(id, o);
    const names = o.participants.map((p) => live.current.members.find((m) => m.userId === p)?.username).filter(Boolean);
    return {
      id,
      title: o.title || 'Untitled',
      start: o.allDay ? o.start : o.startInstant,
      end: o.allDay ? o.end : o.endInstant,
      allDay: o.allDay,
      color: colorOf(o),
      contrastColor: '#ffffff',
      extendedProps: { eventId: o.eventId, occKey: o.occKey, recurring: o.recurring, who: names },
    };
  }

  useEffect(() => {
    if (!cal || !hostRef.current) return;
    const fc = new FullCalendar(hostRef.current, {
      plugins: [dayGridPlugin, timeGridPlugin, listPlugin, interactionPlugin, themePlugin],
      initialView: FC_VIEW[view],
      headerToolbar: false,
      height: '100%',
      timeZone: 'local',
      locale: navigator.language,
      firstDay: firstDayOfWeek(),
      nowIndicator: true,
      navLinks: true,
      dayMaxEvents: true,
      editable: live.current.canEdit,
      selectable: live.current.canEdit,
      selectMirror: true,
      eventInteractive: true,
      longPressDelay: 350,
      scrollTime: '07:30:00',
      views: {
        listAgenda: {
          type: 'list',
          duration: { days: 30 },
          noEventsText: 'Nothing planned in the next 30 days.',
          titleFormat: { year: 'numeric', month: 'short', day: 'numeric' },
          // On a phone the start time is enough; the title needs the room.
          displayEventEnd: !matchMedia('(max-width: 640px)').matches,
        },
      },
      events: (info, success) => {
        occs.current.clear();
        success(cal.occurrences({ from: info.start.toISOString(), to: info.end.toISOString() }).map(toInput));
      },
      eventDidMount: (info) => {
        const p = info.event.extendedProps as { eventId: string; occKey: string; who: string[] };
        info.el.dataset.eventId = p.eventId;
        info.el.dataset.occKey = p.occKey;
        info.el.dataset.title = info.event.title;
        if (p.who.length) info.el.title = `${info.event.title} · ${p.who.join(', ')}`;
      },
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        openOccurrence(info.event.id);
      },
      select: (info: DateSelectInfo) => {
        fc.unselect();
        if (!live.current.canEdit) return;
        newEvent(info);
      },
      eventDrop: (info) => void onMoved(info, 'Moved'),
      eventResize: (info) => void onMoved(info, 'Resized'),
      datesSet: (info) => {
        setTitle(info.view.title);
        // A click on a day number (a nav link) changes the view from inside the calendar.
        const shown = VIEWS.find((v) => FC_VIEW[v] === info.view.type);
        if (shown) setView(shown);
        cal.setViewing(localDate(info.view.currentStart));
      },
    });
    fc.render();
    fcRef.current = fc;
    let scheduled = false;
    const off = cal.on('change', () => {
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        fc.refetchEvents();
      }, 0);
    });
    return () => {
      off();
      fc.destroy();
      fcRef.current = null;
    };
  }, [cal]);

  useEffect(() => {
    const fc = fcRef.current;
    if (!fc) return;
    fc.setOption('editable', canEdit);
    fc.setOption('selectable', canEdit);
  }, [canEdit, cal]);

  useEffect(() => {
    fcRef.current?.refetchEvents(); // member colours
  }, [members]);

  function changeView(v: ViewName) {
    setView(v);
    cache.setView(v);
    fcRef.current?.changeView(FC_VIEW[v]);
  }

  // ---------------------------------------------------------------- edits
  function openOccurrence(fcId: string) {
    const c = live.current.cal;
    const occ = occs.current.get(fcId);
    const ev = occ && c?.getEvent(occ.eventId);
    if (!occ || !ev) return;
    setPending({ kind: 'event', target: { kind: 'existing', event: ev, occ } });
  }

  function newEvent(sel?: { start: Date; end: Date; allDay: boolean }) {
    let start: string;
    let end: string;
    if (!sel) {
      const base = fcRef.current?.getDate() ?? new Date();
      const now = new Date();
      const day = localDate(base);
      const hour = localDate(now) === day ? Math.min(now.getHours() + 1, 22) : 9;
      start = `${day}T${String(hour).padStart(2, '0')}:00`;
      end = addMinutes(start, 60);
    } else if (sel.allDay) {
      start = localDate(sel.start);
      end = localDate(sel.end);
      if (end === addDays(start, 1) && fcRef.current?.view.type === FC_VIEW.month) {
        // A click on a day in the month: a timed event that day, like most calendars.
        start = `${start}T09:00`;
        end = `${start.slice(0, 10)}T10:00`;
      }
    } else {
      start = wallIn(sel.start, null);
      end = wallIn(sel.end, null);
    }
    setPending({ kind: 'event', target: { kind: 'new', start, end } });
  }

  function askScope(what: string, allowThis: boolean): Promise<Scope | null> {
    return new Promise((resolve) => setPending({ kind: 'scope', what, allowThis, resolve }));
  }

  async function onMoved(info: EventChangeInfo, verb: string) {
    const c = live.current.cal;
    const occ = occs.current.get(info.event.id);
    const ev = occ && c?.getEvent(occ.eventId);
    if (!c || !occ || !ev || !live.current.canEdit) {
      info.revert();
      return;
    }
    const e = info.event;
    let change: Change;
    if (e.allDay) {
      const start = localDate(e.start!);
      change = { start, end: e.end ? localDate(e.end) : addDays(start, 1) };
    } else {
      const start = wallIn(e.start!, ev.tz);
      change = { start, end: e.end ? wallIn(e.end, ev.endTz ?? ev.tz) : addMinutes(start, 60) };
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
      applyChange(c, ev, occ, change, scope);
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

  // Ctrl/⌘+Z, Ctrl/⌘+Shift+Z, Ctrl+Y — not while typing in a field or with a dialog open.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.closest('input, textarea, select, [contenteditable]') || t.closest('dialog'))) return;
      if (!(e.ctrlKey || e.metaKey) || !live.current.canEdit) return;
      const k = e.key.toLowerCase();
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

  async function enableNotifications() {
    if (typeof Notification === 'undefined') {
      toast('This browser cannot show notifications; reminders appear in the page.');
      return;
    }
    const result = await Notification.requestPermission();
    toast(result === 'granted' ? 'Reminders will show as notifications while Kith is open.' : 'Notifications are blocked; reminders appear in the page.');
  }

  function closeMenu(e: Event) {
    (e.currentTarget as HTMLElement).closest('details')?.removeAttribute('open');
  }
  /** Escape closes the menu and returns to its button; so does moving the focus out of it. */
  function menuKeys(e: KeyboardEvent) {
    const details = e.currentTarget as HTMLDetailsElement;
    if (e.key === 'Escape' && details.open) {
      details.open = false;
      details.querySelector('summary')?.focus();
    }
  }
  function menuFocusOut(e: FocusEvent) {
    const details = e.currentTarget as HTMLDetailsElement;
    if (e.relatedTarget && !details.contains(e.relatedTarget as Node)) details.open = false;
  }

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

  const notifications = typeof Notification !== 'undefined' ? Notification.permission : 'denied';
  return (
    <div class="app" data-role={role} data-can-edit={String(canEdit)}>
      <header class="topbar">
        <div class="title-block">
          <img src="/icon.svg" alt="" width="28" height="28" />
          <h1 class="room-name">{roomName}</h1>
        </div>
        <Presence people={presence} members={members} me={user.userId} />
        <SyncBadge info={status} />
        <div class="actions">
          <button type="button" class="icon" aria-label="Undo" title="Undo (Ctrl+Z)" disabled={!history.canUndo || !canEdit} onClick={undo}>
            ↶
          </button>
          <button type="button" class="icon redo" aria-label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={!history.canRedo || !canEdit} onClick={redo}>
            ↷
          </button>
          {canEdit && (
            <button type="button" class="primary new-event" onClick={() => newEvent()}>
              <span aria-hidden="true">+</span> New event
            </button>
          )}
          <details class="menu" onKeyDown={menuKeys} onFocusOut={menuFocusOut}>
            <summary aria-label="Menu">☰</summary>
            <div class="menu-items">
              <button type="button" onClick={(e) => (closeMenu(e), setPending({ kind: 'family' }))}>
                Family &amp; invites
              </button>
              <button type="button" onClick={(e) => (closeMenu(e), setPending({ kind: 'trash' }))}>
                Trash
              </button>
              {notifications === 'default' && (
                <button type="button" onClick={(e) => (closeMenu(e), void enableNotifications())}>
                  Turn on reminder notifications
                </button>
              )}
              <button type="button" onClick={(e) => (closeMenu(e), props.onSwitchRoom())}>
                My calendars
              </button>
              <button type="button" onClick={(e) => (closeMenu(e), props.onSignOut())}>
                Sign out ({user.username})
              </button>
            </div>
          </details>
        </div>
      </header>
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
          <button type="button" onClick={() => fcRef.current?.today()}>
            Today
          </button>
          <button type="button" class="icon" aria-label="Previous" onClick={() => fcRef.current?.prev()}>
            ‹
          </button>
          <button type="button" class="icon" aria-label="Next" onClick={() => fcRef.current?.next()}>
            ›
          </button>
        </div>
        <h2 class="view-title" aria-live="polite">
          {title}
        </h2>
        <div class="view-switch" role="group" aria-label="View">
          {VIEWS.map((v) => (
            <button type="button" key={v} aria-pressed={view === v} onClick={() => changeView(v)}>
              {VIEW_LABEL[v]}
            </button>
          ))}
        </div>
      </nav>
      <main class="calendar-host" ref={hostRef} aria-label={`${roomName} calendar`} />
      {pending?.kind === 'event' && cal && (
        <EventDialog
          cal={cal}
          target={pending.target}
          members={members}
          me={user.userId}
          canEdit={canEdit}
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
