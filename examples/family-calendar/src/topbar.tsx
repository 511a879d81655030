/** The calendar's header: name, who is online, sync badge, undo / redo, new event, search and the menu. */
import type { Member, PresenceEntry, Role, StatusInfo, User } from '@kith/client';
import { Presence, SyncBadge } from './ui.js';

type MenuTarget = 'family' | 'trash' | 'search' | 'import' | 'subscribe' | 'settings' | 'notifications';

export function Topbar(props: {
  roomName: string;
  user: User;
  role: Role;
  canEdit: boolean;
  status: StatusInfo;
  presence: PresenceEntry[];
  members: Member[];
  history: { canUndo: boolean; canRedo: boolean };
  onUndo: () => void;
  onRedo: () => void;
  onNewEvent: () => void;
  onOpen: (what: MenuTarget) => void;
  onSwitchRoom: () => void;
  onSignOut: () => void;
  toast: (text: string) => void;
}) {
  const { canEdit, history } = props;

  async function enableNotifications() {
    if (typeof Notification === 'undefined') {
      props.toast('This browser cannot show notifications; reminders appear in the page.');
      return;
    }
    const result = await Notification.requestPermission();
    props.toast(result === 'granted' ? 'Reminders will show as notifications while Kith is open.' : 'Notifications are blocked; reminders appear in the page.');
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
  const item = (label: string, run: () => void) => (
    <button type="button" onClick={(e) => (closeMenu(e), run())}>
      {label}
    </button>
  );

  const notifications = typeof Notification !== 'undefined' ? Notification.permission : 'denied';
  return (
    <header class="topbar">
      <div class="title-block">
        <img src="/icon.svg" alt="" width="28" height="28" />
        <h1 class="room-name">{props.roomName}</h1>
      </div>
      <Presence people={props.presence} members={props.members} me={props.user.userId} />
      <SyncBadge info={props.status} />
      <div class="actions">
        <button type="button" class="icon search-button" aria-label="Search" title="Search (/ or Ctrl+K)" onClick={() => props.onOpen('search')}>
          ⌕
        </button>
        <button type="button" class="icon" aria-label="Undo" title="Undo (Ctrl+Z)" disabled={!history.canUndo || !canEdit} onClick={props.onUndo}>
          ↶
        </button>
        <button type="button" class="icon redo" aria-label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={!history.canRedo || !canEdit} onClick={props.onRedo}>
          ↷
        </button>
        {canEdit && (
          <button type="button" class="primary new-event" onClick={props.onNewEvent}>
            <span aria-hidden="true">+</span> New event
          </button>
        )}
        <details class="menu" onKeyDown={menuKeys} onFocusOut={menuFocusOut}>
          <summary aria-label="Menu">☰</summary>
          <div class="menu-items">
            {item('Family & invites', () => props.onOpen('family'))}
            {props.role === 'owner' && item('Subscribe link', () => props.onOpen('subscribe'))}
            {canEdit && item('Import .ics file', () => props.onOpen('import'))}
            {item('Search', () => props.onOpen('search'))}
            {item('Trash', () => props.onOpen('trash'))}
            {item('Settings', () => props.onOpen('settings'))}
            {item('Notifications & email', () => props.onOpen('notifications'))}
            {notifications === 'default' && item('Turn on reminder notifications', () => void enableNotifications())}
            {item('My calendars', props.onSwitchRoom)}
            {item(`Sign out (${props.user.username})`, props.onSignOut)}
          </div>
        </details>
      </div>
    </header>
  );
}
