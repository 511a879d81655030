import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERRORS, KithError, errorBody, type ErrorCode } from './catalogue.js';
import { isStorageWriteFailure } from '../storage/write-errors.js';

/** Maps Fastify's own error codes onto the catalogue. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  // The web app's files answer If-Match / If-Unmodified-Since that do not hold with a 412 error.
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * One sentence that names the offending field, from Ajv's or TypeBox's (same-shaped) errors:
 * `body/username must NOT have fewer than 3 characters`, `body/admin is not allowed`,
 * `body/role must be one of "owner", "editor", "viewer"`.
 */
export function describeValidation(where: string, issues: readonly ValidationIssue[]): string | undefined {
  const first = issues[0];
  if (!first) return undefined;
  const at = (instancePath: string) => `${where}${instancePath}`;
  // A property the schema does not allow: Ajv names it in params, TypeBox reports it at its path.
  if (first.keyword === 'additionalProperties') {
    const extra = first.params.additionalProperty ?? first.params.additionalProperties;
    const names = (Array.isArray(extra) ? extra : [extra]).filter((n) => n !== undefined).map(String);
    if (names.length > 0) return names.map((n) => `${at(first.instancePath)}/${n}`).join(', ') + ' is not allowed';
  }
  if (first.keyword === 'boolean' && first.schemaPath?.endsWith('/additionalProperties')) {
    return `${at(first.instancePath)} is not allowed`;
  }
  // A union of constants (an enum): list what is allowed instead of "must be equal to constant".
  if (first.keyword === 'const' || first.keyword === 'enum' || first.keyword === 'anyOf') {
    const allowed = issues
      .filter((i) => i.instancePath === first.instancePath)
      .flatMap((i) => (i.keyword === 'const' ? [i.params.allowedValue] : i.keyword === 'enum' ? (i.params.allowedValues as unknown[]) ?? [] : []));
    if (allowed.length > 0) return `${at(first.instancePath)} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${at(first.instancePath)} ${first.message ?? 'is invalid'}`;
}

/** Every error answers `{"error": {"code", "message"}}` with a status from the catalogue. */
export function installErrorHandlers(
  app: FastifyInstance,
  /** Answers requests for client-side routes of a served web app; true when it did. */
  webAppFallback?: (request: FastifyRequest, reply: FastifyReply) => boolean,
): void {
  app.setErrorHandler((err: FastifyError | KithError, request, reply) => {
    if (err instanceof KithError) {
      return reply.code(err.status).headers(err.headers).send(err.toJSON());
    }
    if (err.validation) {
      const message = describeValidation(err.validationContext ?? 'request', err.validation) ?? err.message;
      return reply.code(400).send(errorBody('VALIDATION_FAILED', message));
    }
    const mapped = (err.code && FASTIFY_CODES[err.code]) ?? (err.statusCode ? BY_STATUS[err.statusCode] : undefined);
    if (mapped && err.statusCode && err.statusCode < 500) {
      return reply.code(ERRORS[mapped].status).send(errorBody(mapped, err.message));
    }
    if (isStorageWriteFailure(err)) {
      request.log.error({ err }, 'storage refused a write');
      return reply.code(503).send(errorBody('STORAGE_UNAVAILABLE'));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('INTERNAL'));
  });
  app.setNotFoundHandler((request, reply) => {
    if (webAppFallback?.(request, reply)) return;
    reply.code(404).send(errorBody('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}.`));
  });
}

/** Node's answers to a request its parser refuses, each with a catalogue code (as Node and Fastify answer them: 431, 413, 408); any other is a 400. */
const CLIENT_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'PAYLOAD_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (a bad Content-Length,
 * two of them, a bad character in a header, headers too large) or that timed out is answered on
 * the raw socket with the catalogue's body and `Connection: close`, then the socket is destroyed
 * (the parser cannot read on after an error).
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, logger: Pick<Logger, 'debug'>): void {
  // A reset connection is gone already: nobody to answer (as Node's and Fastify's defaults).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code = CLIENT_ERRORS[err.code ?? ''] ?? 'VALIDATION_FAILED';
  // The code only: the error's rawPacket holds the request's bytes (an Authorization header, a
  // token in a URL). Debug, as a scanner's junk is routine.
  logger.debug({ code: err.code }, 'malformed HTTP request refused');
  // An answer already started on this connection (keep-alive) must not get a second status line
  // in its middle: then only close, as Node does.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    // Node's error codes name the fault and carry no request data (HPE_INVALID_CONTENT_LENGTH).
    const detail = code === 'VALIDATION_FAILED' && /^HPE_[A-Z_]+$/.test(err.code ?? '') ? ` (${err.code})` : '';
    const message = code === 'VALIDATION_FAILED' ? `The request is not well-formed HTTP/1.1${detail}.` : undefined;
    const body = JSON.stringify(errorBody(code, message));
    const status = ERRORS[code].status;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}
