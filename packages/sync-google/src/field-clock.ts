/**
 * When each field of a room event last changed, as the mirror saw it happen (it observes the room's
 * document), so that a conflict with Google is settled field by field by which side changed that field
 * last, not by which side touched the event last (a later edit of the description must not make an older
 * rename win). Kept in memory: after a restart a field's time is unknown until it changes again, and the
 * merge falls back to the event's last edit time.
 */
import { getEvent } from '@kith/model';
import type * as Y from 'yjs';
import { kithParts, MASTER_FIELDS, stableJson, type PartCanon } from './canon.js';

export class FieldClock {
  /** kithId → "part|field" → the value as last seen. */
  private readonly seen = new Map<string, Map<string, string>>();
  /** kithId → "part|field" → when a person's edit last changed it. */
  private readonly changed = new Map<string, Map<string, number>>();

  /**
   * Records the events' fields as they are now. With `at`, the fields whose value differs from the last
   * record changed at that time (a person's edit); without it (the mirror's own writes, the first look at a
   * room) the values are only remembered.
   */
  see(doc: Y.Doc, ids: Iterable<string>, calTz: string, at?: number): void {
    for (const id of ids) {
      const ev = getEvent(doc, id);
      let parts: Map<string, PartCanon>;
      try {
        parts = ev && ev.deleted === null ? kithParts(ev, calTz) : new Map();
      } catch {
        continue;
      }
      const values = signatures(parts);
      const before = this.seen.get(id);
      if (at !== undefined && before) {
        let times = this.changed.get(id);
        const keys = new Set([...values.keys(), ...before.keys()]);
        for (const key of keys) {
          if (before.get(key) === values.get(key)) continue;
          if (!times) this.changed.set(id, (times = new Map()));
          times.set(key, at);
        }
      }
      if (values.size === 0) {
        this.seen.delete(id);
        this.changed.delete(id);
      } else this.seen.set(id, values);
    }
  }

  /** When a person last changed this field of this part (`ov:<occKey>` for an occurrence); undefined: unknown. */
  time(kithId: string, part: string, field: string): number | undefined {
    return this.changed.get(kithId)?.get(`${part}|${field}`);
  }
}

function signatures(parts: Map<string, PartCanon>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [part, canon] of parts) {
    for (const field of MASTER_FIELDS) out.set(`${part}|${field}`, stableJson(canon[field]));
    for (const [key, values] of Object.entries(canon.ov)) out.set(`${part}|ov:${key}`, stableJson(values));
  }
  return out;
}
