/**
 * Errors by which storage says it cannot write now (a full disk, an I/O error, a read-only
 * database) rather than that the request was wrong. Routes that write answer them with 503
 * STORAGE_UNAVAILABLE, like edits, instead of a bare 500.
 */
export function isStorageWriteFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // better-sqlite3: SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_READONLY_…
  if (/^SQLITE_(FULL|IOERR|READONLY)/.test(code)) return true;
  // PostgreSQL SQLSTATEs: 53xxx insufficient resources (53100 disk_full), 58030 io_error,
  // 25006 read_only_sql_transaction (e.g. a standby after failover).
  return /^53\d{3}$/.test(code) || code === '58030' || code === '25006';
}
