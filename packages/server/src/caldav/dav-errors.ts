/**
 * CalDAV errors as RFC 4918 §16 bodies: `<D:error>` naming the precondition that failed, plus
 * Kith's error code and a message for people (in Kith's own namespace, which clients ignore).
 */
import { ERRORS, type ErrorCode } from '@kith/protocol';
import { document, el, escapeXml, NS } from './xml.js';

export const KITH_NS = 'https://kith.invalid/ns/error';

export interface Precondition {
  ns: string;
  name: string;
  /** Extra content of the precondition element (e.g. the privileges a need-privileges lacks). */
  inner?: string;
}

export class DavError extends Error {
  /** The catalogue's status for the code, so DAV and JSON answers of one code agree. */
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly precondition?: Precondition,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERRORS[code].status;
  }

  body(): string {
    const pre = this.precondition ? el(this.precondition.ns, this.precondition.name, this.precondition.inner ?? '') : '';
    return document(NS.DAV, 'error', pre + el(KITH_NS, 'code', this.code) + el(KITH_NS, 'message', escapeXml(this.message)));
  }
}

export const notFound = (): DavError => new DavError('NOT_FOUND', 'Nothing is here (or it is not yours to see).');

export const badRequest = (message: string, precondition?: Precondition): DavError =>
  new DavError('VALIDATION_FAILED', message, precondition);

export const caldavPre = (name: string): Precondition => ({ ns: NS.CALDAV, name });
export const davPre = (name: string): Precondition => ({ ns: NS.DAV, name });

/** A viewer's write: 403 with the privilege it lacks (RFC 3744 §7.1.1). */
export function needPrivileges(href: string, privilege = 'write-content'): DavError {
  return new DavError('READ_ONLY', 'Viewers cannot change the calendar.', {
    ns: NS.DAV,
    name: 'need-privileges',
    inner: el(NS.DAV, 'resource', el(NS.DAV, 'href', escapeXml(href)) + el(NS.DAV, 'privilege', el(NS.DAV, privilege))),
  });
}
