import { EventEmitter } from 'node:events';

/** A password login that issued tokens: who, from which address, with which client. */
export interface SignIn {
  userId: string;
  username: string;
  ip: string;
  /** The User-Agent header as sent (clipped), or '' when there was none. */
  userAgent: string;
  at: number;
}

/**
 * In-process bus from the login route to the modules that care (notifications: "a new device
 * signed in"). Listeners run after the answer is decided and cannot delay or fail a login.
 */
export class SignInEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(signIn: SignIn): void {
    this.emitter.emit('sign-in', signIn);
  }

  subscribe(listener: (signIn: SignIn) => void): () => void {
    this.emitter.on('sign-in', listener);
    return () => this.emitter.off('sign-in', listener);
  }
}
