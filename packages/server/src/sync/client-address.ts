import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * The client's address for an upgrade request, resolved like Fastify's `req.ip` under the same
 * `trustProxy` setting (upgrades never pass through Fastify): the socket's peer, or, when that
 * peer is a trusted proxy, the X-Forwarded-For entry left of the last trusted hop.
 */
export type AddressResolver = (req: IncomingMessage) => string;

const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export function addressResolver(trustProxy: boolean | string): AddressResolver {
  if (trustProxy === false) return peerAddress;
  const trusted = trustProxy === true ? () => true : trustList(trustProxy);
  return (req) => {
    let address = peerAddress(req);
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    // Walk from the nearest hop outwards while the hop we stand at is trusted.
    for (let i = forwarded.length - 1; i >= 0 && trusted(address); i--) address = normalise(forwarded[i]!);
    return address;
  };
}

function peerAddress(req: IncomingMessage): string {
  return normalise(req.socket.remoteAddress ?? '');
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address, as proxy-addr treats it. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function trustList(spec: string): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    for (const item of NAMED_RANGES[entry] ?? [entry]) {
      const [address = '', prefix] = item.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (isIP(address) === 0) throw new Error(`--trust-proxy: "${item}" is not an address, CIDR or named range`);
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
