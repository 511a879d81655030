/**
 * Which events and comments a room's transactions touched, read from each Yjs transaction (the
 * changed keys of the events and comments maps, and the event or comment that holds any nested
 * change), so that a change look reads only those instead of the whole room.
 *
 * Followed per loaded document: the first take of a document (a room just loaded, or loaded
 * again) answers "everything", and the caller reads the whole room once.
 */
import { COMMENTS_ROOT, ROOT } from '@kith/model';
import * as Y from 'yjs';

// Any Yjs shared type (they are generic over their event types; only identity and parents are used here).
type AnyType = Y.AbstractType<any>;

export interface Touched {
  /** Read the whole room: a document not followed before, or the room's own settings (its zone) changed. */
  all: boolean;
  events: Set<string>;
  comments: Set<string>;
}

const everything = (): Touched => ({ all: true, events: new Set(), comments: new Set() });
const nothing = (): Touched => ({ all: false, events: new Set(), comments: new Set() });

export class ChangeTracker {
  private readonly docs = new WeakMap<Y.Doc, Touched>();

  /** What changed in `doc` since the last take (and starts over). */
  take(doc: Y.Doc): Touched {
    const touched = this.docs.get(doc);
    if (!touched) {
      this.follow(doc);
      return everything();
    }
    this.docs.set(doc, nothing());
    return touched;
  }

  private follow(doc: Y.Doc): void {
    this.docs.set(doc, nothing());
    // Compared by identity with the transaction's changed types.
    const events: AnyType = doc.getMap(ROOT.events);
    const comments: AnyType = doc.getMap(COMMENTS_ROOT);
    const room: AnyType = doc.getMap(ROOT.room);
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      const touched = this.docs.get(doc);
      if (!touched || touched.all) return;
      for (const [type, keys] of tr.changed) {
        if (type === events) for (const k of keys) k !== null && touched.events.add(k);
        else if (type === comments) for (const k of keys) k !== null && touched.comments.add(k);
        else if (type === room) touched.all = true;
        else {
          const top = topOf(type);
          if (top?.root === events) touched.events.add(top.key);
          else if (top?.root === comments) touched.comments.add(top.key);
        }
      }
    });
  }
}

/** The root map a nested type hangs under and its key there (the event or comment id). */
function topOf(type: AnyType): { root: AnyType; key: string } | null {
  let t: AnyType = type;
  for (;;) {
    const item = t._item;
    if (!item) return null;
    const parent = item.parent;
    if (!(parent instanceof Y.AbstractType)) return null;
    if (!parent._item) return item.parentSub === null ? null : { root: parent, key: item.parentSub };
    t = parent;
  }
}
