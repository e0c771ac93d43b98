/* S3 multipart uploads and their parts; see uploads.h and the table notes in
 * schema.c (uploads, parts; blobs for the link counts).
 *
 * Links: a parts row holds one link on its blob (blobs.refs), taken by the
 * job that inserts the row and dropped by the job that replaces or deletes
 * it (storage/blobs.h). A pending upload's blobs are thus linked and survive
 * the sweep at open, and the job that drops a part's last link frees its
 * blob: a re-upload of the part number, an abort, or a complete that does
 * not use the part. A complete that does use it links it from the object
 * first (db_object_put), so the blob outlives its parts row with refs 1.
 *
 * Races: a part streams into its blob before the job that stores its row
 * runs, and a complete reads the parts (on a reader) before its job runs.
 * Meanwhile the upload may be completed or aborted (TP_ENOTFOUND: the caller
 * discards the part's blob), or a part re-uploaded, which frees the blob a
 * pending complete means to use: the complete job checks that every extent
 * is still a part of the upload and otherwise fails without changing
 * anything, instead of storing an object whose bytes are gone.
 *
 * Writers: only db_write jobs. Readers: any connection. */
#include "storage/uploads.h"
#include "storage/blobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PART_NUMBER 10000   /* as S3; the caller validates, storage refuses */

#define UPLOAD_COLS "upload_id, bucket_id, key, created_ms, headers, tags, checksum_alg"
#define PART_COLS "part_number, blob, size, etag, checksum, last_modified_ms"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ---- readers ---- */

/* Fills u from a row of UPLOAD_COLS; its strings point into the row. */
static void upload_from_row(sqlite3_stmt *st, struct db_upload *u)
{
    db_col_text(st, 0, u->upload_id, sizeof u->upload_id);
    u->bucket_id = sqlite3_column_int64(st, 1);
    u->key = (char *)sqlite3_column_text(st, 2);
    u->created_ms = (uint64_t)sqlite3_column_int64(st, 3);
    u->headers = (char *)sqlite3_column_text(st, 4);
    u->tags = (char *)sqlite3_column_text(st, 5);
    db_col_text(st, 6, u->checksum_alg, sizeof u->checksum_alg);
}

void db_upload_free(struct db_upload *u)
{
    free(u->key);
    free(u->headers);
    free(u->tags);
    u->key = u->headers = u->tags = NULL;
}

int db_upload_get(struct db_conn *c, const char *upload_id, struct db_upload *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " UPLOAD_COLS " FROM uploads WHERE upload_id=?");
    memset(out, 0, sizeof *out);
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK) {
        upload_from_row(st, out);
        out->key = dup_or_null(out->key);
        out->headers = dup_or_null(out->headers);
        out->tags = dup_or_null(out->tags);
        /* a NULL where the row has a value: out of memory */
        if (!out->key || (sqlite3_column_type(st, 4) != SQLITE_NULL && !out->headers) ||
            (sqlite3_column_type(st, 5) != SQLITE_NULL && !out->tags))
            rc = TP_EIO;
    }
    sqlite3_reset(st);
    if (rc != TP_OK)
        db_upload_free(out);
    return rc;
}

/* The primary key (upload_id, part_number) is the order: no sort. */
int db_upload_parts(struct db_conn *c, const char *upload_id, unsigned after,
                    int (*cb)(void *ctx, const struct db_part *p), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " PART_COLS " FROM parts WHERE upload_id=? AND part_number>? "
                                  "ORDER BY part_number");
    struct db_part p;
    int step;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        p.part_number = (unsigned)sqlite3_column_int64(st, 0);
        p.ext.blob = sqlite3_column_int64(st, 1);
        p.ext.size = (uint64_t)sqlite3_column_int64(st, 2);
        db_col_text(st, 3, p.etag, sizeof p.etag);
        db_col_text(st, 4, p.checksum, sizeof p.checksum);
        p.last_modified_ms = (uint64_t)sqlite3_column_int64(st, 5);
        if (cb(ctx, &p))
            break;
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? TP_OK : TP_EIO;
}

/* Where a listing starts, on uploads_by_key (bucket_id, key, created_ms):
 * at the first key >= ?2, after every upload of key ?2, or after the upload
 * (?2, ?3, ?4) in listing order. The index orders ties of created_ms by
 * rowid, not upload_id, so SQLite sorts each such run (tiny) itself. */
static const char LIST_FROM_KEY[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE bucket_id=?1 AND key>=?2 ORDER BY key, created_ms, upload_id";
static const char LIST_AFTER_KEY[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE bucket_id=?1 AND key>?2 ORDER BY key, created_ms, upload_id";
static const char LIST_AFTER_UPLOAD[] =
    "SELECT " UPLOAD_COLS " FROM uploads WHERE bucket_id=?1 AND (key, created_ms, upload_id)>(?2, ?3, ?4) "
    "ORDER BY key, created_ms, upload_id";

/* created_ms of the marker upload, which must be of this bucket and key. */
static int marker_created(struct db_conn *c, int64_t bucket_id, const char *key, const char *upload_id,
                          int64_t *ms)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT created_ms FROM uploads WHERE upload_id=? AND bucket_id=? AND key=?");
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, bucket_id);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK)
        *ms = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

/* The scan starts at the position the markers name and stops at the first
 * key without the prefix, as db_objects_list does. As in S3, the upload
 * marker counts only with a key marker, and a key marker alone means "keys
 * after it". A key marker before the prefix names no matching upload, so the
 * scan starts at the prefix. An upload marker that names no upload of that
 * key (typically completed or aborted between two pages: a client that
 * aborts what each page lists) has no position in the order: the listing
 * restarts at the key's first upload, which may repeat uploads but never
 * skips one created after the marker. */
int db_uploads_list(struct db_conn *c, int64_t bucket_id, const char *prefix, const char *key_marker,
                    const char *upload_id_marker, int (*cb)(void *ctx, const struct db_upload *u), void *ctx)
{
    const char *sql = LIST_FROM_KEY, *from = prefix;
    size_t plen = strlen(prefix);
    int64_t ms = 0;
    int rc = TP_OK, step = SQLITE_DONE;
    struct db_upload u;

    if (*key_marker && strcmp(key_marker, prefix) >= 0) {
        from = key_marker;
        sql = LIST_AFTER_KEY;
        if (*upload_id_marker) {
            rc = marker_created(c, bucket_id, key_marker, upload_id_marker, &ms);
            sql = rc == TP_OK ? LIST_AFTER_UPLOAD : LIST_FROM_KEY;
            if (rc == TP_ENOTFOUND)
                rc = TP_OK;
        }
    }
    if (rc == TP_OK) {
        sqlite3_stmt *st = db_stmt(c, sql);
        sqlite3_bind_int64(st, 1, bucket_id);
        sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
        if (sql == LIST_AFTER_UPLOAD) {
            sqlite3_bind_int64(st, 3, ms);
            sqlite3_bind_text(st, 4, upload_id_marker, -1, SQLITE_STATIC);
        }
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            upload_from_row(st, &u);
            if (!u.key) {
                rc = TP_EIO;
                break;
            }
            if (!db_column_has_prefix(st, 2, prefix, plen) || cb(ctx, &u))
                break;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = TP_EIO;
        sqlite3_reset(st);
    }
    return rc;
}

/* ---- writer side ---- */

int db_upload_create(struct db_conn *w, const struct db_upload *u)
{
    /* the bucket may have been deleted since the request looked it up */
    sqlite3_stmt *st = db_stmt(w, "INSERT INTO uploads(" UPLOAD_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
                                  "WHERE EXISTS(SELECT 1 FROM buckets WHERE id=?2)");
    sqlite3_bind_text(st, 1, u->upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, u->bucket_id);
    sqlite3_bind_text(st, 3, u->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)u->created_ms);
    sqlite3_bind_text(st, 5, u->headers, -1, SQLITE_STATIC);   /* NULL binds NULL */
    sqlite3_bind_text(st, 6, u->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, u->checksum_alg, -1, SQLITE_STATIC);
    int rc = db_step_done(st);
    return rc == TP_OK && sqlite3_changes(w->db) == 0 ? TP_ENOTFOUND : rc;
}

/* TP_OK when the upload exists and, with o, is an upload of o's bucket and
 * key: S3 answers NoSuchUpload for an upload id of another key. */
static int upload_check(struct db_conn *w, const char *upload_id, const struct db_object *o)
{
    sqlite3_stmt *st = db_stmt(w, "SELECT 1 FROM uploads WHERE upload_id=?1 "
                                  "AND (?2 IS NULL OR (bucket_id=?2 AND key=?3))");
    int rc;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    if (o) {
        sqlite3_bind_int64(st, 2, o->bucket_id);
        sqlite3_bind_text(st, 3, o->key, -1, SQLITE_STATIC);
    }
    rc = db_step_row(st);
    sqlite3_reset(st);
    return rc;
}

/* The new blob is linked before the replaced one is unlinked: were they the
 * same blob, unlinking first would free it while the new row points at it.
 * A part number out of range or an extent that is not a finished blob of
 * its size is a bug upstream and refused (TP_EIO). */
int db_upload_put_part(struct db_conn *w, const char *upload_id, const struct db_part *p)
{
    int64_t old = 0;
    int replaced = 0;
    int rc = p->part_number >= 1 && p->part_number <= MAX_PART_NUMBER ? upload_check(w, upload_id, NULL) : TP_EIO;
    sqlite3_stmt *st;

    if (rc == TP_OK) {
        st = db_stmt(w, "SELECT blob FROM parts WHERE upload_id=? AND part_number=?");
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->part_number);
        int got = db_step_row(st);
        if (got == TP_OK) {
            old = sqlite3_column_int64(st, 0);
            replaced = 1;
        } else if (got == TP_EIO) {
            rc = TP_EIO;
        }
        sqlite3_reset(st);
    }
    if (rc == TP_OK) {
        st = db_stmt(w, "INSERT OR REPLACE INTO parts(upload_id, " PART_COLS ") VALUES(?,?,?,?,?,?,?)");
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->part_number);
        sqlite3_bind_int64(st, 3, p->ext.blob);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)p->ext.size);
        sqlite3_bind_text(st, 5, p->etag, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, p->checksum, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)p->last_modified_ms);
        rc = db_step_done(st);
    }
    if (rc == TP_OK)
        rc = db_blob_ref(w, &p->ext);
    if (rc == TP_OK && replaced)
        rc = db_blob_unref(w, old);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The blobs of the upload's parts, sorted, into *out (the caller frees it,
 * also on failure). Read whole before any row changes: up to 10,000 ids. */
static int part_blobs(struct db_conn *w, const char *upload_id, int64_t **out, size_t *n)
{
    sqlite3_stmt *st = db_stmt(w, "SELECT blob FROM parts WHERE upload_id=?");
    size_t cap = 0;
    int step, rc = TP_OK;
    *out = NULL;
    *n = 0;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            int64_t *grown = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof **out);
            if (!grown) {
                rc = TP_EIO;
                break;
            }
            *out = grown;
        }
        (*out)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc == TP_OK && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    if (rc == TP_OK && *n) /* qsort and bsearch take no NULL array, even empty */
        qsort(*out, *n, sizeof **out, cmp_i64);
    return rc;
}

/* Deletes the parts rows and the upload row, unlinking the parts' blobs. */
static int upload_remove(struct db_conn *w, const char *upload_id, const int64_t *blobs, size_t n)
{
    sqlite3_stmt *st = db_stmt(w, "DELETE FROM parts WHERE upload_id=?");
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    int rc = db_step_done(st);
    for (size_t i = 0; i < n && rc == TP_OK; i++)
        rc = db_blob_unref(w, blobs[i]);
    if (rc == TP_OK) {
        st = db_stmt(w, "DELETE FROM uploads WHERE upload_id=?");
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        rc = db_step_done(st);
    }
    return rc;
}

/* The object links the blobs it uses before the parts rows unlink every
 * part's blob: the used ones end with the object's link only, the others
 * with none, which frees them. An extent that is no part of the upload (a
 * part re-uploaded since the caller read the parts, or a bug upstream) fails
 * the job (TP_EIO), and its savepoint undoes whatever was changed. */
int db_upload_complete(struct db_conn *w, const char *upload_id, const struct db_object *o)
{
    int64_t *blobs = NULL;
    size_t n = 0;
    int rc = upload_check(w, upload_id, o);
    if (rc == TP_OK)
        rc = part_blobs(w, upload_id, &blobs, &n);
    for (unsigned i = 0; i < o->n_extents && rc == TP_OK; i++)
        if (!n || !bsearch(&o->extents[i].blob, blobs, n, sizeof *blobs, cmp_i64))
            rc = TP_EIO;
    if (rc == TP_OK)
        rc = db_object_put(w, o);
    if (rc == TP_OK)
        rc = upload_remove(w, upload_id, blobs, n);
    free(blobs);
    return rc;
}

int db_upload_abort(struct db_conn *w, const char *upload_id)
{
    int64_t *blobs = NULL;
    size_t n = 0;
    int rc = upload_check(w, upload_id, NULL);
    if (rc == TP_OK)
        rc = part_blobs(w, upload_id, &blobs, &n);
    if (rc == TP_OK)
        rc = upload_remove(w, upload_id, blobs, n);
    free(blobs);
    return rc;
}
