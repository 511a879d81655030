import type { RoomApi } from '../sync/room-api.js';
import type { Clock } from './clock.js';
import { quietEnd, type Preferences } from './preferences.js';
import { roomZone } from './reminders.js';

/** One message to one member on one channel; `key` is the exactly-once ledger key. */
export interface Delivery {
  key: string;            // e.g. `rem:${roomId}:${eventId}:${occurrenceStart}:${reminderId}:${userId}:${channel}`
  userId: string;
  roomId: string;
  kind: 'reminder' | 'changes' | 'agenda' | 'account';
  title: string;          // short, e.g. "Dentist at 16:00"
  body: string;           // plain text, times already in the member's zone
  html?: string;          // email only
  url: string;            // path in the web app that opens the event/room, e.g. `/#/rooms/r1/events/e1`
  ics?: string;           // optional .ics attachment (email)
  tag?: string;           // push notification tag (collapse)
  /**
   * A change notice composed under the 'all' preference that lists changes the member takes no
   * part in: its text under 'participant' (null: nothing left), sent instead if they switch before
   * a retry.
   */
  asParticipant?: { body: string; url: string } | null;
}
export type SendOutcome = 'sent' | 'retry' | 'gone';   // gone = destination removed (404/410 push, unsubscribed)
export interface Channel {
  readonly name: 'push' | 'email';
  /** Whether the member has this channel set up (a push subscription / a verified email). */
  available(userId: string): Promise<boolean>;
  send(delivery: Delivery): Promise<SendOutcome>;
  /**
   * A channel that retries deliveries on its own, after `send` answered `retry` (the email outbox),
   * is given the notifications core's RetryCheck when the module installs, and asks it before each
   * such attempt.
   */
  checkRetriesWith?(check: RetryCheck): void;
}

/**
 * Whether a delivery a channel keeps retrying is still to be sent, by the checks its first send
 * passed: a retry can come hours later, after the member turned those notices off or entered quiet
 * hours, or after the event was deleted. `send`; `drop` for good (why, for the log); or `waitMs`,
 * ask again after that long (quiet hours, a reminder moved later): relative, as the channel keeps
 * its own time.
 */
export type RetryVerdict = { send: true; instead?: Delivery } | { drop: string } | { waitMs: number };
export type RetryCheck = (delivery: Delivery, channel: string) => Promise<RetryVerdict>;

/** The core's checks, one per kind it sends ('account' mails are the channels' own: always sent). */
export interface RetryChecks {
  reminder(delivery: Delivery, channel: string): Promise<RetryVerdict>;
  changes(delivery: Delivery, channel: string): Promise<RetryVerdict>;
  agenda(delivery: Delivery, channel: string): Promise<RetryVerdict>;
}

export function retryCheck(checks: RetryChecks): RetryCheck {
  return async (delivery, channel) => (delivery.kind === 'account' ? { send: true } : checks[delivery.kind](delivery, channel));
}

/**
 * Change notices' check (their first send is notices.ts's notifyMember): none when the member set
 * the room's notices to 'none'; inside the member's quiet hours, wait until they end (in the
 * member's zone, else the room's, as there). A notice composed under 'all' is sent as it reads
 * under 'participant' once the member switched to that, or dropped when nothing is left of it.
 */
export function changesRetryCheck(deps: { prefs: Preferences; rooms: RoomApi; clock: Clock }): RetryChecks['changes'] {
  return async (delivery) => {
    const { prefs, rooms, clock } = deps;
    const pref = await prefs.changesPref(delivery.userId, delivery.roomId);
    if (pref === 'none') return { drop: 'the member turned change notices for the room off' };
    const narrowed = pref === 'participant' && delivery.asParticipant !== undefined;
    if (narrowed && delivery.asParticipant === null) return { drop: 'the member now hears only of events they take part in' };
    const { quietHours, timeZone } = await prefs.get(delivery.userId);
    if (quietHours) {
      // The room's zone only when it is needed (quiet hours and no zone of the member's own).
      const zone = timeZone ?? (await rooms.read(delivery.roomId, roomZone, { transient: true }));
      const now = clock.now();
      const end = quietEnd(now, quietHours.start, quietHours.end, zone);
      if (end !== null) return { waitMs: Math.max(end - now, 1) };
    }
    if (!narrowed) return { send: true };
    const { asParticipant: _composed, ...rest } = delivery;
    return { send: true, instead: { ...rest, ...delivery.asParticipant! } };
  };
}
