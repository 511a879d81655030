import WebSocket from 'ws';
import { createKithClient, type KithClient, type NodeKithClientOptions } from '../../src/node.js';

export const PASSWORD = 'correct horse battery';

/** `ws`, counting the sockets it opens (connection attempts), per instance of this class. */
export function countingWebSocket(): { WebSocket: typeof WebSocket; attempts: () => number } {
  let attempts = 0;
  class Counting extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      attempts++;
    }
  }
  return { WebSocket: Counting as typeof WebSocket, attempts: () => attempts };
}

export function makeClient(baseUrl: string, options: Partial<NodeKithClientOptions> = {}): KithClient {
  return createKithClient({
    baseUrl,
    WebSocket,
    persistence: 'memory',
    maxBackoffMs: 300,
    ...options,
  });
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${process.pid.toString(36)}`.slice(0, 32);
}

/** Registers a fresh user on `client` and signs it in. */
export async function signUp(client: KithClient, prefix = 'user'): Promise<{ userId: string; username: string }> {
  const username = uniqueName(prefix);
  await client.register(username, PASSWORD);
  return client.login(username, PASSWORD);
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
