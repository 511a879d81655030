/** Import an .ics file (picked, or dropped on the calendar) through the server's import, and say what it did. */
import { useEffect, useState } from 'preact/hooks';
import { describeError, postCalendarFile } from './store.js';
import { Modal } from './ui.js';

/** The server's own limit (IMPORT_BODY_LIMIT): larger files are refused here, before uploading. */
const MAX_BYTES = 4 * 1024 * 1024;

interface ImportSummary {
  imported: number;
  updated: number;
  unchanged: number;
  skipped: number;
  errors: Array<{ uid: string | null; code: string; message: string }>;
}

export function ImportDialog(props: { roomId: string; file?: File | undefined; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState<string | null>(null);
  const [summary, setSummary] = useState<ImportSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);

  async function run(file: File) {
    setError(null);
    setSummary(null);
    setName(file.name);
    if (file.size > MAX_BYTES) {
      setError(`“${file.name}” is ${(file.size / 1048576).toFixed(1)} MB; one import may be at most 4 MB. Split the file.`);
      return;
    }
    setBusy(true);
    try {
      const text = await file.text();
      setSummary(await postCalendarFile<ImportSummary>(`/rooms/${encodeURIComponent(props.roomId)}/import`, text));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    if (props.file) void run(props.file);
  }, []);

  return (
    <Modal title="Import events" onClose={props.onClose} id="import-dialog">
      <div
        class={`drop-zone ${over ? 'over' : ''}`}
        onDragOver={(e) => (e.preventDefault(), setOver(true))}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setOver(false);
          const f = e.dataTransfer?.files[0];
          if (f) void run(f);
        }}
      >
        <p>Drop an .ics file here, or choose one. Events already imported from it are updated, not doubled.</p>
        <label class="file-pick">
          Choose an .ics file
          <input type="file" name="ics-file" accept=".ics,text/calendar" disabled={busy} onChange={(e) => e.currentTarget.files?.[0] && void run(e.currentTarget.files[0])} />
        </label>
      </div>
      {busy && <p role="status">Importing “{name}”…</p>}
      {error && (
        <p class="error" role="alert">
          Could not import{name ? ` “${name}”` : ''}: {error}
        </p>
      )}
      {summary && (
        <section class="import-summary" aria-label="Import summary" aria-live="polite">
          <p>
            <strong>“{name}”</strong>: {summary.imported} imported · {summary.updated} updated · {summary.unchanged} unchanged
            {summary.skipped ? ` · ${summary.skipped} skipped` : ''} · {summary.errors.length} {summary.errors.length === 1 ? 'error' : 'errors'}
          </p>
          {summary.errors.length > 0 && (
            <ul class="import-errors" aria-label="Import errors">
              {summary.errors.slice(0, 50).map((e, i) => (
                <li key={i}>
                  {e.uid ? <code>{e.uid.slice(0, 80)}</code> : 'An entry'}: {e.message}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </Modal>
  );
}
