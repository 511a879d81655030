import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
  /** Stable per delivery, so that a message sent twice (a crash between SMTP's OK and our record) is one message to mail clients. */
  messageId?: string;
  ics?: string;
}

/** `sent`; `retry` (4xx, connection trouble, our own SMTP settings); `rejected` (5xx for this message or address). */
export type MailResult = { outcome: 'sent' } | { outcome: 'retry' | 'rejected'; reason: string };

const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/** SMTP through nodemailer: one pooled transport, every wait bounded, failures sorted for the outbox. */
export class Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    this.transport = nodemailer.createTransport({ ...parseSmtpUrl(smtpUrl), ...TIMEOUTS, pool: true, maxConnections: 2 });
  }

  async send(mail: OutgoingMail): Promise<MailResult> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        headers: mail.headers,
        messageId: mail.messageId,
        // A calendar invitation mail clients offer to add (method PUBLISH: no reply expected).
        ...(mail.ics
          ? { attachments: [{ filename: 'event.ics', content: mail.ics, contentType: 'text/calendar; charset=utf-8; method=PUBLISH' }] }
          : {}),
      });
      return { outcome: 'sent' };
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message?: string };
      const reason = `${e.code ?? 'error'}${e.responseCode ? ` ${e.responseCode}` : ''}`;
      // A 5xx for the message or its recipient will be the same next time. Anything else (4xx
      // greylisting, a server down, a wrong password in SMTP_URL) may heal: the outbox retries.
      const permanent = (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && (e.responseCode ?? 0) >= 500;
      if (e.code === 'EAUTH' || e.code === 'ECONFIG') this.logger.error({ reason }, 'SMTP refused our settings (SMTP_URL); mail waits');
      return { outcome: permanent ? 'rejected' : 'retry', reason };
    }
  }

  close(): void {
    this.transport.close();
  }
}

/** nodemailer's options from `smtp://user:pass@host:port` (smtps:// = TLS from the start). */
function parseSmtpUrl(smtpUrl: string) {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    // Plain SMTP only to this machine (a local relay, tests); anywhere else STARTTLS is required.
    ...(!secure && !isLoopback(url.hostname) ? { requireTLS: true } : { ignoreTLS: !secure }),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}
