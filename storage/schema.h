/* Schema and migrations. Changing a table layout bumps TP_SCHEMA_VERSION and
 * appends a migration to schema.c; a database is migrated step by step at open. */
#ifndef TP_SCHEMA_H
#define TP_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

#define TP_SCHEMA_VERSION 4

/* Brings the database to TP_SCHEMA_VERSION. 0 or an SQLite error code. */
int schema_migrate(sqlite3 *db, char *err, size_t errlen);

#endif
