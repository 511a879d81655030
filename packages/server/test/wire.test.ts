import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { binaryFrame, SharedFrame, splitBinaryFrame } from '../src/sync/wire.js';

// ws's frame parser; exported by ws but not declared in @types/ws.
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => EventEmitter & { write(chunk: Buffer): void };
};

/** Parses frames with ws's own receiver (what every Node client runs), returning the messages. */
function parse(bytes: Buffer): Array<{ data: Buffer; isBinary: boolean }> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const out: Array<{ data: Buffer; isBinary: boolean }> = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => out.push({ data, isBinary }));
  receiver.on('error', (err: Error) => {
    throw err;
  });
  receiver.write(bytes);
  return out;
}

describe('binaryFrame', () => {
  // Each length form of RFC 6455: 7-bit, 16-bit (126) and 64-bit (127), at their edges.
  for (const length of [0, 1, 125, 126, 127, 65_535, 65_536, 300_000]) {
    it(`frames ${length} bytes so that a standard receiver reads them back`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 31 + 7) & 0xff;
      const messages = parse(binaryFrame(payload));
      expect(messages).toHaveLength(1);
      expect(messages[0]!.isBinary).toBe(true);
      expect(Buffer.compare(messages[0]!.data, payload)).toBe(0);
    });
  }

  // The split frame's length counts head and payload together: check it where that sum crosses a form.
  for (const [head, length] of [[0, 0], [3, 122], [3, 123], [5, 65_530], [5, 65_531], [10, 300_000]] as const) {
    it(`a split frame of a ${head}-byte head and ${length} bytes is the frame of both joined`, () => {
      const h = Buffer.alloc(head, 0xa5);
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 13 + 1) & 0xff;
      const [first, rest] = splitBinaryFrame(h, payload);
      expect(rest).toBe(payload); // written as it is, not copied
      const joined = Buffer.concat([h, payload]);
      expect(Buffer.compare(Buffer.concat([first, rest]), binaryFrame(joined))).toBe(0);
      expect(parse(Buffer.concat([first, rest])).map((m) => Buffer.compare(m.data, joined))).toEqual([0]);
    });
  }

  it('frames back to back parse as separate messages, and a shared frame is framed once', () => {
    const frame = new SharedFrame(new Uint8Array([0, 2, 1, 9]));
    expect(frame.wire).toBe(frame.wire);
    const messages = parse(Buffer.concat([frame.wire, binaryFrame(new Uint8Array([1, 2, 3])), frame.wire]));
    expect(messages.map((m) => [...m.data])).toEqual([[0, 2, 1, 9], [1, 2, 3], [0, 2, 1, 9]]);
  });
});
