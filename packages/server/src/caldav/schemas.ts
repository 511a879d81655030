import { Type } from 'typebox';
import { APP_PASSWORD_LIMITS } from './app-passwords.js';

export const CreateAppPasswordBody = Type.Object(
  {
    label: Type.String({
      minLength: 1,
      maxLength: APP_PASSWORD_LIMITS.maxLabelLength,
      pattern: '\\S',
      description: 'names the device, e.g. "Anna’s iPhone"',
    }),
  },
  { additionalProperties: false },
);

const AppPasswordFields = {
  id: Type.String(),
  label: Type.String(),
  createdAt: Type.Number({ description: 'ms since the epoch' }),
};

/** The answer to a create: the only time the password is ever shown. */
export const CreatedAppPassword = Type.Object({ ...AppPasswordFields, password: Type.String() });

/** A listed one: never the password nor its hash. */
export const AppPasswordList = Type.Object({
  appPasswords: Type.Array(
    Type.Object({
      ...AppPasswordFields,
      lastUsedAt: Type.Union([Type.Number(), Type.Null()], { description: 'to the minute; null if never used' }),
    }),
  ),
});

export const AppPasswordParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const DavProbe = Type.Object({ userId: Type.String(), username: Type.String() });
