import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from '@fastify/proxy-addr';

/**
 * The client's address for an upgrade request, resolved exactly as Fastify's `req.ip` under the
 * same `trustProxy` setting (upgrades never pass through Fastify, so we call the library Fastify
 * uses): the socket's peer, or, when that peer is a trusted proxy, the X-Forwarded-For entry left
 * of the last trusted hop.
 */
export type AddressResolver = (req: IncomingMessage) => string;

export function addressResolver(trustProxy: boolean | string): AddressResolver {
  if (trustProxy === false) return (req) => normalise(req.socket.remoteAddress ?? '');
  // As Fastify does: `true` trusts every hop; a string is a comma-separated list of addresses,
  // CIDRs and the named ranges loopback, linklocal and uniquelocal.
  const trust = trustProxy === true ? () => true : proxyaddr.compile(trustProxy.split(',').map((s) => s.trim()));
  return (req) => normalise(proxyaddr(req, trust));
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address, so one client has one quota key. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
