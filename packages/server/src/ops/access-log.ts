import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * Fastify's per-request lines, reshaped: one line per answered request (method, URL with its
 * secrets redacted by the logger's `req` serializer, status, time taken) instead of two, at info
 * when the operator asks (`--access-log`) and at debug otherwise: a family's few minutes of use
 * are hundreds of requests, and at info they would bury the lines that matter (startup, errors,
 * storage). Errors while answering stay at error level.
 */
export class AccessLog extends LogController {
  constructor(private readonly atInfo: boolean) {
    super();
  }

  override incomingRequest(): void {
    // The completed line says everything this one would.
  }

  override routeNotFound(): void {
    // The completed line shows the 404.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (this.atInfo) reply.log.info(line, 'request completed');
    else reply.log.debug(line, 'request completed');
  }
}
