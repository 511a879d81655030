/** A read-only value with a Copy button (for links and passwords shown once). */
import { useState } from 'preact/hooks';

export function CopyField(props: { id: string; label: string; value: string }) {
  const [copied, setCopied] = useState<'yes' | 'select' | null>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('yes');
    } catch {
      // Clipboard refused (no permission, or not a secure page): select it for Ctrl+C.
      (document.getElementById(props.id) as HTMLInputElement | null)?.select();
      setCopied('select');
    }
  }
  return (
    <div class="copy-field">
      <label class="wide">
        {props.label}
        <input id={props.id} name={props.id} readOnly value={props.value} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <button type="button" onClick={() => void copy()} aria-label={`Copy ${props.label}`}>
        {copied === 'yes' ? 'Copied' : 'Copy'}
      </button>
      {copied === 'select' && <span class="hint">Selected: copy it with Ctrl+C (⌘C).</span>}
    </div>
  );
}
