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
}
export type SendOutcome = 'sent' | 'retry' | 'gone';   // gone = destination removed (404/410 push, unsubscribed)
export interface Channel {
  readonly name: 'push' | 'email';
  /** Whether the member has this channel set up (a push subscription / a verified email). */
  available(userId: string): Promise<boolean>;
  send(delivery: Delivery): Promise<SendOutcome>;
}
