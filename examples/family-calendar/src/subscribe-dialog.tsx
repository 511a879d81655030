/**
 * The owner's subscribe link: a secret feed URL other calendar apps poll (read-only). Create,
 * copy, rotate (the old link stops working) and revoke; `webcal:` for phones.
 */
import { useEffect, useState } from 'preact/hooks';
import { describeError, kith } from './store.js';
import { CopyField } from './copy-field.js';
import { Modal } from './ui.js';

interface FeedStatus {
  active: boolean;
  createdAt: string | null;
}
interface FeedLink {
  url: string;
  webcalUrl: string;
  createdAt: string;
}

export function SubscribeDialog(props: { roomId: string; roomName: string; onClose: () => void }) {
  const path = `/rooms/${encodeURIComponent(props.roomId)}/feed`;
  const [status, setStatus] = useState<FeedStatus | null>(null);
  const [link, setLink] = useState<FeedLink | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    kith.request<FeedStatus>('GET', path).then(setStatus, (err: unknown) => setError(describeError(err)));
  }, []);

  async function act(what: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }
  const create = () =>
    act(async () => {
      const made = await kith.request<FeedLink>('POST', path);
      setLink(made);
      setStatus({ active: true, createdAt: made.createdAt });
    });
  const revoke = () =>
    act(async () => {
      await kith.request('DELETE', path);
      setLink(null);
      setStatus({ active: false, createdAt: null });
    });

  return (
    <Modal title="Subscribe link" onClose={props.onClose} id="subscribe-dialog">
      <p>
        Other calendar apps (Apple, Google, Outlook) can show “{props.roomName}” read-only by subscribing to a secret link. Anyone with the link
        can read the calendar: share it only with people you trust.
      </p>
      {status?.active && !link && (
        <p class="hint" role="status">
          A link is active (made {status.createdAt ? new Date(status.createdAt).toLocaleDateString() : ''}). It is shown only when made: make a new one
          to see it (the old one then stops working).
        </p>
      )}
      {status && !status.active && !link && <p class="hint" role="status">No subscribe link is active.</p>}
      {link && (
        <div class="feed-link">
          <CopyField id="feed-url" label="Subscribe link (https)" value={link.url} />
          <CopyField id="feed-webcal" label="For phones (webcal)" value={link.webcalUrl} />
          <p class="hint">
            <a href={link.webcalUrl}>Open in this device’s calendar app</a>
          </p>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <footer class="modal-foot">
        {status?.active && (
          <button type="button" class="danger" disabled={busy} onClick={() => void revoke()}>
            Revoke link
          </button>
        )}
        <span class="spacer" />
        <button type="button" class="primary" disabled={busy || !status} onClick={() => void create()}>
          {status?.active ? 'Make a new link' : 'Create link'}
        </button>
      </footer>
    </Modal>
  );
}
