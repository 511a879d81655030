/** Small building blocks: a modal dialog, the sync badge, who is online, toasts, a form's messages. */
import type { ComponentChildren } from 'preact';
import type { Member, PresenceEntry, StatusInfo } from '@kith/client';
import { useEffect, useRef } from 'preact/hooks';
import { initials, memberColor } from './colors.js';

/** A native modal <dialog>: focus stays inside, Escape closes it, focus returns where it was. */
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; class?: string; id?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    const before = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    // Start in the first field (not on the close button), or where the dialog asks.
    const first =
      d.querySelector<HTMLElement>('[data-autofocus]:not(:disabled)') ??
      d.querySelector<HTMLElement>('form :is(input, select, textarea, button):not(:disabled):not([type=hidden])');
    first?.focus();
    const onCancel = (e: Event) => {
      e.preventDefault();
      props.onClose();
    };
    d.addEventListener('cancel', onCancel);
    return () => {
      d.removeEventListener('cancel', onCancel);
      if (d.open) d.close();
      before?.focus?.();
    };
  }, []);
  const titleId = `${props.id ?? 'dialog'}-title`;
  return (
    <dialog ref={ref} class={`modal ${props.class ?? ''}`} aria-labelledby={titleId} id={props.id}>
      <header class="modal-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

const STATUS_TEXT: Record<StatusInfo['status'], [string, string]> = {
  offline: ['Offline', ''],
  connecting: ['Syncing', ''],
  syncing: ['Syncing', ''],
  synced: ['Syncing', ''],
  saved: ['Saved', ' on server'],
};

/** Offline / syncing / saved on the server, with the count of edits not yet stored on the server. */
export function SyncBadge(props: { info: StatusInfo }) {
  const { status, unsavedEdits } = props.info;
  const [text, more] = STATUS_TEXT[status];
  const unsaved = unsavedEdits > 0 ? `${unsavedEdits} unsaved ${unsavedEdits === 1 ? 'edit' : 'edits'}` : '';
  return (
    <span class={`sync-badge sync-${status}`} role="status" aria-live="polite" data-status={status} data-unsaved={unsavedEdits} title={unsaved || text + more}>
      <span class="dot" aria-hidden="true" />
      <span class="sync-text">
        {text}
        {more && <span class="long">{more}</span>}
      </span>
      {unsaved && <span class="sync-count"> · {unsaved}</span>}
    </span>
  );
}

/** Everyone else who has this calendar open right now (not me, on this or another device). */
export function Presence(props: { people: PresenceEntry[]; members: Member[]; me: string }) {
  const others = new Map<string, PresenceEntry>();
  for (const p of props.people) if (p.userId !== props.me && !others.has(p.userId)) others.set(p.userId, p);
  const list = [...others.values()];
  const label = list.length === 0 ? 'Nobody else is online' : `Online now: ${list.map((p) => p.username).join(', ')}`;
  return (
    <ul class="presence" aria-label={label} title={label}>
      {list.map((p) => {
        const idx = props.members.findIndex((m) => m.userId === p.userId);
        const where = p.viewing ? ` (looking at ${p.viewing})` : '';
        return (
          <li key={p.userId} class="avatar" style={{ background: memberColor(idx) }} title={`${p.username} is online${where}`} data-user={p.username}>
            <span aria-hidden="true">{initials(p.username)}</span>
            <span class="sr-only">{p.username} is online{where}</span>
          </li>
        );
      })}
    </ul>
  );
}

export interface Toast {
  id: number;
  text: string;
  action?: { label: string; run: () => void };
  kind?: 'info' | 'error';
}

export function Toasts(props: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {props.toasts.map((t) => (
        <div key={t.id} class={`toast ${t.kind === 'error' ? 'toast-error' : ''}`}>
          <span>{t.text}</span>
          {t.action && (
            <button
              type="button"
              onClick={() => {
                t.action!.run();
                props.dismiss(t.id);
              }}
            >
              {t.action.label}
            </button>
          )}
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => props.dismiss(t.id)}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}

/** A form's error, announced at once (role=alert); nothing when there is none. */
export function ErrorMessage(props: { error: string | undefined | null | false }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

/** A form's progress note (announced politely) and its error. */
export function FormMessages(props: { status: string | undefined | null | false; error: string | undefined | null | false }) {
  return (
    <>
      {props.status && (
        <p class="hint" role="status">
          {props.status}
        </p>
      )}
      <ErrorMessage error={props.error} />
    </>
  );
}
