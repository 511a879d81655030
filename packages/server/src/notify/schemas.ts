import { Type } from 'typebox';

const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

export const CommentParams = Type.Object({ roomId: Type.String({ minLength: 1, maxLength: 128 }), eventId: Type.String({ minLength: 1, maxLength: 128 }) });
export const OneCommentParams = Type.Object({
  roomId: Type.String({ minLength: 1, maxLength: 128 }),
  eventId: Type.String({ minLength: 1, maxLength: 128 }),
  commentId: Type.String({ minLength: 1, maxLength: 128 }),
});
/** The text's length is the model's to check (FIELD_TOO_LONG names `text` and the limit). */
export const CommentBody = Type.Object({ text: Type.String() }, { additionalProperties: false });

export const CommentView = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  author: Type.String(),
  text: Type.String(),
  at: Type.String(),
  editedAt: Type.Union([Type.String(), Type.Null()]),
});
export const CommentList = Type.Object({ comments: Type.Array(CommentView) });

const RoomPref = Type.Object({ changes: Type.Union([Type.Literal('all'), Type.Literal('participant'), Type.Literal('none')]) }, { additionalProperties: false });

/** PUT replaces the fields it names; rooms named are replaced one by one. */
export const SettingsBody = Type.Object(
  {
    timeZone: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
    quietHours: Type.Optional(
      Type.Union([Type.Object({ start: Type.String({ pattern: HHMM }), end: Type.String({ pattern: HHMM }) }, { additionalProperties: false }), Type.Null()]),
    ),
    dailyAgenda: Type.Optional(Type.Union([Type.Object({ time: Type.String({ pattern: HHMM }) }, { additionalProperties: false }), Type.Null()])),
    // A Record's key schema only names its pattern: `propertyNames` is what bounds each room id.
    rooms: Type.Optional(Type.Record(Type.String(), RoomPref, { maxProperties: 200, propertyNames: { minLength: 1, maxLength: 128 } })),
  },
  { additionalProperties: false },
);

export const SettingsView = Type.Object({
  timeZone: Type.Union([Type.String(), Type.Null()]),
  quietHours: Type.Union([Type.Object({ start: Type.String(), end: Type.String() }), Type.Null()]),
  dailyAgenda: Type.Union([Type.Object({ time: Type.String() }), Type.Null()]),
  rooms: Type.Record(Type.String(), Type.Object({ changes: Type.String() })),
});

export const RoomOnlyParams = Type.Object({ roomId: Type.String({ minLength: 1, maxLength: 128 }) });
/** Minutes before; ranges and counts are the model's to check (it names `timed` / `allDay`). */
export const ReminderDefaultsBody = Type.Object(
  { timed: Type.Optional(Type.Array(Type.Integer(), { maxItems: 100 })), allDay: Type.Optional(Type.Array(Type.Integer(), { maxItems: 100 })) },
  { additionalProperties: false, minProperties: 1 },
);
export const ReminderDefaultsView = Type.Object({ timed: Type.Array(Type.Number()), allDay: Type.Array(Type.Number()) });
