import { ROOT } from '@kith/model';
import type * as Y from 'yjs';

/**
 * Every top-level type of a room document as JSON text: the calendar's maps (room, members,
 * events), any a module added (e.g. comments), and whatever else a client wrote there. For the
 * account export, which must leave nothing out.
 */
export function documentJson(doc: Y.Doc): string {
  const out: Record<string, unknown> = {};
  for (const name of new Set<string>([...Object.values(ROOT), ...doc.share.keys()])) {
    const type = doc.share.get(name);
    // A document built from stored bytes has not typed its top-level types yet (nothing asked for
    // them): a list's items hang off _start, a map's off _map. Read as a map, a list would read empty.
    const isList = type !== undefined && type._start !== null;
    try {
      out[name] = isList ? doc.getArray(name).toJSON() : doc.getMap(name).toJSON();
    } catch {
      // Typed already as something else (a Y.Text, say): its own JSON.
      out[name] = type?.toJSON() ?? null;
    }
  }
  return JSON.stringify(out);
}
