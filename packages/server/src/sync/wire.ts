import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * A message framed once as a WebSocket binary frame, so that a broadcast hands the very same bytes
 * to every socket of a room: one `write` each, no per-socket framing. Server frames are unmasked
 * (RFC 6455 §5.1) and we never compress (`perMessageDeflate: false`), so they are identical for
 * every receiver.
 */
export class SharedFrame {
  private framed: Buffer | undefined;

  constructor(readonly message: Uint8Array) {}

  get wire(): Buffer {
    return (this.framed ??= binaryFrame(this.message));
  }
}

/** `FIN | opcode 2` then the payload length (7 bits, or 126 + 16 bits, or 127 + 64 bits), then the payload. */
export function binaryFrame(payload: Uint8Array): Buffer {
  const out = frameWithHead(payload.byteLength, payload.byteLength);
  out.set(payload, out.byteLength - payload.byteLength);
  return out;
}

/**
 * A binary frame of `head` followed by `payload` as two buffers, the frame's header and `head`
 * joined in the first, `payload` untouched as the second: written one after the other (corked, so
 * in one writev) they are the frame `binaryFrame` builds, without copying a large payload.
 */
export function splitBinaryFrame(head: Uint8Array, payload: Uint8Array): [Buffer, Uint8Array] {
  const first = frameWithHead(head.byteLength + payload.byteLength, head.byteLength);
  first.set(head, first.byteLength - head.byteLength);
  return [first, payload];
}

/** The frame header for a payload of `length` bytes, in a buffer with `room` bytes left after it. */
function frameWithHead(length: number, room: number): Buffer {
  const headerLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + room);
  out[0] = 0x82;
  if (length < 126) {
    out[1] = length;
  } else if (length < 0x10000) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  return out;
}

/**
 * The TCP socket under a `ws` WebSocket, to write pre-framed bytes straight to it. `ws` writes its
 * own frames to that socket synchronously and in order (its sender queues only while compressing
 * or reading a Blob, and we do neither), so frames written here interleave correctly with its
 * pings and close frames. Undefined if `ws` ever stops keeping it there: callers then use `send`.
 */
export function rawSocketOf(ws: WebSocket): Socket | undefined {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket && typeof (socket as Socket).write === 'function' ? (socket as Socket) : undefined;
}
