/**
 * FullCalendar fed with our own expanded occurrences. It runs in UTC and is given the display
 * zone's wall clocks (see times.ts), so the calendar shows any zone the viewer picks, whatever
 * zone the device is in.
 */
import type { Calendar, Member, Occurrence } from '@kith/client';
import { Calendar as FullCalendar, type DateSelectInfo, type EventChangeInfo, type EventInput } from 'fullcalendar';
import dayGridPlugin from 'fullcalendar/daygrid';
import interactionPlugin from 'fullcalendar/interaction';
import listPlugin from 'fullcalendar/list';
import themePlugin from 'fullcalendar/themes/monarch';
import timeGridPlugin from 'fullcalendar/timegrid';
import 'fullcalendar/skeleton.css';
import 'fullcalendar/themes/monarch/theme.css';
import 'fullcalendar/themes/monarch/palettes/blue.css';
import { useEffect, useRef } from 'preact/hooks';

type Ref<T> = { current: T };
import { memberColor, NEUTRAL } from './colors.js';
import { bothTimes, fcDate, fcWall, formatTime, instantToWall, nowWall } from './times.js';

export type ViewName = 'month' | 'week' | 'day' | 'agenda';
export const FC_VIEW: Record<ViewName, string> = { month: 'dayGridMonth', week: 'timeGridWeek', day: 'timeGridDay', agenda: 'listAgenda' };
export const VIEWS = Object.keys(FC_VIEW) as ViewName[];

/** Monday or Sunday first, as the person's locale says (Monday where the browser cannot tell). */
export function firstDayOfWeek(): number {
  try {
    const loc = new Intl.Locale(navigator.language) as Intl.Locale & { getWeekInfo?: () => { firstDay: number }; weekInfo?: { firstDay: number } };
    const first = (loc.getWeekInfo?.() ?? loc.weekInfo)?.firstDay;
    return first ? first % 7 : 1;
  } catch {
    return 1;
  }
}

/**
 * One time format for every view, the one the rest of the app writes (formatTime: the locale's
 * short time, "08:00" in en-GB, "8:00 AM" in en-US). The calendar runs in UTC, so a marker's
 * UTC fields are the display zone's wall clock.
 */
function timeFormat(info: { date: { marker: Date }; start: { marker: Date }; end?: { marker: Date } | null }): string {
  const t = (z: { marker: Date }) => formatTime(fcWall(z.marker), navigator.language);
  return info.end ? `${t(info.start)}–${t(info.end)}` : t(info.date);
}

/** The event's own colour, else that of its participant who joined the family first. */
export function colorOf(o: Occurrence, members: Member[]): string {
  if (o.color) return o.color;
  const indexes = o.participants.map((p) => members.findIndex((m) => m.userId === p)).filter((i) => i >= 0);
  return indexes.length ? memberColor(Math.min(...indexes)) : NEUTRAL;
}

/** Text as axe compares it for "label in name": lower case, letters and digits only. */
const curated = (t: string) => t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

/**
 * WCAG 2.5.3 (label in name): FullCalendar names its date links "Go to 30 November 2026" while they
 * show "Mon 30", and names day cells by their date while they also show the day's events. Links get
 * a name that starts with what they show; cells keep no label of their own, so they are named by
 * their content (the date link first). Done once per mount: FullCalendar re-renders these
 * attributes only when their value changes, i.e. on a new date, which remounts the cell.
 */
function nameByVisibleText(root: HTMLElement): void {
  if (root.getAttribute('role') === 'gridcell') root.removeAttribute('aria-label');
  for (const link of root.querySelectorAll<HTMLElement>('[role=link][aria-label]')) {
    const shown = link.textContent?.trim() ?? '';
    const label = link.getAttribute('aria-label') ?? '';
    if (shown && !curated(label).includes(curated(shown))) link.setAttribute('aria-label', `${shown}, ${label}`);
  }
}

/**
 * A weekday column header shows "Mon" but FullCalendar hides that text from screen readers (it
 * names the header "Monday"): axe then finds the header empty (empty-table-header). The text is
 * made readable again; the name stays "Monday".
 */
function headerTextReadable(el: HTMLElement): void {
  const header = el.closest<HTMLElement>('[role=columnheader]') ?? el;
  for (const hidden of header.querySelectorAll<HTMLElement>('[aria-hidden=true]')) {
    if (hidden.textContent?.trim()) hidden.removeAttribute('aria-hidden');
  }
}

/**
 * The week view's time axis heads the timed row with an empty, labelled rowheader ("Timed");
 * an empty header is a cell, as FullCalendar itself does for the empty axis corner.
 */
function emptyHeadersAsCells(root: HTMLElement): void {
  for (const header of root.querySelectorAll<HTMLElement>('[role=rowheader], [role=columnheader]')) {
    if (!header.textContent?.trim() && !header.querySelector('img, svg')) header.setAttribute('role', 'gridcell');
  }
}

/**
 * An agenda day's "Events" list holds role=button events, and a list may only hold list items:
 * the container becomes a named group, which may hold buttons (axe aria-required-children).
 */
function eventsContainerAsGroup(eventEl: HTMLElement): void {
  const parent = eventEl.parentElement;
  if (parent?.getAttribute('role') === 'list' && eventEl.getAttribute('role') !== 'listitem') parent.setAttribute('role', 'group');
}

export interface FullCalendarHandlers {
  members: Member[];
  canEdit: boolean;
  displayZone: string;
  onOpen: (occ: Occurrence) => void;
  onSelect: (sel: { start: Date; end: Date; allDay: boolean }) => void;
  onMoved: (info: EventChangeInfo, occ: Occurrence, verb: string) => void;
  onDates: (title: string, view: ViewName | undefined, currentStart: string) => void;
}

/**
 * Mounts FullCalendar in `host` while `cal` is open, in the view `view` holds when it is created;
 * the returned ref is the live instance.
 */
export function useFullCalendar(
  host: Ref<HTMLDivElement | null>,
  cal: Calendar | null,
  view: Ref<ViewName>,
  handlers: FullCalendarHandlers,
): Ref<FullCalendar | null> {
  const fcRef = useRef<FullCalendar | null>(null);
  const live = useRef(handlers);
  live.current = handlers;
  const occs = useRef(new Map<string, Occurrence>());

  function toInput(o: Occurrence): EventInput {
    const { members, displayZone } = live.current;
    const id = `${o.eventId}|${o.occKey}`;
    occs.current.set(id, o);
    const names = o.participants.map((p) => members.find((m) => m.userId === p)?.username).filter(Boolean);
    return {
      id,
      title: o.title || 'Untitled',
      start: o.allDay ? o.start : instantToWall(o.startInstant, displayZone),
      end: o.allDay ? o.end : instantToWall(o.endInstant, displayZone),
      allDay: o.allDay,
      color: colorOf(o, members),
      contrastColor: '#ffffff',
      extendedProps: { eventId: o.eventId, occKey: o.occKey, recurring: o.recurring, who: names, both: o.allDay ? null : bothTimes(o.start, o.tz, displayZone) },
    };
  }

  useEffect(() => {
    if (!cal || !host.current) return;
    const phone = matchMedia('(max-width: 640px)').matches;
    const fc = new FullCalendar(host.current, {
      plugins: [dayGridPlugin, timeGridPlugin, listPlugin, interactionPlugin, themePlugin],
      initialView: FC_VIEW[view.current],
      headerToolbar: false,
      height: '100%',
      timeZone: 'UTC',
      now: () => nowWall(live.current.displayZone),
      locale: navigator.language,
      firstDay: firstDayOfWeek(),
      eventTimeFormat: timeFormat,
      slotHeaderFormat: timeFormat,
      nowIndicator: true,
      navLinks: true,
      dayHeaderDidMount: (info) => {
        nameByVisibleText(info.el);
        headerTextReadable(info.el);
      },
      viewDidMount: (info) => emptyHeadersAsCells(info.el),
      dayCellDidMount: (info) => nameByVisibleText(info.el),
      // Month and all-day chips get a 24 px minimum height (WCAG 2.2 target size, styles.css).
      rowEventClass: 'row-event',
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
          displayEventEnd: !phone,
        },
      },
      events: (info, success) => {
        occs.current.clear();
        const zone = live.current.displayZone;
        success(cal.occurrences({ from: info.start.toISOString(), to: info.end.toISOString(), timeZone: zone }).map(toInput));
      },
      eventDidMount: (info) => {
        const p = info.event.extendedProps as { eventId: string; occKey: string; who: string[]; both: string | null };
        info.el.dataset.eventId = p.eventId;
        info.el.dataset.occKey = p.occKey;
        info.el.dataset.title = info.event.title;
        const tip = [info.event.title, p.both, p.who.join(', ')].filter(Boolean).join(' · ');
        info.el.title = tip;
        if (info.view.type === FC_VIEW.agenda) eventsContainerAsGroup(info.el);
        // The agenda says both times where the event's zone is another one.
        if (p.both && info.view.type === FC_VIEW.agenda) {
          const note = document.createElement('span');
          note.className = 'both-times agenda-both';
          note.textContent = p.both;
          // Under the title (the row's last cell), not in a column of its own.
          (info.el.lastElementChild?.lastElementChild ?? info.el).appendChild(note);
        }
      },
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        const occ = occs.current.get(info.event.id);
        if (occ) live.current.onOpen(occ);
      },
      select: (info: DateSelectInfo) => {
        fc.unselect();
        if (!live.current.canEdit) return;
        live.current.onSelect(info);
      },
      eventDrop: (info) => movedBy(info, 'Moved'),
      eventResize: (info) => movedBy(info, 'Resized'),
      datesSet: (info) => {
        const shown = VIEWS.find((v) => FC_VIEW[v] === info.view.type);
        live.current.onDates(info.view.title, shown, fcDate(info.view.currentStart));
      },
    });
    function movedBy(info: EventChangeInfo, verb: string) {
      const occ = occs.current.get(info.event.id);
      if (!occ) info.revert();
      else live.current.onMoved(info, occ, verb);
    }
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
    fc.setOption('editable', handlers.canEdit);
    fc.setOption('selectable', handlers.canEdit);
  }, [handlers.canEdit, cal]);

  // Member colours, and every time when the viewer picks another zone.
  useEffect(() => {
    fcRef.current?.refetchEvents();
  }, [handlers.members, handlers.displayZone]);

  return fcRef;
}
