/* Delivery streams, DirectPut buffers and checkpoints; see firehose.h and the
 * table notes in schema.c. Writers: only db_write jobs (the writer thread). */
#include "storage/firehose.h"

#include <stdlib.h>
#include <string.h>

#define FH_COLS                                                                               \
    "id, region, name, type, status, status_until_ms, version, created_ms, updated_ms, "     \
    "source, destination, encryption"

void db_fh_clear(struct db_fh *f)
{
    free(f->source);
    free(f->destination);
    free(f->encryption);
    f->source = f->destination = f->encryption = NULL;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* Fills f from a row of FH_COLS. Returns 0 when the stream is gone by now. */
static int fh_from_row(sqlite3_stmt *st, uint64_t now, struct db_fh *f)
{
    uint64_t until = (uint64_t)sqlite3_column_int64(st, 5);
    f->id = sqlite3_column_int64(st, 0);
    db_col_text(st, 1, f->region, sizeof f->region);
    db_col_text(st, 2, f->name, sizeof f->name);
    db_col_text(st, 3, f->type, sizeof f->type);
    db_col_text(st, 4, f->status, sizeof f->status);
    f->version = (unsigned)sqlite3_column_int(st, 6);
    f->created_ms = (uint64_t)sqlite3_column_int64(st, 7);
    f->updated_ms = (uint64_t)sqlite3_column_int64(st, 8);
    f->source = col_dup(st, 9);
    f->destination = col_dup(st, 10);
    f->encryption = col_dup(st, 11);
    if (now >= until) {
        if (!strcmp(f->status, "DELETING")) {
            db_fh_clear(f);
            return 0;
        }
        strcpy(f->status, "ACTIVE");
    }
    return 1;
}

static int get_one(sqlite3_stmt *st, uint64_t now, struct db_fh *out)
{
    int rc = db_step_row(st);
    if (rc == TP_OK && !fh_from_row(st, now, out))
        rc = TP_ENOTFOUND; /* deleted by now */
    sqlite3_reset(st);
    return rc;
}

int db_fh_get(struct db_conn *c, const char *region, const char *name, uint64_t now, struct db_fh *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " FH_COLS " FROM delivery_streams WHERE region=? AND name=?");
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return get_one(st, now, out);
}

int db_fh_get_id(struct db_conn *c, int64_t id, uint64_t now, struct db_fh *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " FH_COLS " FROM delivery_streams WHERE id=?");
    sqlite3_bind_int64(st, 1, id);
    return get_one(st, now, out);
}

int db_fh_list(struct db_conn *c, const char *region, const char *type, const char *after, uint64_t now,
               int (*cb)(void *ctx, const struct db_fh *f), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " FH_COLS " FROM delivery_streams WHERE (?1 IS NULL OR region=?1) "
                                  "AND (?2 IS NULL OR type=?2) AND name>?3 ORDER BY name, region");
    struct db_fh f;
    int rc = TP_OK, step;
    if (region)
        sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    if (type)
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!fh_from_row(st, now, &f))
            continue;
        int stop = cb(ctx, &f);
        db_fh_clear(&f);
        if (stop)
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    return rc;
}

/* ---- writer side ---- */

int db_fh_insert(struct db_conn *w, struct db_fh *f, uint64_t status_until_ms, const struct db_tag *tags,
                 unsigned n_tags)
{
    struct db_fh old = {0};
    int rc;
    /* one whose DELETING ended but the tick has not removed yet no longer
     * holds its name */
    sqlite3_stmt *st = db_stmt(w, "SELECT " FH_COLS " FROM delivery_streams WHERE region=? AND name=?");
    sqlite3_bind_text(st, 1, f->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
    rc = db_step_row(st);
    int64_t stale = 0;
    if (rc == TP_OK) {
        stale = sqlite3_column_int64(st, 0);
        if (fh_from_row(st, f->created_ms, &old)) {
            db_fh_clear(&old);
            rc = TP_EEXISTS;
        }
    }
    sqlite3_reset(st);
    if (rc == TP_EEXISTS || rc == TP_EIO)
        return rc;
    if (stale && (rc = db_fh_remove(w, stale)) != TP_OK)
        return rc;

    st = db_stmt(w, "INSERT INTO delivery_streams(region, name, type, status, status_until_ms, version, "
                    "created_ms, updated_ms, source, destination, encryption) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_text(st, 1, f->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)status_until_ms);
    sqlite3_bind_int(st, 6, (int)f->version);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)f->created_ms);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)f->updated_ms);
    sqlite3_bind_text(st, 9, f->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, f->destination, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, f->encryption, -1, SQLITE_STATIC);
    if ((rc = db_step_done(st)) != TP_OK)
        return rc;
    f->id = sqlite3_last_insert_rowid(w->db);
    return db_tags_put(w, db_fh_tag_owner(f->id), tags, n_tags);
}

int db_fh_update(struct db_conn *w, const struct db_fh *f, uint64_t status_until_ms)
{
    sqlite3_stmt *st = db_stmt(w, "UPDATE delivery_streams SET status=?, status_until_ms=?, version=?, "
                                  "updated_ms=?, destination=?, encryption=? WHERE id=?");
    sqlite3_bind_text(st, 1, f->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)status_until_ms);
    sqlite3_bind_int(st, 3, (int)f->version);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->updated_ms);
    sqlite3_bind_text(st, 5, f->destination, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, f->encryption, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, f->id);
    return db_step_done(st);
}

int db_fh_remove(struct db_conn *w, int64_t id)
{
    static const char *const SQL[] = {
        "DELETE FROM fh_records WHERE stream_id=?",
        "DELETE FROM fh_checkpoints WHERE stream_id=?",
        "DELETE FROM tags WHERE stream_id=-?",
        "DELETE FROM delivery_streams WHERE id=?",
    };
    return db_exec_each(w, SQL, sizeof SQL / sizeof *SQL, id);
}

int db_fh_tick(struct db_conn *w, uint64_t now)
{
    int64_t gone[64];
    unsigned n = 0;
    int rc = TP_OK;
    sqlite3_stmt *st = db_stmt(w, "SELECT id FROM delivery_streams WHERE status='DELETING' AND "
                                  "status_until_ms<=? LIMIT 64");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
        gone[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (unsigned i = 0; i < n && rc == TP_OK; i++)
        rc = db_fh_remove(w, gone[i]);
    return rc;
}

/* ---- DirectPut buffer ---- */

int db_fh_records_append(struct db_conn *w, int64_t fh_id, uint64_t arrival_ms, struct db_fh_put *recs, size_t n)
{
    int rc = TP_OK;
    for (size_t i = 0; i < n && rc == TP_OK; i++) {
        sqlite3_stmt *st = db_stmt(w, "INSERT INTO fh_records(stream_id, arrival_ms, data) VALUES(?,?,?)");
        sqlite3_bind_int64(st, 1, fh_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)arrival_ms);
        sqlite3_bind_blob(st, 3, recs[i].len ? (const void *)recs[i].data : "", (int)recs[i].len, SQLITE_STATIC);
        if ((rc = db_step_done(st)) == TP_OK)
            recs[i].id = sqlite3_last_insert_rowid(w->db);
    }
    return rc;
}

int db_fh_records_read(struct db_conn *c, int64_t fh_id, int64_t after_id, size_t max,
                       int (*cb)(void *ctx, int64_t id, uint64_t arrival_ms, const void *data, size_t len),
                       void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT id, arrival_ms, data FROM fh_records WHERE stream_id=? AND id>? "
                                  "ORDER BY id LIMIT ?");
    int rc = TP_OK, step;
    sqlite3_bind_int64(st, 1, fh_id);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (cb(ctx, sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1), data, len))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    return rc;
}

int db_fh_records_delete(struct db_conn *w, int64_t fh_id, int64_t upto_id)
{
    sqlite3_stmt *st = db_stmt(w, "DELETE FROM fh_records WHERE stream_id=? AND id<=?");
    sqlite3_bind_int64(st, 1, fh_id);
    sqlite3_bind_int64(st, 2, upto_id);
    return db_step_done(st);
}

/* ---- Kinesis-source checkpoints ---- */

int db_fh_checkpoint_get(struct db_conn *c, int64_t fh_id, int64_t shard_id, uint64_t *next_seq)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT next_seq FROM fh_checkpoints WHERE stream_id=? AND shard_id=?");
    sqlite3_bind_int64(st, 1, fh_id);
    sqlite3_bind_int64(st, 2, shard_id);
    int rc = db_step_row(st);
    if (rc == TP_OK)
        *next_seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

int db_fh_checkpoint_set(struct db_conn *w, int64_t fh_id, int64_t shard_id, uint64_t next_seq)
{
    sqlite3_stmt *st = db_stmt(w, "INSERT OR REPLACE INTO fh_checkpoints(stream_id, shard_id, next_seq) "
                                  "VALUES(?,?,?)");
    sqlite3_bind_int64(st, 1, fh_id);
    sqlite3_bind_int64(st, 2, shard_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)next_seq);
    return db_step_done(st);
}
