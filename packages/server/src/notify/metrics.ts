import { Counter, type Registry } from 'prom-client';

/** The notify module's metrics, in the server's registry (served at /metrics). */
export class NotifyMetrics {
  readonly due: Counter;
  readonly sent: Counter<'channel' | 'kind'>;
  readonly late: Counter<'channel'>;
  readonly skipped: Counter;
  readonly agendaSkipped: Counter;
  readonly failed: Counter<'channel' | 'kind'>;
  readonly roomReads: Counter<'for' | 'where'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.due = new Counter({ name: 'kith_reminders_due_total', help: 'Reminder deliveries (member × reminder × occurrence) that fell due', registers });
    this.sent = new Counter({
      name: 'kith_notifications_sent_total',
      help: 'Deliveries a channel accepted, by channel and kind (reminder, changes)',
      labelNames: ['channel', 'kind'] as const,
      registers,
    });
    this.late = new Counter({
      name: 'kith_reminders_late_total',
      help: 'Reminders sent more than a minute after they were due (e.g. caught up after a restart)',
      labelNames: ['channel'] as const,
      registers,
    });
    this.skipped = new Counter({
      name: 'kith_reminders_skipped_total',
      help: 'Reminders missed while the server was down whose event had already started',
      registers,
    });
    this.agendaSkipped = new Counter({
      name: 'kith_agenda_skipped_total',
      help: 'Daily agendas not sent because the server was down until more than the allowed lateness after their time',
      registers,
    });
    this.failed = new Counter({
      name: 'kith_notifications_failed_total',
      help: 'Send attempts that failed (retried later) or whose destination is gone, by channel and kind',
      labelNames: ['channel', 'kind'] as const,
      registers,
    });
    this.roomReads = new Counter({
      name: 'kith_notify_room_reads_total',
      help: 'Rooms read for reminders, an agenda (occurrences) or a change notice\'s first picture of a big room (print), by where: loop (small) or worker (big, read from its stored bytes)',
      labelNames: ['for', 'where'] as const,
      registers,
    });
  }
}
