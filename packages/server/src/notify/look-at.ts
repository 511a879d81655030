/**
 * What the notification module's looks read from a room's document — a room's due reminders, the
 * occurrences of a member's day, its picture for change notices — as one pure function, run in
 * process or in RoomReader's worker.
 */
import { occurrencesBetween, type Occurrence, type ViewWindow } from '@kith/model';
import type * as Y from 'yjs';
import { remindersOf, type DueReminder } from './reminders.js';
import { printRoom, type RoomPrint } from './room-changes.js';

/** What a look asks of a room. */
export type LookQuery =
  /** `zones`: the zones members chose in their notification settings (for all-day and floating events). */
  | { kind: 'reminders'; members: string[]; zones?: Record<string, string>; startsAfter: number; dueBy: number }
  | { kind: 'occurrences'; window: ViewWindow }
  /** The room's picture for change notices (see room-changes.ts). */
  | { kind: 'print' };

export interface LookResults {
  reminders: DueReminder[];
  occurrences: Occurrence[];
  print: RoomPrint;
}

/** A look's answer from the room's document: the same function in process and in the worker. */
export function lookAt<Q extends LookQuery>(doc: Y.Doc, query: Q): LookResults[Q['kind']] {
  const q = query as LookQuery;
  const result = q.kind === 'reminders' ? remindersOf(doc, q.members, q.startsAfter, q.dueBy, q.zones) : q.kind === 'occurrences' ? occurrencesBetween(doc, q.window) : printRoom(doc);
  return result as LookResults[Q['kind']];
}

