#include "LinliSQLite.h"

// sqlite3_db_config is variadic, which Swift cannot call. The symbol is SQLiteNIO's copy of SQLite
// (its names carry the sqlite_nio_ prefix), the same copy every Linli connection uses.
extern int sqlite_nio_sqlite3_db_config(void *db, int op, ...);

#define LINLI_SQLITE_DBCONFIG_ENABLE_QPSG 1007

int linli_sqlite_enable_qpsg(void *db) {
    int now = 0;
    return sqlite_nio_sqlite3_db_config(db, LINLI_SQLITE_DBCONFIG_ENABLE_QPSG, 1, &now);
}
