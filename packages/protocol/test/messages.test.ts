/**
 * Every message both ways: what one side encodes, the other decodes to the same thing, and the bytes
 * are the ones on the wire today (y-websocket framing; lib0 varUint / varUint8Array / varString).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  ProtocolError,
  ROLES,
  decodeClientMessage,
  decodeServerMessage,
  encodeAwareness,
  encodeDurable,
  encodeQueryAwareness,
  encodeRole,
  encodeStoredBarrier,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeToken,
  encodeUpdate,
  isRole,
  readDurable,
  readRole,
  splitSyncStep2,
  splitUpdate,
} from '../src/index.js';

const bytes = (...b: number[]) => new Uint8Array(b);
/** ASCII only, which is all these tests send. */
const utf8 = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** A frame written by hand with lib0, for messages no encoder here may produce. */
function rawFrame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

describe('client → server messages', () => {
  it('the durable request (100) decodes on the server as a durable subscription for those clients', () => {
    const sv = new Map([
      [123456789, 0],
      [42, 17],
    ]);
    const stateVector = Y.encodeStateVector(sv);
    const frame = encodeDurable(stateVector);
    const decoded = decodeClientMessage(frame);
    expect(decoded.kind).toBe('durable-subscribe');
    expect(Y.decodeStateVector((decoded as { stateVector: Uint8Array }).stateVector)).toEqual(sv);
    expect(frame).toEqual(bytes(MESSAGE_KITH_DURABLE, stateVector.length, ...stateVector));
  });

  it('the token message (101) decodes on the server as a token refresh', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln';
    expect(decodeClientMessage(encodeToken(token))).toEqual({ kind: 'token', token });
    expect(encodeToken('abc')).toEqual(bytes(101, 3, ...utf8('abc')));
  });

  it('the stored barrier (102) decodes with its id, however large the varUint', () => {
    expect(decodeClientMessage(encodeStoredBarrier(9))).toEqual({ kind: 'stored-barrier', id: 9 });
    expect(decodeClientMessage(encodeStoredBarrier(2 ** 40))).toEqual({ kind: 'stored-barrier', id: 2 ** 40 });
    expect(encodeStoredBarrier(300)).toEqual(bytes(102, 0xac, 0x02));
  });

  it('the delete probe is a plain sync step 1', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('a', 1);
    expect(decodeClientMessage(encodeSyncStep1(Y.encodeStateVector(doc)))).toEqual({
      kind: 'sync-step1',
      stateVector: Y.encodeStateVector(doc),
    });
  });

  it('the y-websocket messages decode to their kinds', () => {
    const u = bytes(1, 2, 3);
    expect(decodeClientMessage(encodeSyncStep2(u))).toEqual({ kind: 'sync-step2', update: u });
    expect(decodeClientMessage(encodeUpdate(u))).toEqual({ kind: 'update', update: u });
    expect(decodeClientMessage(encodeAwareness(u))).toEqual({ kind: 'awareness', update: u });
    expect(decodeClientMessage(encodeQueryAwareness())).toEqual({ kind: 'query-awareness' });
    expect(encodeSyncStep1(u)).toEqual(bytes(0, 0, 3, 1, 2, 3));
    expect(encodeSyncStep2(u)).toEqual(bytes(0, 1, 3, 1, 2, 3));
    expect(encodeUpdate(u)).toEqual(bytes(0, 2, 3, 1, 2, 3));
    expect(encodeAwareness(u)).toEqual(bytes(1, 3, 1, 2, 3));
    expect(encodeQueryAwareness()).toEqual(bytes(3));
  });

  it('a split sync message is the joined one in two parts, at every varUint length width', () => {
    for (const length of [0, 1, 127, 128, 16_383, 16_384, 200_000]) {
      const u = new Uint8Array(length).map((_, i) => i & 0xff);
      for (const [split, joined] of [
        [splitSyncStep2, encodeSyncStep2],
        [splitUpdate, encodeUpdate],
      ] as const) {
        const { head, payload } = split(u);
        expect(payload).toBe(u); // not copied
        expect(new Uint8Array([...head, ...payload])).toEqual(joined(u));
      }
    }
  });

  it('a role (103) is not a message a client may send', () => {
    expect(() => decodeClientMessage(encodeRole('owner'))).toThrow(ProtocolError);
  });
});

describe('server → client messages', () => {
  it('reads the server\'s durable acknowledgement', () => {
    const stored = new Map([
      [7, 3],
      [99, 0],
    ]);
    const frame = encodeDurable(Y.encodeStateVector(stored));
    const d = decoding.createDecoder(frame);
    expect(decoding.readVarUint(d)).toBe(MESSAGE_KITH_DURABLE);
    expect(Y.decodeStateVector(readDurable(d))).toEqual(stored);
    expect(decodeServerMessage(frame)).toEqual({ kind: 'durable', stateVector: Y.encodeStateVector(stored) });
  });

  it('reads the server\'s role announcement (103), and ignores roles it does not know', () => {
    for (const role of ['owner', 'editor', 'viewer'] as const) {
      const d = decoding.createDecoder(encodeRole(role));
      expect(decoding.readVarUint(d)).toBe(MESSAGE_KITH_ROLE);
      expect(readRole(d)).toBe(role);
      expect(decodeServerMessage(encodeRole(role))).toEqual({ kind: 'role', role });
    }
    const superuser = rawFrame((e) => {
      encoding.writeVarUint(e, MESSAGE_KITH_ROLE);
      encoding.writeVarString(e, 'superuser');
    });
    const d = decoding.createDecoder(superuser);
    decoding.readVarUint(d);
    expect(readRole(d)).toBeUndefined();
    expect(decodeServerMessage(superuser)).toEqual({ kind: 'role', role: undefined });
    expect(encodeRole('viewer')).toEqual(bytes(103, 6, ...utf8('viewer')));
  });

  it('the answer to a stored barrier and the sync and awareness messages decode to their kinds', () => {
    const u = bytes(4, 5);
    expect(decodeServerMessage(encodeStoredBarrier(7))).toEqual({ kind: 'stored-barrier', id: 7 });
    expect(decodeServerMessage(encodeSyncStep1(u))).toEqual({ kind: 'sync-step1', stateVector: u });
    expect(decodeServerMessage(encodeSyncStep2(u))).toEqual({ kind: 'sync-step2', update: u });
    expect(decodeServerMessage(encodeUpdate(u))).toEqual({ kind: 'update', update: u });
    expect(decodeServerMessage(encodeAwareness(u))).toEqual({ kind: 'awareness', update: u });
  });

  it('a token (101) or query (3) is not a message the server sends', () => {
    expect(() => decodeServerMessage(encodeToken('t'))).toThrow(ProtocolError);
    expect(() => decodeServerMessage(encodeQueryAwareness())).toThrow(ProtocolError);
  });
});

describe('malformed frames', () => {
  const decoders = { client: decodeClientMessage, server: decodeServerMessage };
  for (const [side, decode] of Object.entries(decoders)) {
    it(`${side} side: anything but exactly one known message is a ProtocolError`, () => {
      expect(() => decode(bytes())).toThrow(/truncated or malformed/);
      expect(() => decode(bytes(0, 7, 0))).toThrow(/unknown sync message subtype 7/);
      expect(() => decode(bytes(0, 2, 5, 1))).toThrow(/truncated or malformed/);
      expect(() => decode(bytes(50))).toThrow(/unknown message type 50/);
      expect(() => decode(bytes(0xff, 0xff, 0xff, 0x7f))).toThrow(/varint out of range/);
      expect(() => decode(bytes(...encodeUpdate(bytes(1)), 0))).toThrow(/trailing bytes/);
    });
  }
});

describe('roles', () => {
  it('has one guard for the three roles', () => {
    expect(ROLES).toEqual(['owner', 'editor', 'viewer']);
    for (const role of ROLES) expect(isRole(role)).toBe(true);
    for (const other of ['superuser', 'Owner', '', undefined, null, 1]) expect(isRole(other)).toBe(false);
  });
});
