/** An SMTP server on loopback that keeps every message it is sent (the app's email tests read codes from it). */
import { SMTPServer } from 'smtp-server';
import { freePort } from '@kith/test-support';

export interface Mail {
  to: string[];
  raw: string;
}

export class Mailbox {
  readonly received: Mail[] = [];
  private constructor(
    readonly url: string,
    private readonly server: SMTPServer,
  ) {}

  static async start(): Promise<Mailbox> {
    const port = await freePort();
    let box: Mailbox | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      size: 1024 * 1024,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          box!.received.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    box = new Mailbox(`smtp://127.0.0.1:${port}`, server);
    return box;
  }

  to(address: string): Mail[] {
    return this.received.filter((m) => m.to.includes(address.toLowerCase()));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
