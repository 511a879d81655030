/**
 * Opening a room's calendar before the calendar screen's code has arrived: the screen's chunk
 * (FullCalendar, dialogs) is the largest download, and the room's data need not wait for it. The
 * lazy wrapper starts opening (local copy, then the sync socket) as soon as it is shown; the
 * screen takes that calendar when its code is in, or opens one itself.
 */
import type { Calendar } from '@kith/client';
import { kith } from './store.js';

const started = new Map<string, Promise<Calendar>>();

function open(roomId: string): Promise<Calendar> {
  return kith.openCalendar(roomId, { connect: navigator.onLine, undoCaptureMs: 0 });
}

/** Starts opening `roomId` early; returns what undoes it if the screen never took it. */
export function startOpening(roomId: string): () => void {
  if (!started.has(roomId)) {
    const opening = open(roomId);
    opening.catch(() => undefined); // reported when the screen takes it
    started.set(roomId, opening);
  }
  return () => {
    const left = started.get(roomId);
    started.delete(roomId);
    void left?.then((c) => c.close(), () => undefined);
  };
}

/** The calendar started early for `roomId` (once), or a newly opened one. */
export function openRoomCalendar(roomId: string): Promise<Calendar> {
  const early = started.get(roomId);
  started.delete(roomId);
  return early ?? open(roomId);
}
