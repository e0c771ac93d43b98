/* Streams, shards and tags; see streams.h and the table notes in schema.c.
 * Writers: only db_write jobs (the writer thread). */
#include "storage/streams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_COLS                                                                       \
    "id, region, name, created_ms, status, status_until_ms, retention_hours, mode, "     \
    "encryption, key_id, metrics, max_record_kib, warm_mibps, next_shard_ix"

static void hash_to_blob(hashkey_t v, unsigned char b[16])
{
    for (int i = 15; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)v;
}

static hashkey_t blob_to_hash(const unsigned char *b)
{
    hashkey_t v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

/* Fills s from a row of STREAM_COLS. Returns 0 when the stream is gone by now. */
static int stream_from_row(sqlite3_stmt *st, uint64_t now, struct db_stream *s)
{
    uint64_t until = (uint64_t)sqlite3_column_int64(st, 5);
    s->id = sqlite3_column_int64(st, 0);
    db_col_text(st, 1, s->region, sizeof s->region);
    db_col_text(st, 2, s->name, sizeof s->name);
    s->created_ms = (uint64_t)sqlite3_column_int64(st, 3);
    db_col_text(st, 4, s->status, sizeof s->status);
    s->retention_hours = sqlite3_column_int(st, 6);
    db_col_text(st, 7, s->mode, sizeof s->mode);
    db_col_text(st, 8, s->encryption, sizeof s->encryption);
    db_col_text(st, 9, s->key_id, sizeof s->key_id);
    db_col_text(st, 10, s->metrics, sizeof s->metrics);
    s->max_record_kib = sqlite3_column_int(st, 11);
    s->warm_mibps = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 12);
    s->next_shard_ix = (uint32_t)sqlite3_column_int(st, 13);
    if (now >= until) {
        if (!strcmp(s->status, "DELETING"))
            return 0;
        strcpy(s->status, "ACTIVE");
    }
    return 1;
}

int db_stream_get(struct db_conn *c, const char *region, const char *name, uint64_t now,
                  struct db_stream *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " STREAM_COLS " FROM streams WHERE region=? AND name=?");
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK && !stream_from_row(st, now, out))
        rc = TP_ENOTFOUND; /* deleted by now */
    sqlite3_reset(st);
    return rc;
}

#define SHARD_COLS \
    "SELECT id, shard_ix, parent_ix, adjacent_ix, start_hash, end_hash, created_ms, next_seq, " \
    "closed_seq FROM shards WHERE stream_id=? "

static int shards_query(struct db_conn *c, const char *sql, int64_t stream_id, struct db_shard **out,
                        unsigned *n)
{
    sqlite3_stmt *st = db_stmt(c, sql);
    unsigned cap = 8, k = 0;
    struct db_shard *v = malloc(cap * sizeof *v);
    int rc = TP_OK, step;
    sqlite3_bind_int64(st, 1, stream_id);
    while (v && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            struct db_shard *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        struct db_shard *s = &v[k++];
        s->id = sqlite3_column_int64(st, 0);
        s->ix = (uint32_t)sqlite3_column_int64(st, 1);
        s->parent_ix = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
        s->adjacent_ix = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
        s->start = blob_to_hash(sqlite3_column_blob(st, 4));
        s->end = blob_to_hash(sqlite3_column_blob(st, 5));
        s->created_ms = (uint64_t)sqlite3_column_int64(st, 6);
        s->next_seq = (uint64_t)sqlite3_column_int64(st, 7);
        s->closed_seq = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    }
    if (!v || step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    if (rc != TP_OK) {
        free(v);
        v = NULL;
        k = 0;
    }
    *out = v;
    *n = k;
    return rc;
}

int db_stream_shards(struct db_conn *c, int64_t stream_id, struct db_shard **out, unsigned *n)
{
    return shards_query(c, SHARD_COLS "ORDER BY shard_ix", stream_id, out, n);
}

int db_stream_shards_open(struct db_conn *c, int64_t stream_id, struct db_shard **out, unsigned *n)
{
    return shards_query(c, SHARD_COLS "AND closed_seq IS NULL ORDER BY shard_ix", stream_id, out, n);
}

int db_streams_list(struct db_conn *c, const char *region, const char *after, uint64_t now,
                    int (*cb)(void *ctx, const struct db_stream *s), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " STREAM_COLS " FROM streams WHERE region=? AND name>? ORDER BY name");
    struct db_stream *s = malloc(sizeof *s);
    int rc = TP_OK, step;
    if (!s)
        return TP_EIO;
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (stream_from_row(st, now, s) && cb(ctx, s))
            break;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    free(s);
    return rc;
}

int db_region_counts(struct db_conn *c, const char *region, uint64_t now, unsigned *open_shards,
                     unsigned *on_demand_streams)
{
    sqlite3_stmt *st = db_stmt(c,
        "SELECT (SELECT count(*) FROM shards sh WHERE sh.stream_id=s.id AND sh.closed_seq IS NULL), "
        "s.mode FROM streams s WHERE s.region=? AND NOT (s.status='DELETING' AND s.status_until_ms<=?)");
    int step;
    *open_shards = *on_demand_streams = 0;
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *open_shards += (unsigned)sqlite3_column_int(st, 0);
        *on_demand_streams += !strcmp((const char *)sqlite3_column_text(st, 1), "ON_DEMAND");
    }
    sqlite3_reset(st);
    return step == SQLITE_DONE ? TP_OK : TP_EIO;
}

int db_stream_tags(struct db_conn *c, int64_t stream_id, const char *after,
                   int (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT key, value FROM tags WHERE stream_id=? AND key>? ORDER BY key");
    int step;
    sqlite3_bind_int64(st, 1, stream_id);
    sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1)))
            break;
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? TP_OK : TP_EIO;
}

int db_stream_tag_count(struct db_conn *c, int64_t stream_id, unsigned *n)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT count(*) FROM tags WHERE stream_id=?");
    sqlite3_bind_int64(st, 1, stream_id);
    int rc = sqlite3_step(st) == SQLITE_ROW ? TP_OK : TP_EIO;
    *n = (unsigned)sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return rc;
}

/* ---- writer side ---- */

int db_stream_insert(struct db_conn *w, struct db_stream *s, uint64_t status_until_ms,
                     unsigned n_shards, const struct db_tag *tags, unsigned n_tags)
{
    struct db_stream old;
    int rc;
    /* a stream whose DELETING ended but that the tick has not removed yet
     * no longer holds its name */
    if (db_stream_get(w, s->region, s->name, s->created_ms, &old) == TP_OK)
        return TP_EEXISTS;
    sqlite3_stmt *st = db_stmt(w, "SELECT id FROM streams WHERE region=? AND name=?");
    sqlite3_bind_text(st, 1, s->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
    int64_t stale = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (stale && (rc = db_stream_remove(w, stale)) != TP_OK)
        return rc;

    st = db_stmt(w, "INSERT INTO streams(region, name, created_ms, status, status_until_ms, "
                    "retention_hours, mode, encryption, key_id, metrics, max_record_kib, warm_mibps, "
                    "next_shard_ix) VALUES(?,?,?,?,?,?,?,?,NULL,'',?,?,?)");
    sqlite3_bind_text(st, 1, s->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)s->created_ms);
    sqlite3_bind_text(st, 4, s->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)status_until_ms);
    sqlite3_bind_int(st, 6, s->retention_hours);
    sqlite3_bind_text(st, 7, s->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, s->encryption, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, s->max_record_kib);
    if (s->warm_mibps >= 0)
        sqlite3_bind_int(st, 10, s->warm_mibps);
    sqlite3_bind_int(st, 11, (int)n_shards);
    if ((rc = db_step_done(st)) != TP_OK)
        return rc;
    s->id = sqlite3_last_insert_rowid(w->db);
    s->next_shard_ix = n_shards;

    for (unsigned i = 0; i < n_shards; i++) {
        hashkey_t a, b;
        unsigned char ab[16], bb[16];
        hashkey_split(n_shards, i, &a, &b);
        hash_to_blob(a, ab);
        hash_to_blob(b, bb);
        st = db_stmt(w, "INSERT INTO shards(stream_id, shard_ix, start_hash, end_hash, created_ms) "
                        "VALUES(?,?,?,?,?)");
        sqlite3_bind_int64(st, 1, s->id);
        sqlite3_bind_int(st, 2, (int)i);
        sqlite3_bind_blob(st, 3, ab, 16, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 4, bb, 16, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)s->created_ms);
        if ((rc = db_step_done(st)) != TP_OK)
            return rc;
    }
    return db_tags_put(w, s->id, tags, n_tags);
}

int db_stream_update(struct db_conn *w, const struct db_stream *s, uint64_t until)
{
    sqlite3_stmt *st = db_stmt(w,
        "UPDATE streams SET status=?, status_until_ms=?, retention_hours=?, mode=?, encryption=?, "
        "key_id=?, metrics=?, max_record_kib=?, warm_mibps=? WHERE id=?");
    sqlite3_bind_text(st, 1, s->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)until);
    sqlite3_bind_int(st, 3, s->retention_hours);
    sqlite3_bind_text(st, 4, s->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s->encryption, -1, SQLITE_STATIC);
    if (s->key_id[0])
        sqlite3_bind_text(st, 6, s->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, s->metrics, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, s->max_record_kib);
    if (s->warm_mibps >= 0)
        sqlite3_bind_int(st, 9, s->warm_mibps);
    sqlite3_bind_int64(st, 10, s->id);
    return db_step_done(st);
}

int db_stream_remove(struct db_conn *w, int64_t stream_id)
{
    static const char *const SQL[] = {
        "DELETE FROM segments WHERE shard_id IN (SELECT id FROM shards WHERE stream_id=?)",
        "DELETE FROM shards WHERE stream_id=?",
        "DELETE FROM tags WHERE stream_id=?",
        "DELETE FROM streams WHERE id=?",
    };
    return db_exec_each(w, SQL, sizeof SQL / sizeof *SQL, stream_id);
}

int db_tags_put(struct db_conn *w, int64_t stream_id, const struct db_tag *tags, unsigned n)
{
    int rc = TP_OK;
    for (unsigned i = 0; i < n && rc == TP_OK; i++) {
        sqlite3_stmt *st = db_stmt(w, "INSERT OR REPLACE INTO tags(stream_id, key, value) VALUES(?,?,?)");
        sqlite3_bind_int64(st, 1, stream_id);
        sqlite3_bind_text(st, 2, tags[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, tags[i].value ? tags[i].value : "", -1, SQLITE_STATIC);
        rc = db_step_done(st);
    }
    return rc;
}

int db_tags_remove(struct db_conn *w, int64_t stream_id, const char *const *keys, unsigned n)
{
    int rc = TP_OK;
    for (unsigned i = 0; i < n && rc == TP_OK; i++) {
        sqlite3_stmt *st = db_stmt(w, "DELETE FROM tags WHERE stream_id=? AND key=?");
        sqlite3_bind_int64(st, 1, stream_id);
        sqlite3_bind_text(st, 2, keys[i], -1, SQLITE_STATIC);
        rc = db_step_done(st);
    }
    return rc;
}

int db_streams_tick(struct db_conn *w, void *at)
{
    sqlite3_stmt *st;
    int64_t gone[64];
    unsigned n = 0;
    int rc = TP_OK;
    uint64_t now = at ? *(const uint64_t *)at : db_now_ms();

    st = db_stmt(w, "SELECT id FROM streams WHERE status='DELETING' AND status_until_ms<=? LIMIT 64");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
        gone[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (unsigned i = 0; i < n && rc == TP_OK; i++)
        rc = db_stream_remove(w, gone[i]);

    /* Retention: whole segments past the cut-off go; readers hide the records
     * of a segment as soon as they pass it, so trimming can lag. */
    st = db_stmt(w,
        "DELETE FROM segments WHERE id IN (SELECT g.id FROM streams s JOIN shards sh ON sh.stream_id=s.id "
        "JOIN segments g ON g.shard_id=sh.id AND g.arrival_ms < ?1 - s.retention_hours*3600000 LIMIT 10000)");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    if (rc == TP_OK)
        rc = db_step_done(st);
    return rc;
}
