import { Type } from 'typebox';

export const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: '3–32 of letters, digits, _ . - (compared case-insensitively)',
});
export const Password = Type.String({ minLength: 8, maxLength: 1024 });

export const Credentials = Type.Object({ username: Username, password: Password }, { additionalProperties: false });
/** Login does not re-check the signup rules: a wrong password is a 401, not a 400. */
export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

export const UserView = Type.Object({ userId: Type.String(), username: Type.String() });
export const TokenPair = Type.Object({
  token: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
});
