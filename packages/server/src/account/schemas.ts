import { Type } from 'typebox';

const RoomId = Type.String({ minLength: 1, maxLength: 64 });

export const DeleteAccountBody = Type.Object(
  {
    password: Type.String({ minLength: 1, maxLength: 1024, description: 'the account password, to confirm' }),
    soleOwnedRooms: Type.Optional(
      Type.Array(
        Type.Union([
          Type.Object({ roomId: RoomId, action: Type.Literal('delete') }, { additionalProperties: false }),
          Type.Object({ roomId: RoomId, action: Type.Literal('hand-over'), to: Type.String({ minLength: 1, maxLength: 64, description: 'userId of a member' }) }, { additionalProperties: false }),
        ]),
        { maxItems: 500 },
      ),
    ),
    otherSoleOwnedRooms: Type.Optional(
      Type.Literal('delete', {
        description: 'what becomes of every room you alone own that soleOwnedRooms does not name, however many there are',
      }),
    ),
  },
  { additionalProperties: false },
);
