/**
 * The app's screens: sign in / sign up, joining by invite link, choosing or creating a family
 * calendar, and the calendar itself. Everything it needs at start is on this device, so it opens
 * offline once it has been opened online.
 */
import type { RoomSummary, User } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { AuthScreen } from './auth.js';
import { onEventLinks, parseEventLink, type EventLink } from './deep-link.js';
import { CalendarScreen } from './lazy-calendar.js';
import { RoomsScreen } from './rooms.js';
import { cache, describeError, inviteCodeFromLocation, kith } from './store.js';

type Screen =
  | { kind: 'loading' }
  | { kind: 'auth'; notice?: string }
  | { kind: 'rooms'; error?: string; notice?: string }
  | { kind: 'calendar'; room: RoomSummary; notice?: string };

const INVITE_KEY = 'kith.app.pending-invite';

export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: 'loading' });
  const [user, setUser] = useState<User | null>(null);
  // An event to open (from a notification's link), until the calendar has opened it.
  const [link, setLink] = useState<EventLink | null>(() => parseEventLink(location.hash));

  useEffect(() => {
    const code = inviteCodeFromLocation();
    if (code) {
      sessionStorage.setItem(INVITE_KEY, code);
      history.replaceState(null, '', '/');
    }
    const offSession = kith.on('session', (u) => setUser(u));
    const offAuth = kith.on('auth-required', () => {
      setScreen({ kind: 'auth', notice: 'Your session has ended. Please sign in again.' });
    });
    void kith.ready().then(() => {
      setUser(kith.user);
      if (kith.user) void afterSignIn(kith.user);
      else setScreen({ kind: 'auth', notice: pendingInviteNotice() });
    });
    const offLinks = onEventLinks((l) => {
      setLink(l);
      const u = kith.user;
      const room = u && cache.rooms(u.userId).find((r) => r.roomId === l.roomId);
      if (room) setScreen((s) => (s.kind === 'calendar' && s.room.roomId === room.roomId ? s : { kind: 'calendar', room }));
    });
    return () => {
      offSession();
      offAuth();
      offLinks();
    };
  }, []);

  function pendingInviteNotice(): string | undefined {
    return sessionStorage.getItem(INVITE_KEY)
      ? 'You have been invited to a family calendar. Sign in, or create an account, to join it.'
      : undefined;
  }

  /** After sign-in (or at start with a kept session): join a pending invite, then open a calendar. */
  async function afterSignIn(u: User): Promise<void> {
    const code = sessionStorage.getItem(INVITE_KEY);
    if (code) {
      try {
        const joined = await kith.rooms.acceptInvite(code);
        sessionStorage.removeItem(INVITE_KEY);
        const room: RoomSummary = { roomId: joined.roomId, name: joined.name, role: joined.role };
        cache.setRooms(u.userId, [...cache.rooms(u.userId).filter((r) => r.roomId !== room.roomId), room]);
        cache.setLastRoom(u.userId, room.roomId);
        const notice = joined.joined ? `You joined “${room.name}”.` : `You are already a member of “${room.name}”.`;
        setScreen({ kind: 'calendar', room, notice });
        return;
      } catch (err) {
        if (describeError(err).startsWith('Cannot reach')) {
          // Offline: keep the invite for later and carry on with what this device has.
        } else {
          sessionStorage.removeItem(INVITE_KEY);
          setScreen({ kind: 'rooms', error: `Could not join: ${describeError(err)}` });
          return;
        }
      }
    }
    const rooms = cache.rooms(u.userId);
    const linked = link && rooms.find((r) => r.roomId === link.roomId);
    if (linked) {
      setScreen({ kind: 'calendar', room: linked });
      return;
    }
    const last = cache.lastRoom(u.userId);
    const known = rooms.find((r) => r.roomId === last) ?? (rooms.length === 1 ? rooms[0] : undefined);
    if (known) {
      setScreen({ kind: 'calendar', room: known });
      return;
    }
    try {
      const fresh = await kith.rooms.list();
      cache.setRooms(u.userId, fresh);
      const fromLink = link && fresh.find((r) => r.roomId === link.roomId);
      if (fromLink) setScreen({ kind: 'calendar', room: fromLink });
      else if (fresh.length === 1) setScreen({ kind: 'calendar', room: fresh[0]! });
      else setScreen({ kind: 'rooms' });
    } catch (err) {
      setScreen({ kind: 'rooms', error: describeError(err) });
    }
  }

  async function signOut(): Promise<void> {
    setScreen({ kind: 'auth', notice: 'You are signed out.' });
    await kith.logout();
  }

  const signedIn = (u: User, joined?: RoomSummary) => {
    setUser(u);
    if (joined) {
      // Signed up with the invite: the server joined the room in the same step.
      sessionStorage.removeItem(INVITE_KEY);
      cache.setRooms(u.userId, [...cache.rooms(u.userId).filter((r) => r.roomId !== joined.roomId), joined]);
      cache.setLastRoom(u.userId, joined.roomId);
      setScreen({ kind: 'calendar', room: joined, notice: `You joined “${joined.name}”.` });
      return;
    }
    void afterSignIn(u);
  };
  const authProps = {
    invite: sessionStorage.getItem(INVITE_KEY) ?? undefined,
    onInviteRefused: () => sessionStorage.removeItem(INVITE_KEY),
    onSignedIn: signedIn,
  };
  // The session can end under any screen (signed out in another tab, refresh refused).
  if ((screen.kind === 'rooms' || screen.kind === 'calendar') && !user) {
    return <AuthScreen notice="Your session has ended. Please sign in again." {...authProps} />;
  }

  switch (screen.kind) {
    case 'loading':
      return <p class="boot">Loading your calendar…</p>;
    case 'auth':
      return (
        <AuthScreen notice={screen.notice} {...authProps} />
      );
    case 'rooms':
      return (
        <RoomsScreen
          user={user!}
          error={screen.error}
          notice={screen.notice}
          onOpen={(room) => {
            cache.setLastRoom(user!.userId, room.roomId);
            setScreen({ kind: 'calendar', room });
          }}
          onSignOut={() => void signOut()}
        />
      );
    case 'calendar':
      return (
        <CalendarScreen
          key={screen.room.roomId}
          user={user!}
          room={screen.room}
          notice={screen.notice}
          openEventId={link?.roomId === screen.room.roomId ? link.eventId : undefined}
          onEventOpened={() => setLink(null)}
          onSwitchRoom={(notice) => {
            setScreen({ kind: 'rooms', notice });
          }}
          onSignOut={() => void signOut()}
          onSessionEnded={() => setScreen({ kind: 'auth', notice: 'Your session has ended. Please sign in again.' })}
        />
      );
  }
}
