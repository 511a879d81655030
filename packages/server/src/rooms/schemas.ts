import { Type } from 'typebox';

export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('editor'), Type.Literal('viewer')]);
export const RoomParams = Type.Object({ roomId: Type.String({ minLength: 1, maxLength: 64 }) });
export const MemberParams = Type.Object({
  roomId: Type.String({ minLength: 1, maxLength: 64 }),
  userId: Type.String({ minLength: 1, maxLength: 64 }),
});
export const InviteParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }) });

/** `GET /invites/:code`: what the link is for, shown before signing up. */
export const InvitePreview = Type.Object({
  roomName: Type.String(),
  invitedBy: Type.String({ description: 'username of the owner who made the link' }),
  role: RoleSchema,
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});
export const RoomInviteParams = Type.Object({
  roomId: Type.String({ minLength: 1, maxLength: 64 }),
  inviteId: Type.String({ minLength: 1, maxLength: 64 }),
});

/**
 * Something besides spaces, and no control characters (C0, DEL, C1), lone surrogates, U+FFFE or
 * U+FFFF: a name is one line of text, shown in calendar apps, and XML cannot carry most of these.
 */
const ROOM_NAME = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF\\uFFFE\\uFFFF]*$';

export const CreateRoomBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, pattern: ROOM_NAME, description: 'one line of text, without control characters' }) },
  { additionalProperties: false },
);
export const CreateInviteBody = Type.Object(
  {
    role: Type.Union([Type.Literal('editor'), Type.Literal('viewer'), Type.Literal('owner')]),
    expiresInHours: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 24 * 365 })),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const SetRoleBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });

export const RoomSummary = Type.Object({ roomId: Type.String(), name: Type.String(), role: RoleSchema });
export const MemberView = Type.Object({ userId: Type.String(), username: Type.String(), role: RoleSchema });
export const RoomDetails = Type.Object({
  roomId: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: Type.String({ format: 'date-time' }),
  members: Type.Array(MemberView),
});
export const InviteView = Type.Object({
  /** The sha256 of the code: names the invite (to revoke it) without being able to accept it. */
  inviteId: Type.String(),
  code: Type.String(),
  url: Type.String(),
  role: RoleSchema,
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
});
/** An invite as an owner sees it in the list: never its code (only its hash is stored). */
export const InviteSummary = Type.Object({
  inviteId: Type.String(),
  role: RoleSchema,
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
  uses: Type.Integer(),
  usable: Type.Boolean({ description: 'neither expired nor used up' }),
});
export const InviteList = Type.Object({ invites: Type.Array(InviteSummary) });
export const AcceptedInvite = Type.Object({
  roomId: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  joined: Type.Boolean({ description: 'false when you were already a member' }),
});
