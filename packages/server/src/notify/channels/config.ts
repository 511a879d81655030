import { ConfigError, type ModuleOptions } from '../../config/module-options.js';

/** The channels' settings: SMTP for email, VAPID for Web Push, which push services to call. */
export interface ChannelConfig {
  /** `smtp://user:pass@host:587` or `smtps://…`; unset, no email is sent (email REST answers 503). */
  smtpUrl: string | undefined;
  /** The From of every email, e.g. `Kith <kith@example.org>`. */
  mailFrom: string;
  /** Both or neither; unset, a key pair is generated once and kept (data dir, or shared storage). */
  vapidPublicKey: string | undefined;
  vapidPrivateKey: string | undefined;
  /** `mailto:` or `https:` contact the push services may use; default from MAIL_FROM. */
  vapidSubject: string | undefined;
  /** Extra push service hosts (exact names, or `*.suffix`) on top of the browsers' own. */
  pushAllowedHosts: string[];
  /** Base of the links in emails (unsubscribe, password reset); default the server's --public-url. */
  linkBase: string | undefined;
  /**
   * Tests only: accept `http://127.0.0.1:<port>` push endpoints (a mock push service). Never set
   * from the command line, so a deployment cannot be talked into calling its own loopback.
   */
  allowLoopbackPush?: boolean;
  /** Tests: the outbox's first retry delay and poll interval (defaults 30 s and 5 s). */
  retryBaseMs?: number;
  outboxPollMs?: number;
}

export const DEFAULT_CHANNEL_CONFIG: ChannelConfig = {
  smtpUrl: undefined,
  mailFrom: 'Kith <kith@localhost>',
  vapidPublicKey: undefined,
  vapidPrivateKey: undefined,
  vapidSubject: undefined,
  pushAllowedHosts: [],
  linkBase: undefined,
};

/** The command-line/environment options, in the shape the server's parser takes. */
export const channelOptions: ModuleOptions<ChannelConfig> = {
  options: {
    'smtp-url': { env: 'SMTP_URL', help: 'SMTP server for email notifications (smtp:// or smtps://); unset, no email' },
    'mail-from': { env: 'MAIL_FROM', help: `From address of emails (default "${DEFAULT_CHANNEL_CONFIG.mailFrom}")` },
    'vapid-public-key': { env: 'VAPID_PUBLIC_KEY', help: 'Web Push VAPID public key (base64url); unset, generated once' },
    'vapid-private-key': { env: 'VAPID_PRIVATE_KEY', help: 'Web Push VAPID private key (base64url), with the public one' },
    'vapid-subject': { env: 'VAPID_SUBJECT', help: 'mailto: or https: contact for push services (default from MAIL_FROM)' },
    'push-allowed-hosts': { env: 'PUSH_ALLOWED_HOSTS', help: 'extra push service hosts, comma-separated (*.example.org allowed)' },
  },
  parse(read, core) {
    const smtpUrl = read.raw('smtp-url');
    if (smtpUrl !== undefined && !/^smtps?:\/\/[^\s]+$/.test(smtpUrl)) {
      throw new ConfigError(`${read.source('smtp-url')} must start with smtp:// or smtps://`);
    }
    const mailFrom = read.raw('mail-from') ?? DEFAULT_CHANNEL_CONFIG.mailFrom;
    if (/[\r\n]/.test(mailFrom) || !/@/.test(mailFrom)) throw new ConfigError(`${read.source('mail-from')} must be one email address`);
    const vapidPublicKey = read.raw('vapid-public-key');
    const vapidPrivateKey = read.raw('vapid-private-key');
    if ((vapidPublicKey === undefined) !== (vapidPrivateKey === undefined)) {
      throw new ConfigError('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are given together or not at all');
    }
    const vapidSubject = read.raw('vapid-subject');
    if (vapidSubject !== undefined && !/^(mailto:|https:\/\/)\S+$/.test(vapidSubject)) {
      throw new ConfigError(`${read.source('vapid-subject')} must be a mailto: or https:// URL`);
    }
    const pushAllowedHosts = (read.raw('push-allowed-hosts') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    for (const host of pushAllowedHosts) {
      if (!/^(\*\.)?[a-z0-9.-]+$/.test(host)) throw new ConfigError(`${read.source('push-allowed-hosts')}: "${host}" is not a host name`);
    }
    return { smtpUrl, mailFrom, vapidPublicKey, vapidPrivateKey, vapidSubject, pushAllowedHosts, linkBase: core.publicUrl };
  },
};
