/**
 * The Google mirror's settings, read in one place for both binaries: `kith-server` (flags
 * `--google-*`, falling back to GOOGLE_* variables) and `kith-sync-google` (the same variables).
 */
import { ConfigError, type ModuleOptions, type OptionReader } from '@kith/server/config';

/** Google Calendar mirroring; off (routes answer GOOGLE_NOT_CONFIGURED) until the three credentials are set. */
export interface GoogleConfig {
  clientId: string | undefined;
  clientSecret: string | undefined;
  redirectUrl: string | undefined;
  /** Another Google-compatible API (e.g. the fake, for a demo). */
  apiRootUrl: string | undefined;
  oauthBaseUrl: string | undefined;
  /** Key that encrypts stored Google tokens; generated into the data dir when unset. */
  tokenKey: string | undefined;
  /** Public HTTPS base for Google's push notifications; polling only when unset. */
  webhookUrl: string | undefined;
  /** `in-process` (default) or `external` (a separate kith-sync-google process). */
  worker: 'in-process' | 'external';
}

export const GOOGLE_OPTIONS = {
  'google-client-id': { env: 'GOOGLE_CLIENT_ID', help: 'OAuth client id of your Google Cloud project (turns on Google Calendar mirroring)' },
  'google-client-secret': { env: 'GOOGLE_CLIENT_SECRET', help: 'its OAuth client secret' },
  'google-redirect-url': { env: 'GOOGLE_REDIRECT_URL', help: 'OAuth redirect, https://<host>/google/callback (default: <public-url>/google/callback)' },
  'google-api-root-url': { env: 'GOOGLE_API_ROOT_URL', help: 'another Google-compatible Calendar API (e.g. kith-fake-google for a demo)' },
  'google-oauth-base-url': { env: 'GOOGLE_OAUTH_BASE_URL', help: 'another Google-compatible OAuth server' },
  'google-token-key': { env: 'GOOGLE_TOKEN_KEY', help: 'key that encrypts stored Google tokens (default: generated into the data dir)' },
  'google-webhook-url': { env: 'GOOGLE_WEBHOOK_URL', help: 'public HTTPS base for Google push notifications (default: polling only)' },
  'google-sync-worker': { env: 'GOOGLE_SYNC_WORKER', help: 'in-process (default) or external (run kith-sync-google separately)' },
} as const;

/** Off: no credentials, worker in process. */
export function defaultGoogleConfig(overrides: Partial<GoogleConfig> = {}): GoogleConfig {
  return {
    clientId: undefined,
    clientSecret: undefined,
    redirectUrl: undefined,
    apiRootUrl: undefined,
    oauthBaseUrl: undefined,
    tokenKey: undefined,
    webhookUrl: undefined,
    worker: 'in-process',
    ...overrides,
  };
}

/** The OAuth client and endpoints (what the separate worker needs too); the redirect defaults to `<public-url>/google/callback`. */
export function readGoogleCredentials(read: OptionReader, publicUrl: string | undefined): Omit<GoogleConfig, 'worker'> {
  return {
    clientId: read.raw('google-client-id'),
    clientSecret: read.raw('google-client-secret'),
    redirectUrl: read.raw('google-redirect-url') ?? (publicUrl ? `${publicUrl.replace(/\/+$/, '')}/google/callback` : undefined),
    apiRootUrl: read.raw('google-api-root-url'),
    oauthBaseUrl: read.raw('google-oauth-base-url'),
    tokenKey: read.raw('google-token-key'),
    webhookUrl: read.raw('google-webhook-url'),
  };
}

/** kith-server's `--google-*` options, listed in its --help after --redis-url. */
export const googleOptions: ModuleOptions<GoogleConfig> = {
  options: GOOGLE_OPTIONS,
  helpAfter: 'redis-url',
  parse(read, core) {
    const worker = read.raw('google-sync-worker') ?? 'in-process';
    if (worker !== 'in-process' && worker !== 'external') {
      throw new ConfigError(`${read.source('google-sync-worker')} must be in-process or external, got "${worker}"`);
    }
    return { ...readGoogleCredentials(read, core.publicUrl), worker };
  },
};
