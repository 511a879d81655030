import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, KithError, errorBody, type ErrorCode } from './catalogue.js';

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
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** Every error answers `{"error": {"code", "message"}}` with a status from the catalogue. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | KithError, request, reply) => {
    if (err instanceof KithError) {
      return reply.code(err.status).headers(err.headers).send(err.toJSON());
    }
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      const first = err.validation[0];
      const field = first?.instancePath ? `${where}${first.instancePath}` : where;
      const message = first ? `${field} ${first.message ?? 'is invalid'}` : err.message;
      return reply.code(400).send(errorBody('VALIDATION_FAILED', message));
    }
    const mapped = (err.code && FASTIFY_CODES[err.code]) ?? (err.statusCode ? BY_STATUS[err.statusCode] : undefined);
    if (mapped && err.statusCode && err.statusCode < 500) {
      return reply.code(ERRORS[mapped].status).send(errorBody(mapped, err.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('INTERNAL'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}.`));
  });
}
