/**
 * The top of the page an invite link opens: who invited you to which calendar, or — before any
 * account is made — that the link is bad, expired, used up or withdrawn.
 */
import type { Role } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { describeError, kith } from './store.js';

interface Preview {
  roomName: string;
  invitedBy: string;
  role: Role;
  expiresAt: string | null;
}

const ROLE_TEXT: Record<Role, string> = { owner: 'manage it', editor: 'add and change events', viewer: 'see it' };

export function InvitePreview(props: { code: string; onRefused: () => void }) {
  const [state, setState] = useState<{ kind: 'loading' } | { kind: 'ok'; preview: Preview } | { kind: 'bad'; text: string } | { kind: 'offline' }>({
    kind: 'loading',
  });
  useEffect(() => {
    kith.request<Preview>('GET', `/invites/${encodeURIComponent(props.code)}`, undefined, { auth: false }).then(
      (preview) => setState({ kind: 'ok', preview }),
      (err: unknown) => {
        const text = describeError(err);
        if (text.startsWith('Cannot reach')) {
          setState({ kind: 'offline' });
          return;
        }
        setState({ kind: 'bad', text });
        props.onRefused();
      },
    );
  }, [props.code]);

  switch (state.kind) {
    case 'loading':
      return <p class="notice invite-preview">Checking your invite link…</p>;
    case 'offline':
      return (
        <p class="notice invite-preview" role="status">
          You have been invited to a family calendar. Sign in, or create an account, to join it.
        </p>
      );
    case 'bad':
      return (
        <p class="error invite-preview" role="alert">
          {state.text} You can still sign in to your own calendars.
        </p>
      );
    case 'ok': {
      const p = state.preview;
      return (
        <p class="notice invite-preview" role="status">
          <strong>{p.invitedBy}</strong> invited you to <strong>“{p.roomName}”</strong>, where you can {ROLE_TEXT[p.role]}. Create an account, or sign in, to
          join.
          {p.expiresAt && <span class="hint"> The link works until {new Date(p.expiresAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}.</span>}
        </p>
      );
    }
  }
}
