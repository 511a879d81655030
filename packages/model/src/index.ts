/**
 * @kith/model — the calendar event model of a Kith room: how events live in a Yjs document, the
 * operations on them and the queries over them. Pure: no I/O, no timers, browser- and Node-safe.
 */
export type * from './types.js';
export { ModelError, MODEL_ERRORS } from './errors.js';
export type { ModelErrorCode } from './errors.js';
export { initRoom, LIMITS, ROOT, SCHEMA_VERSION, TRASH_DAYS } from './schema.js';
export { createEvent, editAll, moveEvent, updateEvent } from './events.js';
export { deleteEvent, listTrash, purgeTrash, restoreEvent } from './trash.js';
export { cancelOccurrence, editOccurrence, resetOccurrence, restoreOccurrence } from './occurrence-edits.js';
export { deleteFollowing, editFollowing, exportSeries, orphanedKeys } from './series.js';
export { getEvent, listEvents } from './read.js';
export type { ReadOptions } from './read.js';
export { checkWindow, cursorAfter, occurrenceInstants, occurrencesBetween, occurrencesOf, occurrencesStartingIn, PAGE_LIMITS, queryOccurrences } from './expand.js';
export { doubleBookings, searchEvents } from './queries.js';
export { observeEvents } from './observe.js';
export type { EventsChange } from './observe.js';
export { validateEvent } from './validate.js';
export { normalizeRule } from './recurrence.js';
export { AFTER_LAST_MS, FIRST_MS, inYears, instantInRange, yearInRange } from './time.js';
export { addComment, COMMENT_LIMITS, COMMENTS_ROOT, deleteComment, editComment, getComment, listComments } from './comments.js';
export type { EventComment } from './comments.js';
export { getReminderDefaults, MAX_DEFAULT_REMINDERS, REMINDER_DEFAULTS_ROOT, setReminderDefaults } from './reminder-defaults.js';
export type { ReminderDefaults } from './reminder-defaults.js';
