/** Where a request meets an injected fault: picking it (and counting it), stalling, or cutting the socket. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FakeContext } from '../context.js';
import type { ActiveFault } from '../faults.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Close the connection without an answer, as a network failure would. */
export function drop(req: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  req.raw.socket?.destroy();
}

export function takeFault(ctx: FakeContext, route: string, calendarId: string | undefined): ActiveFault | null {
  const fault = ctx.faults.pick(route, calendarId);
  if (fault) ctx.stats.fault(route);
  return fault;
}
