// Debian's libsqlite3-dev: the one copy of SQLite every Linli connection goes through.
#include <sqlite3.h>
