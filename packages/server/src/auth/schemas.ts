import { Type } from 'typebox';

export const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: '3–32 of letters, digits, _ . - (compared case-insensitively)',
});
export const Password = Type.String({ minLength: 8, maxLength: 1024 });

export const Credentials = Type.Object({ username: Username, password: Password }, { additionalProperties: false });
/** Registration: the credentials, and an invite code (required under `--registration invite-only`). */
export const RegisterBody = Type.Object(
  {
    username: Username,
    password: Password,
    inviteCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'joins its room in the same step' })),
  },
  { additionalProperties: false },
);
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
const Role = Type.Union([Type.Literal('owner'), Type.Literal('editor'), Type.Literal('viewer')]);
/** The register answer: the new user, plus the room joined when an invite code came with it. */
export const RegisteredView = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  room: Type.Optional(Type.Object({ roomId: Type.String(), name: Type.String(), role: Role })),
});
export const TokenPair = Type.Object({
  token: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
});
