#include "LinliSQLite.h"
#include <pthread.h>
#include <sqlite3.h>

// sqlite3_config and sqlite3_db_config are variadic, which Swift cannot call.

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int configured = SQLITE_OK;

static void configure(void) {
    configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int linli_sqlite_configure_library(void) {
    pthread_once(&once, configure);
    return configured;
}

int linli_sqlite_configure_connection(void *db) {
    sqlite3 *c = (sqlite3 *)db;
    int now = 0;
    int rc = sqlite3_db_config(c, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &now);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_db_config(c, SQLITE_DBCONFIG_DQS_DML, 0, &now);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_db_config(c, SQLITE_DBCONFIG_DQS_DDL, 0, &now);
}
