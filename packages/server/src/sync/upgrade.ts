import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, KithError, errorBody, type ErrorCode } from '../errors/catalogue.js';

/** Serves WebSocket upgrades at one path next to `/sync` (e.g. the calendar's `/live`). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** What an upgrade request asks for: `GET /sync/:roomId?token=…` (or `Authorization: Bearer …`). */
export interface SyncRequest {
  roomId: string;
  token: string | undefined;
}

const SYNC_PATH = /^\/sync\/([A-Za-z0-9_-]{1,64})\/?$/;

export function parseSyncRequest(req: IncomingMessage): SyncRequest {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = SYNC_PATH.exec(url.pathname);
  if (!m) throw new KithError('NOT_FOUND', 'Sync sockets live at /sync/:roomId.');
  const header = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  return { roomId: m[1]!, token: url.searchParams.get('token') ?? header };
}

/** Refuses an upgrade with a plain HTTP answer carrying the catalogue's JSON error body. */
export function refuseUpgrade(socket: Duplex, error: unknown): ErrorCode {
  const code: ErrorCode = error instanceof KithError ? error.code : 'INTERNAL';
  const status = ERRORS[code].status;
  const body = JSON.stringify(
    error instanceof KithError ? error.toJSON() : errorBody('INTERNAL'),
  );
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
  return code;
}
