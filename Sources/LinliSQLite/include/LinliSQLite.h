#ifndef LINLI_SQLITE_H
#define LINLI_SQLITE_H

/// Library-wide settings, applied once before the first connection opens: no memory statistics
/// (Debian builds SQLite with them on, which takes one global mutex on every allocation of every
/// connection's thread). Returns SQLite's result code (SQLITE_MISUSE if SQLite was already in use).
int linli_sqlite_configure_library(void);

/// Per-connection settings (`db` is its sqlite3*): the query planner stability guarantee, so that
/// a cached statement is never re-prepared because a different value was bound to it; and
/// double-quoted text refused as a string literal (Debian's build accepts it, so a misspelt
/// quoted column name would silently compare against a string). Returns SQLite's result code.
int linli_sqlite_configure_connection(void *db);

#endif
