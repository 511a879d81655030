/**
 * StoredDocument.whenBuilt (what RoomApi.onAnyOpen rests on): a listener sees the document as
 * stored, before any change reaches it — at once for a built document, on first use for one loaded
 * lazily from a snapshot with its state vector — and a lazy document is not built just to ask.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { StoredDocument } from '../src/sync/stored-document.js';

function storedRoom(titles: string[]): { snapshot: Uint8Array; sv: Uint8Array } {
  const doc = new Y.Doc();
  const events = doc.getMap<string>('events');
  for (const [i, t] of titles.entries()) events.set(`e${i}`, t);
  return { snapshot: Y.encodeStateAsUpdate(doc), sv: Y.encodeStateVector(doc) };
}

const titlesOf = (doc: Y.Doc) => [...doc.getMap<string>('events').values()].sort();

describe('StoredDocument.whenBuilt', () => {
  it('a lazily loaded document: called on first use with the stored content, before the change that built it', () => {
    const { snapshot, sv } = storedRoom(['Dentist', 'Piano']);
    const stored = new StoredDocument();
    expect(stored.loadLazily(snapshot, sv, [])).toBe(true);
    const seen: string[][] = [];
    stored.whenBuilt((doc) => seen.push(titlesOf(doc)));
    expect(stored.built).toBe(false); // asking does not build it
    expect(seen).toEqual([]);
    stored.doc.getMap<string>('events').set('e9', 'Swim'); // the first use is an edit
    expect(seen).toEqual([['Dentist', 'Piano']]);
    expect(titlesOf(stored.doc)).toEqual(['Dentist', 'Piano', 'Swim']);
    stored.doc.getMap<string>('events').set('e10', 'Yoga');
    expect(seen).toHaveLength(1); // once
  });

  it('a document loaded in full: called at once', () => {
    const { snapshot } = storedRoom(['Dentist']);
    const stored = new StoredDocument();
    stored.load([snapshot]);
    const seen: string[][] = [];
    stored.whenBuilt((doc) => seen.push(titlesOf(doc)));
    expect(seen).toEqual([['Dentist']]);
  });
});
