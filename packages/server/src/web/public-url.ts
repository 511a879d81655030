import type { FastifyRequest } from 'fastify';
import { KithError } from '../errors/catalogue.js';

/** Host names that can only mean this machine: a link built from them cannot leak a secret elsewhere. */
const LOOPBACK_HOST = /^(localhost|[\w.-]+\.localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/**
 * The base of the links the server hands out (invites, feeds). They carry secrets, so without
 * `--public-url` they are built from the Host header only when it names this machine: anyone
 * who can make a request carry another Host (a proxy passing it on, DNS rebinding) would
 * otherwise receive links, to send on to the family, that point at their own site.
 */
export function linkBase(publicUrl: string | undefined, request: FastifyRequest): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = request.host ?? '';
  if (!LOOPBACK_HOST.test(host)) {
    throw new KithError(
      'PUBLIC_URL_REQUIRED',
      'Links can only be made for localhost until the server is started with --public-url (KITH_PUBLIC_URL).',
    );
  }
  return `${request.protocol}://${host}`;
}
