/**
 * @kith/protocol — what travels between Kith's clients, kith-server and its modules: the sync socket's
 * messages (encode and decode, both directions), roles, the error catalogue, close codes and the
 * access token's claims. Pure: no I/O and no Node built-ins, so it runs in browsers too.
 */
export * from './messages.js';
export * from './encode.js';
export * from './decode.js';
export { ROLES, isRole, type Role } from './roles.js';
export { ERRORS, errorBody, type ErrorBody, type ErrorCode, type ErrorEntry } from './errors.js';
export { CLOSE_CODES, TERMINAL_CLOSES, type CloseCode } from './close-codes.js';
export type { TokenClaims, TokenSubject } from './claims.js';
