import type { FastifyPluginAsync } from 'fastify';
import { loginLimits } from '../../auth/login-limits.js';
import type { ModuleContext, ModuleMigrations } from '../../modules/module.js';
import type { Channel } from '../delivery.js';
import { DEFAULT_CHANNEL_CONFIG, type ChannelConfig } from './config.js';
import { EmailAddresses } from './email-addresses.js';
import { EmailOutbox } from './email-outbox.js';
import { EmailChannel } from './email.js';
import { Mailer } from './mailer.js';
import { channelMetrics } from './metrics.js';
import { NOTIFY_CHANNEL_MIGRATIONS } from './migrations.js';
import { PushSubscriptions, BROWSER_PUSH_HOSTS } from './push-subscriptions.js';
import { PushChannel } from './push.js';
import { AccountRecovery } from './recovery.js';
import { memberChannelRoutes, passwordResetRoutes, publicChannelRoutes } from './routes.js';
import { channelKeys, UnsubscribeTokens } from './signing.js';
import { SWEEP_EVERY_MS, sweepDeletedUsers } from './deleted-users.js';
import { loadVapidKeys } from './vapid.js';

export { NOTIFY_CHANNEL_MIGRATIONS } from './migrations.js';
export { channelOptions, DEFAULT_CHANNEL_CONFIG, type ChannelConfig } from './config.js';

export interface CreatedChannels {
  /** Push always; email when SMTP_URL is set. */
  channels: Channel[];
  migrations: ModuleMigrations;
  /** Registers the channels' REST routes; the module registers it on `ctx.app`. */
  routes: FastifyPluginAsync;
  close(): Promise<void>;
}

/** From `Kith <kith@example.org>` the bare domain, for Message-IDs. */
const domainOf = (from: string): string => /@([^>\s]+)/.exec(from)?.[1] ?? 'localhost';

/**
 * The notification channels (Web Push and email), their members' REST (subscriptions, addresses),
 * unsubscribe links and account recovery. The notifications module calls this and hands
 * `channels` to its scheduler; `ctx.sql` must already hold NOTIFY_CHANNEL_MIGRATIONS.
 */
export async function createChannels(ctx: ModuleContext, options: Partial<ChannelConfig> = {}): Promise<CreatedChannels> {
  const config: ChannelConfig = { ...DEFAULT_CHANNEL_CONFIG, linkBase: ctx.config.publicUrl, ...options };
  const logger = ctx.componentLogger('notify-channels');
  const metrics = channelMetrics(ctx.metrics);
  const linkBase = (config.linkBase ?? `http://localhost:${ctx.config.port}`).replace(/\/+$/, '');

  const vapid = await loadVapidKeys({ publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey }, ctx.dataDir, ctx.storage);
  const subject = config.vapidSubject ?? `mailto:${/<([^>]+)>/.exec(config.mailFrom)?.[1] ?? config.mailFrom.trim()}`;
  const subscriptions = new PushSubscriptions(ctx.sql);
  const push = new PushChannel({ subscriptions, vapid, subject, metrics, logger });

  const keys = await channelKeys(ctx.storage);
  const addresses = new EmailAddresses(ctx.sql, keys.codes);
  const unsubscribe = new UnsubscribeTokens(keys.unsubscribe);
  const mailer = config.smtpUrl ? new Mailer(config.smtpUrl, config.mailFrom, logger) : undefined;
  const email = mailer
    ? new EmailChannel({
        addresses,
        storage: ctx.storage,
        outbox: new EmailOutbox(ctx.sql, config.retryBaseMs ?? 30_000),
        mailer,
        unsubscribe,
        linkBase,
        domain: domainOf(config.mailFrom),
        metrics,
        logger,
        pollMs: config.outboxPollMs ?? 5_000,
      })
    : undefined;
  email?.start();
  const recovery = mailer && email ? new AccountRecovery({ sql: ctx.sql, storage: ctx.storage, addresses, mailer, email, linkBase, logger }) : undefined;
  const stopSignIns = recovery
    ? ctx.auth.onSignIn((signIn) => void recovery.signedIn(signIn).catch((err) => logger.error({ err }, 'new-device notice failed')))
    : () => undefined;
  if (!mailer) logger.info('email notifications are off (no SMTP_URL)');
  const sweep = () =>
    void sweepDeletedUsers(ctx.sql).then(
      (n) => n > 0 && logger.info({ rows: n }, 'forgot channel data of deleted accounts'),
      (err) => logger.warn({ err }, 'sweeping deleted accounts failed'),
    );
  sweep();
  const sweeper = setInterval(sweep, SWEEP_EVERY_MS).unref();

  const routes: FastifyPluginAsync = async (app) => {
    await app.register(memberChannelRoutes, {
      auth: ctx.auth,
      subscriptions,
      endpointPolicy: { allowedHosts: [...BROWSER_PUSH_HOSTS, ...config.pushAllowedHosts], allowLoopback: config.allowLoopbackPush === true },
      addresses,
      mailer,
      perIpPerMinute: loginLimits(ctx.config.limits).perIp,
    });
    await app.register(publicChannelRoutes, {
      vapidPublicKey: vapid.publicKey,
      unsubscribe,
      addresses,
    });
    await app.register(passwordResetRoutes, { recovery, resetPerMinute: loginLimits(ctx.config.limits).perIp });
  };

  return {
    channels: email ? [push, email] : [push],
    migrations: NOTIFY_CHANNEL_MIGRATIONS,
    routes,
    async close() {
      clearInterval(sweeper);
      stopSignIns();
      await email?.close();
    },
  };
}

/**
 * The channels in the shape of `notifyModule({ channels })`: builds them, registers their routes,
 * and closes them when the app closes (after the modules, before storage). The notify module's
 * migrations must include NOTIFY_CHANNEL_MIGRATIONS after its own.
 */
export function channelsOption(options: Partial<ChannelConfig> = {}): (ctx: ModuleContext) => Promise<Channel[]> {
  return async (ctx) => {
    const created = await createChannels(ctx, options);
    await ctx.app.register(created.routes);
    ctx.app.addHook('onClose', async () => created.close());
    return created.channels;
  };
}
