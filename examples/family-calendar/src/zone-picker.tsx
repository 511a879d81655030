/**
 * A searchable time-zone combobox (ARIA 1.2 pattern): type part of a name or an offset, move with
 * the arrow keys, Enter or a click chooses. Current IANA names, UTC included, with their offset now.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import { canonicalZone, searchZones, zoneOptions } from './zones.js';

/** Longest list shown (there are ~420 zones): bounded, so typing never renders an unbounded list. */
const MAX_SHOWN = 500;

export function ZonePicker(props: {
  id: string;
  label: string;
  value: string;
  onChange: (zone: string) => void;
  /** An extra first option (e.g. "Floating") with value ''. */
  emptyLabel?: string;
  disabled?: boolean;
}) {
  const all = useMemo(() => zoneOptions(props.value ? [props.value] : []), []);
  const current = all.find((o) => o.zone === canonicalZone(props.value));
  const shownValue = props.value === '' ? (props.emptyLabel ?? '') : (current?.label ?? props.value);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const open = query !== null;
  const matches = open ? searchZones(all, query).slice(0, MAX_SHOWN) : [];
  const items: Array<{ zone: string; label: string }> = [
    ...(props.emptyLabel !== undefined && open && query === '' ? [{ zone: '', label: props.emptyLabel }] : []),
    ...matches,
  ];
  const listId = `${props.id}-list`;

  function choose(zone: string) {
    setQuery(null);
    props.onChange(zone);
  }

  function onKey(e: KeyboardEvent) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!open) {
        setQuery('');
        setActive(0);
        return;
      }
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setActive((a) => Math.max(0, Math.min(items.length - 1, a + step)));
    } else if (e.key === 'Enter' && open) {
      e.preventDefault();
      const it = items[active];
      if (it) choose(it.zone);
    } else if (e.key === 'Escape' && open) {
      // Closes the list, not the dialog around it.
      e.preventDefault();
      e.stopPropagation();
      setQuery(null);
    }
  }

  return (
    <div class="zone-picker">
      <label for={props.id}>{props.label}</label>
      <input
        ref={input}
        id={props.id}
        name={props.id}
        type="text"
        role="combobox"
        autocomplete="off"
        spellcheck={false}
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && items[active] ? `${listId}-${active}` : undefined}
        disabled={props.disabled}
        placeholder="Type a city or an offset"
        value={open ? query : shownValue}
        onFocus={() => {
          setQuery('');
          setActive(0);
        }}
        onInput={(e) => {
          setQuery(e.currentTarget.value);
          setActive(0);
        }}
        onKeyDown={onKey}
        // A click on an option lands before the blur closes the list (mousedown prevents the blur).
        onBlur={() => setQuery(null)}
      />
      {open && (
        <ul id={listId} role="listbox" aria-label={props.label} class="zone-list">
          {items.length === 0 && <li class="hint">No time zone matches “{query}”.</li>}
          {items.map((o, i) => (
            <li
              key={o.zone || 'empty'}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              data-zone={o.zone}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(o.zone)}
            >
              {o.label}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
