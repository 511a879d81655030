import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';

/** A stock y-websocket provider, unmodified, pointed at kith-server. */
export function connectProvider(
  wsUrl: string,
  roomId: string,
  token: string,
  options: { doc?: Y.Doc; connect?: boolean } = {},
): { doc: Y.Doc; provider: WebsocketProvider } {
  const doc = options.doc ?? new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, roomId, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket as any,
    connect: options.connect ?? true,
    disableBc: true,
    maxBackoffTime: 500,
  });
  return { doc, provider };
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `waitFor` for a check that queries something (a database, an endpoint): polled every 20 ms. */
export async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function waitForSynced(provider: WebsocketProvider, timeoutMs = 5000): Promise<void> {
  return waitFor(() => provider.synced, timeoutMs, 'provider sync');
}

/** Opens a raw socket and resolves with the close code/reason (or the HTTP status of a refused upgrade). */
export function rawSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

export function nextClose(ws: WebSocket, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('socket did not close in time')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(t);
      resolve({ code, reason: reason.toString() });
    });
  });
}
