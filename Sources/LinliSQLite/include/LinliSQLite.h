#ifndef LINLI_SQLITE_H
#define LINLI_SQLITE_H

/// Turns on SQLite's query planner stability guarantee for one connection (`db` is its sqlite3*),
/// so that a cached statement is never re-prepared because a different value was bound to it.
/// Returns SQLite's result code.
int linli_sqlite_enable_qpsg(void *db);

#endif
