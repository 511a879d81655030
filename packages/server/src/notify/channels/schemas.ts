import { Type } from 'typebox';
import { Password } from '../../auth/schemas.js';
import { EMAIL_LIMITS } from './email-addresses.js';
import { PUSH_LIMITS } from './push-subscriptions.js';

const base64url = (description: string) => Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+={0,2}$', description });

/** A browser's `PushSubscription.toJSON()`; the keys are checked further (lengths, curve point) in push-subscriptions.ts. */
export const PushSubscriptionBody = Type.Object(
  {
    endpoint: Type.String({ minLength: 1, maxLength: PUSH_LIMITS.maxEndpointLength }),
    expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    keys: Type.Object(
      { p256dh: base64url('the browser\'s P-256 public key'), auth: base64url('16-byte auth secret') },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const EndpointBody = Type.Object(
  { endpoint: Type.String({ minLength: 1, maxLength: PUSH_LIMITS.maxEndpointLength }) },
  { additionalProperties: false },
);

export const VapidKeyView = Type.Object({ publicKey: Type.String() });

export const EmailBody = Type.Object(
  { address: Type.String({ minLength: 3, maxLength: EMAIL_LIMITS.maxAddressLength }) },
  { additionalProperties: false },
);

export const CodeBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false });

export const EmailView = Type.Object({
  address: Type.Union([Type.String(), Type.Null()], { description: 'the verified address' }),
  verified: Type.Boolean(),
  unsubscribed: Type.Boolean({ description: 'notices stopped by an unsubscribe link (account mail still comes)' }),
  pendingAddress: Type.Union([Type.String(), Type.Null()], { description: 'waiting for its code' }),
});

export const ResetRequestBody = Type.Object({ email: Type.String({ minLength: 3, maxLength: EMAIL_LIMITS.maxAddressLength }) }, { additionalProperties: false });

export const ResetConfirmBody = Type.Object(
  { token: Type.String({ minLength: 20, maxLength: 100 }), newPassword: Password },
  { additionalProperties: false },
);

export const UnsubscribeQuery = Type.Object({ token: Type.String({ minLength: 3, maxLength: 200 }) });
