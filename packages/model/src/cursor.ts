/**
 * Opaque paging cursors: the sort key (start instant, event id, occurrence key) of the last
 * occurrence of a page, as base64url text. Callers pass it back unchanged; its form may change.
 */
import { ModelError } from './errors.js';

/** Where a page ended: occurrences sort by start, then event id, then occurrence key. */
export interface PageKey {
  startMs: number;
  eventId: string;
  occKey: string;
}

const VERSION = 1;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// Base64url by hand: the model runs without Node's Buffer and without DOM's btoa.
function toBase64Url(ascii: string): string {
  let out = '';
  for (let i = 0; i < ascii.length; i += 3) {
    const n = (ascii.charCodeAt(i) << 16) | ((ascii.charCodeAt(i + 1) || 0) << 8) | (ascii.charCodeAt(i + 2) || 0);
    const chars = Math.min(4, ascii.length - i + 1);
    for (let j = 0; j < chars; j++) out += ALPHABET[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

function fromBase64Url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  let out = '';
  for (let i = 0; i < text.length; i += 4) {
    const group = text.slice(i, i + 4);
    let n = 0;
    for (let j = 0; j < 4; j++) n = (n << 6) | (j < group.length ? ALPHABET.indexOf(group[j] as string) : 0);
    out += String.fromCharCode((n >> 16) & 255);
    if (group.length > 2) out += String.fromCharCode((n >> 8) & 255);
    if (group.length > 3) out += String.fromCharCode(n & 255);
  }
  return out;
}

export function encodeCursor(key: PageKey): string {
  // JSON escapes lone surrogates, so encodeURIComponent never throws and the result is ASCII.
  return toBase64Url(encodeURIComponent(JSON.stringify([VERSION, key.startMs, key.eventId, key.occKey])));
}

export function decodeCursor(cursor: unknown): PageKey {
  const bad = () => new ModelError('INVALID_INPUT', 'cursor is not one this calendar handed out; pass `next` back unchanged', 'cursor');
  if (typeof cursor !== 'string' || cursor.length > 2048) throw bad();
  let value: unknown;
  try {
    value = JSON.parse(decodeURIComponent(fromBase64Url(cursor) ?? '%'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(value) || value.length !== 4) throw bad();
  const [version, startMs, eventId, occKey] = value as unknown[];
  if (version !== VERSION || typeof startMs !== 'number' || !Number.isSafeInteger(startMs)) throw bad();
  if (typeof eventId !== 'string' || typeof occKey !== 'string') throw bad();
  return { startMs, eventId, occKey };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareKeys(a: PageKey, b: PageKey): number {
  return a.startMs - b.startMs || cmp(a.eventId, b.eventId) || cmp(a.occKey, b.occKey);
}
