/**
 * TypeBox schemas of the calendar REST API. They check shapes and types only; what the values mean
 * (times, zones, rules, lengths) is checked by @kith/model, whose errors name the field.
 */
import { Type } from 'typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Text = Type.String({ maxLength: 10_000 });

export const RoomParams = Type.Object({ roomId: Type.String({ minLength: 1, maxLength: 64 }) });
export const EventParams = Type.Object({
  roomId: Type.String({ minLength: 1, maxLength: 64 }),
  eventId: Type.String({ minLength: 1, maxLength: 128 }),
});

const eventFields = {
  eventTitle: Text,
  startTime: Type.String({ maxLength: 64 }),
  endTime: Type.String({ maxLength: 64 }),
  timeZone: Nullable(Type.String({ maxLength: 64 })),
  endTimeZone: Nullable(Type.String({ maxLength: 64 })),
  allDay: Type.Boolean(),
  description: Text,
  location: Text,
  participants: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000 }),
  recurrence: Type.Array(Type.String({ maxLength: 10_000 }), { maxItems: 100 }),
  color: Nullable(Type.String({ maxLength: 200 })),
  category: Nullable(Type.String({ maxLength: 200 })),
  /** Shapes only: the model checks ranges (0 to 40,320 minutes), counts and ids, naming the field. */
  reminders: Type.Array(
    Type.Object(
      {
        id: Type.Optional(Type.String({ maxLength: 200 })),
        minutesBefore: Type.Integer(),
        for: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000 }), Type.Null()])),
      },
      { additionalProperties: false },
    ),
    { maxItems: 100 },
  ),
};

/** POST /rooms/:roomId/events: title, start, end and participants, plus zone, all-day, text and recurrence. */
export const CreateEventBody = Type.Object(
  {
    eventTitle: eventFields.eventTitle,
    startTime: eventFields.startTime,
    endTime: eventFields.endTime,
    timeZone: Type.Optional(eventFields.timeZone),
    endTimeZone: Type.Optional(eventFields.endTimeZone),
    allDay: Type.Optional(eventFields.allDay),
    description: Type.Optional(eventFields.description),
    location: Type.Optional(eventFields.location),
    participants: Type.Optional(eventFields.participants),
    recurrence: Type.Optional(eventFields.recurrence),
    color: Type.Optional(eventFields.color),
    category: Type.Optional(eventFields.category),
    reminders: Type.Optional(eventFields.reminders),
  },
  { additionalProperties: false },
);

/** PATCH /rooms/:roomId/events/:eventId: any of the fields; `startTime` alone moves, `endTime` alone resizes. */
export const PatchEventBody = Type.Object(
  {
    eventTitle: Type.Optional(eventFields.eventTitle),
    startTime: Type.Optional(eventFields.startTime),
    endTime: Type.Optional(eventFields.endTime),
    timeZone: Type.Optional(eventFields.timeZone),
    endTimeZone: Type.Optional(eventFields.endTimeZone),
    allDay: Type.Optional(eventFields.allDay),
    description: Type.Optional(eventFields.description),
    location: Type.Optional(eventFields.location),
    participants: Type.Optional(eventFields.participants),
    recurrence: Type.Optional(eventFields.recurrence),
    color: Type.Optional(eventFields.color),
    category: Type.Optional(eventFields.category),
    reminders: Type.Optional(eventFields.reminders),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventView = Type.Object({
  eventId: Type.String(),
  eventTitle: Type.String(),
  startTime: Type.String(),
  endTime: Type.String(),
  timeZone: Type.Union([Type.String(), Type.Null()]),
  endTimeZone: Type.Union([Type.String(), Type.Null()]),
  allDay: Type.Boolean(),
  participants: Type.Array(Type.String()),
  description: Type.String(),
  location: Type.String(),
  recurrence: Type.Array(Type.String()),
  color: Type.Union([Type.String(), Type.Null()]),
  category: Type.Union([Type.String(), Type.Null()]),
  reminders: Type.Array(Type.Object({ id: Type.String(), minutesBefore: Type.Number(), for: Type.Union([Type.Array(Type.String()), Type.Null()]) })),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedBy: Type.String(),
  updatedAt: Type.String(),
});

export const OccurrencesQuery = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 64 }),
    to: Type.String({ minLength: 1, maxLength: 64 }),
    timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: false },
);

export const OccurrenceView = Type.Object({
  eventId: Type.String(),
  occKey: Type.String(),
  recurring: Type.Boolean(),
  allDay: Type.Boolean(),
  originalStart: Type.String(),
  eventTitle: Type.String(),
  startTime: Type.String(),
  endTime: Type.String(),
  timeZone: Type.Union([Type.String(), Type.Null()]),
  localStartTime: Type.String(),
  localEndTime: Type.String(),
  description: Type.String(),
  location: Type.String(),
  participants: Type.Array(Type.String()),
  color: Type.Union([Type.String(), Type.Null()]),
  category: Type.Union([Type.String(), Type.Null()]),
  overridden: Type.Boolean(),
});

export const SkippedEvent = Type.Object({ eventId: Type.String(), code: Type.String(), message: Type.String() });

export const OccurrencesAnswer = Type.Object({
  /** The zone the list was asked for (`?timeZone=`, default UTC): the zone of every `local…Time`. */
  timeZone: Type.String(),
  occurrences: Type.Array(OccurrenceView),
  next: Type.Union([Type.String(), Type.Null()]),
  nextUrl: Type.Union([Type.String(), Type.Null()]),
  skipped: Type.Array(SkippedEvent),
  skippedCount: Type.Integer(),
});

export const FeedAnswer = Type.Object({
  url: Type.String(),
  webcalUrl: Type.String(),
  createdAt: Type.String(),
});

export const FeedStatus = Type.Object({
  active: Type.Boolean(),
  createdAt: Type.Union([Type.String(), Type.Null()]),
});

export const ImportError = Type.Object({
  uid: Type.Union([Type.String(), Type.Null()]),
  code: Type.String(),
  message: Type.String(),
});

export const ImportAnswer = Type.Object({
  imported: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  skipped: Type.Integer(),
  errors: Type.Array(ImportError),
});
