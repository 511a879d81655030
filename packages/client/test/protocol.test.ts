import { protocol } from '@kith/server';
import * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  encodeDurableRequest,
  encodeSyncStep1,
  encodeTokenMessage,
  readDurableAck,
  readRole,
} from '../src/protocol.js';

describe('Kith protocol extensions', () => {
  it('the durable request (100) decodes on the server as a durable subscription for those clients', () => {
    const sv = new Map([
      [123456789, 0],
      [42, 17],
    ]);
    const frame = encodeDurableRequest(sv);
    const decoded = protocol.decodeClientMessage(frame);
    expect(decoded.kind).toBe('durable-subscribe');
    expect(Y.decodeStateVector((decoded as { stateVector: Uint8Array }).stateVector)).toEqual(sv);
    expect(frame).toEqual(protocol.encodeDurable(Y.encodeStateVector(sv)));
  });

  it('the token message (101) decodes on the server as a token refresh', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln';
    expect(protocol.decodeClientMessage(encodeTokenMessage(token))).toEqual({ kind: 'token', token });
    expect(encodeTokenMessage(token)).toEqual(protocol.encodeToken(token));
  });

  it('reads the server\'s durable acknowledgement', () => {
    const stored = new Map([
      [7, 3],
      [99, 0],
    ]);
    const d = decoding.createDecoder(protocol.encodeDurable(Y.encodeStateVector(stored)));
    expect(decoding.readVarUint(d)).toBe(MESSAGE_KITH_DURABLE);
    expect(readDurableAck(d)).toEqual(stored);
  });

  it('the delete probe is a plain sync step 1', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('a', 1);
    expect(protocol.decodeClientMessage(encodeSyncStep1(doc))).toEqual({
      kind: 'sync-step1',
      stateVector: Y.encodeStateVector(doc),
    });
  });

  it('reads the server\'s role announcement (103), and ignores roles it does not know', () => {
    for (const role of ['owner', 'editor', 'viewer'] as const) {
      const d = decoding.createDecoder(protocol.encodeRole(role));
      expect(decoding.readVarUint(d)).toBe(MESSAGE_KITH_ROLE);
      expect(readRole(d)).toBe(role);
    }
    const d = decoding.createDecoder(protocol.encodeRole('superuser'));
    decoding.readVarUint(d);
    expect(readRole(d)).toBeUndefined();
  });
});
