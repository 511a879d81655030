/**
 * Test wiring for the notification channels until the notifications module (notify-core) composes
 * them: a minimal module that calls `createChannels` and hands its channels to the test; plus the
 * outside parties, real and on loopback only: the `web-push-testing` mock push service (it checks
 * VAPID, decrypts, can expire a subscription) and an `smtp-server` that parses every message with
 * `mailparser`.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '@kith/test-support';
import type { KithModule } from '../../src/modules/module.js';
import { channelsOption, NOTIFY_CHANNEL_MIGRATIONS, type ChannelConfig } from '../../src/notify/channels/index.js';
import type { Channel } from '../../src/notify/delivery.js';

/** What the test module exposes once installed. */
export interface ChannelsHandle {
  channels: Channel[];
  channel(name: 'push' | 'email'): Channel;
}

export function channelsTestModule(options: Partial<ChannelConfig>): { module: KithModule; handle: ChannelsHandle } {
  const handle: ChannelsHandle = {
    channels: [],
    channel(name) {
      const c = handle.channels.find((ch) => ch.name === name);
      if (!c) throw new Error(`no ${name} channel`);
      return c;
    },
  };
  const module: KithModule = {
    name: 'notify',
    migrations: NOTIFY_CHANNEL_MIGRATIONS,
    // As the notifications module does: its `channels` option, its tables after its own (none here).
    async install(ctx) {
      handle.channels = await channelsOption(options)(ctx);
      return { close: async () => undefined };
    },
  };
  return { module, handle };
}

// web-push-testing ships no types; these are the parts used.
interface PushApiModel {
  notifyUrl: string;
}
type WebPushTestingServerClass = new (model: PushApiModel, port: number) => {
  _app: { use(fn: (req: unknown, res: { status(n: number): { end(): void } }, next: () => void) => void): void; listen(port: number, host: string, cb: () => void): Server };
  setRequestHandlers(): void;
};

export interface MockSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  clientHash: string;
}

/** The mock push service on 127.0.0.1 (never all interfaces); `failRate` answers that share 503 first. */
export class MockPushService {
  private constructor(
    readonly url: string,
    private readonly server: Server,
    readonly stats: { refused: number },
  ) {}

  static async start(opts: { fail?: () => boolean } = {}): Promise<MockPushService> {
    const require = createRequire(import.meta.url);
    const { PushApiModel } = require('web-push-testing/src/PushApiModel.js') as { PushApiModel: new () => PushApiModel };
    const WebPushTestingServer = require('web-push-testing/src/server.js') as WebPushTestingServerClass;
    const port = await freePort();
    const model = new PushApiModel();
    const mock = new WebPushTestingServer(model, port);
    model.notifyUrl = `http://127.0.0.1:${port}/notify/`;
    const stats = { refused: 0 };
    mock._app.use((req, res, next) => {
      const path = (req as { path: string }).path;
      if (path.startsWith('/notify/') && opts.fail?.()) {
        stats.refused++;
        res.status(503).end();
        return;
      }
      next();
    });
    mock.setRequestHandlers();
    const server = await new Promise<Server>((resolve) => {
      const s = mock._app.listen(port, '127.0.0.1', () => resolve(s));
    });
    return new MockPushService(`http://127.0.0.1:${port}`, server, stats);
  }

  private async post(path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(this.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json');
    return { status: res.status, body: json ? JSON.parse(text) : text };
  }

  /** A browser subscribing with the server's VAPID key, as `pushManager.subscribe` would. */
  async subscribe(applicationServerKey: string): Promise<MockSubscription> {
    const res = await this.post('/subscribe', { applicationServerKey, userVisibleOnly: 'true' });
    if (res.status !== 200) throw new Error(`subscribe failed: ${JSON.stringify(res.body)}`);
    return res.body.data;
  }

  /** The decrypted payloads the browser received. */
  async messages(sub: MockSubscription): Promise<string[]> {
    return (await this.post('/get-notifications', { clientHash: sub.clientHash })).body.data.messages;
  }

  /** The browser unsubscribed: the push service answers 410 from now on. */
  async expire(sub: MockSubscription): Promise<void> {
    await this.post(`/expire-subscription/${sub.clientHash}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** An SMTP server in the test process, on 127.0.0.1; every accepted message parsed. */
export class TestSmtp {
  readonly received: ParsedMail[] = [];
  readonly stats = { refused: 0 };
  /** Recipients refused with 550 from now on (besides any containing "reject"). */
  readonly rejecting = new Set<string>();

  private constructor(
    readonly port: number,
    private readonly server: SMTPServer,
  ) {}

  /**
   * `transient()` true → the message is answered 451 (try again later); recipients containing
   * "reject" are refused with 550 (no such user).
   */
  static async start(opts: { transient?: () => boolean } = {}): Promise<TestSmtp> {
    const port = await freePort();
    let self: TestSmtp | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      size: 1024 * 1024,
      onRcptTo(address, _session, callback) {
        if (address.address.includes('reject') || self?.rejecting.has(address.address.toLowerCase())) {
          callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
          return;
        }
        callback();
      },
      onData(stream, _session, callback) {
        const refuse = opts.transient?.() ?? false;
        simpleParser(stream).then(
          (mail) => {
            if (refuse) {
              self!.stats.refused++;
              callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
              return;
            }
            self!.received.push(mail);
            callback();
          },
          (err: Error) => callback(err),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    self = new TestSmtp(port, server);
    return self;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Mails to `to`, in arrival order. */
  to(to: string): ParsedMail[] {
    return this.received.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((a) => a?.value.some((v) => v.address?.toLowerCase() === to.toLowerCase())));
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`timed out; ${this.received.length} mails received`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
