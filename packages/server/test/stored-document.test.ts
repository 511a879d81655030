/**
 * StoredDocument.applyClient: what of a client's update is new (to be stored and broadcast). An
 * update that continues the document exactly is returned as it came (no re-encode); anything else
 * (duplicates, overlaps, gaps, deletions only) is left to Yjs to say what changed.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { StoredDocument } from '../src/sync/stored-document.js';

/** A writer's document whose every change is captured as one update. */
function writer(clientID: number) {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const text = doc.getText('t');
  return { doc, text, updates };
}

const apply = (stored: StoredDocument, update: Uint8Array) => stored.applyClient(update, Y.decodeUpdate(update).structs, 'client');

/** The content the stored effective updates hold once replayed into a fresh document. */
function replay(updates: Uint8Array[]): string {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return doc.getText('t').toString();
}

describe('StoredDocument.applyClient', () => {
  it('returns an update that continues the document as it came, and duplicates as nothing', () => {
    const w = writer(1);
    w.text.insert(0, 'ab');
    w.text.insert(2, 'cd');
    const stored = new StoredDocument();
    const first = apply(stored, w.updates[0]!);
    expect(first).toHaveLength(1);
    expect(first[0]).toBe(w.updates[0]); // the same bytes: nothing re-encoded
    const second = apply(stored, w.updates[1]!);
    expect(second[0]).toBe(w.updates[1]);
    expect(stored.doc.getText('t').toString()).toBe('abcd');
    expect(stored.clock(1)).toBe(4);
    // Sent again (a reconnect's sync step 2): nothing new, nothing to store.
    expect(apply(stored, w.updates[0]!)).toEqual([]);
    expect(apply(stored, Y.encodeStateAsUpdate(w.doc))).toEqual([]);
  });

  it('stores only the new part of an update that overlaps what is there', () => {
    const w = writer(2);
    w.text.insert(0, 'ab');
    const stored = new StoredDocument();
    const kept = [...apply(stored, w.updates[0]!)];
    w.text.insert(2, 'cd');
    const overlap = Y.encodeStateAsUpdate(w.doc); // "ab" again plus "cd"
    const effective = apply(stored, overlap);
    expect(effective).toHaveLength(1);
    expect(effective[0]).not.toBe(overlap);
    kept.push(...effective);
    expect(replay(kept)).toBe('abcd');
    expect(Y.parseUpdateMeta(effective[0]!).from.get(2)).toBe(2);
  });

  it('holds back an update with a gap until the missing part arrives, then stores both', () => {
    const w = writer(3);
    w.text.insert(0, 'ab');
    w.text.insert(2, 'cd');
    const stored = new StoredDocument();
    expect(apply(stored, w.updates[1]!)).toEqual([]); // clock 2 before 0..1: pending in Yjs
    expect(stored.clock(3)).toBe(0);
    const effective = apply(stored, w.updates[0]!);
    expect(replay(effective)).toBe('abcd');
    expect(stored.clock(3)).toBe(4);
  });

  it('leaves deletions to Yjs: a new one is stored, a repeated one is not', () => {
    const w = writer(4);
    w.text.insert(0, 'abc');
    const stored = new StoredDocument();
    const kept = [...apply(stored, w.updates[0]!)];
    w.text.delete(1, 1);
    const deletion = w.updates[1]!;
    expect(Y.decodeUpdate(deletion).structs).toHaveLength(0);
    const effective = apply(stored, deletion);
    expect(effective).toHaveLength(1);
    kept.push(...effective);
    expect(replay(kept)).toBe('ac');
    expect(apply(stored, deletion)).toEqual([]);
  });

  it('updates from two clients in one message are taken as they came when both continue the document', () => {
    const a = writer(5);
    const b = writer(6);
    a.text.insert(0, 'x');
    b.text.insert(0, 'y');
    const stored = new StoredDocument();
    const both = Y.mergeUpdates([a.updates[0]!, b.updates[0]!]);
    expect(apply(stored, both)[0]).toBe(both);
    expect(stored.clock(5)).toBe(1);
    expect(stored.clock(6)).toBe(1);
    expect(apply(stored, both)).toEqual([]);
  });
});
