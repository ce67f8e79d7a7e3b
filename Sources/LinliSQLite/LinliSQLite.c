#include "LinliSQLite.h"
#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call.
int linli_sqlite_enable_qpsg(void *db) {
    int now = 0;
    return sqlite3_db_config((sqlite3 *)db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &now);
}
