import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { KithError } from '../errors/catalogue.js';

const LOOPBACK_PEER = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Who may read /metrics (room counts, traffic, process details): with a token, whoever sends it
 * as a bearer token; without one, only a client on this machine that connected directly. The
 * socket's peer is used, not the client address a proxy reports, and a forwarded request is
 * refused: a gateway on the same host connects from loopback while passing on the internet.
 */
export function checkMetricsAccess(request: FastifyRequest, token: string | undefined): void {
  if (token !== undefined) {
    const auth = request.headers.authorization ?? '';
    const sent = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
    if (sent === undefined) throw new KithError('UNAUTHENTICATED', 'Send the metrics token as a bearer token.');
    if (!sameSecret(sent, token)) throw new KithError('UNAUTHENTICATED', 'Wrong metrics token.');
    return;
  }
  const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  if (forwarded || !LOOPBACK_PEER.test(request.socket.remoteAddress ?? '')) throw new KithError('METRICS_FORBIDDEN');
}
