/**
 * A faithful fake of the Google Calendar v3 API and Google's OAuth 2.0 endpoints, for tests and for a local
 * demo without a Google account. See `startFakeGoogle`.
 */
export { startFakeGoogle } from './server.js';
export type { FakeGoogle, OAuthEndpoints } from './handle.js';
export type { FakeGoogleOptions } from './options.js';
export type { FakeStats } from './stats.js';
export { FAULT_KINDS, type ActiveFault, type FaultKind, type FaultSpec, type FiredFault } from './faults.js';
export {
  CALENDAR_APP_CREATED_SCOPE,
  CALENDAR_SCOPE,
  type ConsentBehaviour,
  type OAuthClientConfig,
  type TokenResponse,
} from './oauth.js';
export type { DeliveryRecord } from './push.js';
export type { GoogleErrorBody, GoogleErrorItem } from './errors.js';
