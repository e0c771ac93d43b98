/* Read-only bucket listing; see bucket_names.h. */
#include "storage/bucket_names.h"
#include "protocol/errors.h"

#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#define BUSY_MS 2000 /* a running server's writer holds locks only briefly */

int db_bucket_names_readonly(const char *dir, int (*cb)(void *ctx, const char *name, const char *region),
                             void *ctx)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int step = SQLITE_ERROR;

    snprintf(path, sizeof path, "%s/tidepool.db", dir);
    if (access(path, F_OK) != 0)
        return TP_ENOTFOUND;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, BUSY_MS) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT name, region FROM buckets ORDER BY name", -1, &st, NULL) == SQLITE_OK) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if (cb(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1)))
                break;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return step == SQLITE_ROW || step == SQLITE_DONE ? TP_OK : TP_EIO;
}
