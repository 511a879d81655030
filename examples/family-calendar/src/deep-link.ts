/**
 * Links that open one event: `/#/rooms/<roomId>/events/<eventId>`, the form the server puts in
 * push notifications and emails (notify/texts.ts). A click on a notification either loads the app
 * at such a link or, when the app is already open, the service worker posts it to the tab.
 */

export interface EventLink {
  roomId: string;
  eventId: string;
}

const PATTERN = /^#\/rooms\/([^/]{1,384})\/events\/([^/]{1,384})$/;

export function eventLink(roomId: string, eventId: string): string {
  return `/#/rooms/${encodeURIComponent(roomId)}/events/${encodeURIComponent(eventId)}`;
}

export function parseEventLink(hash: string): EventLink | null {
  const m = PATTERN.exec(hash);
  if (!m) return null;
  try {
    return { roomId: decodeURIComponent(m[1]!), eventId: decodeURIComponent(m[2]!) };
  } catch {
    return null;
  }
}

/** Calls `open` for each event link that arrives while the app runs (hash change, or the service worker's message). */
export function onEventLinks(open: (link: EventLink) => void): () => void {
  const fromHash = () => {
    const link = parseEventLink(location.hash);
    if (link) open(link);
  };
  const fromWorker = (e: MessageEvent) => {
    const data = e.data as { type?: unknown; url?: unknown } | null;
    if (data?.type !== 'open-url' || typeof data.url !== 'string') return;
    const link = parseEventLink(new URL(data.url, location.origin).hash);
    if (link) open(link);
  };
  addEventListener('hashchange', fromHash);
  navigator.serviceWorker?.addEventListener('message', fromWorker);
  return () => {
    removeEventListener('hashchange', fromHash);
    navigator.serviceWorker?.removeEventListener('message', fromWorker);
  };
}

/** Forgets the link in the address bar once the event is open (a reload then opens the calendar). */
export function clearEventLink(): void {
  if (parseEventLink(location.hash)) history.replaceState(null, '', location.pathname + location.search);
}
