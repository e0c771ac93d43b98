/* S3 buckets, objects and their bytes; see objects.h and the table notes in
 * schema.c (buckets, objects, blobs, chunks, uploads, parts).
 *
 * Bytes: a blob is a row in blobs plus 1 MiB rows in chunks whose ids are
 * blob_id << 23 | index, so "the chunks of blob b" is a rowid range and chunk
 * k of a blob holds bytes [k MiB, (k+1) MiB). An object lists whole blobs as
 * extents. Each blob counts its links (blobs.refs: object extents and parts
 * rows); the job that drops the last link deletes the blob and its chunks.
 *
 * Crash story: an upload commits chunk by chunk, each chunk its own writer
 * job, into a blob nothing links yet (refs=0). An object appears only with the
 * job that links its blobs (db_object_put), which commits or not as a whole. A
 * crash in between leaves only an unlinked blob, which db_objects_sweep
 * removes at the next open, before any request is served; while the server
 * runs it must not, since an upload in progress looks exactly the same. An
 * overwrite links the new blobs, replaces the row and frees the old blobs in
 * one transaction. A reader that holds a read transaction (db_read_begin)
 * keeps its snapshot in WAL mode: the old row and old chunks stay readable to
 * it until db_read_end, however many jobs commit meanwhile.
 *
 * Reads use incremental blob I/O (sqlite3_blob_read): it copies just the
 * requested range of a chunk straight into the caller's buffer, where
 * SELECT data would copy the whole 1 MiB chunk first. The handle is opened
 * per call and moved from chunk to chunk (sqlite3_blob_reopen), never kept
 * between calls: an open handle holds a read transaction.
 *
 * Writers: only db_write jobs (the writer thread); db_blob_* run the jobs. */
#include "storage/objects.h"
#include "storage/blobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BITS 23                 /* chunk index bits in a chunk id; also in the sweep's SQL */
#define MAX_CHUNKS (1LL << CHUNK_BITS)
#define MAX_BLOB_ID (1LL << (63 - CHUNK_BITS))
#define EXTENT_BYTES 16

static int64_t chunk_id(int64_t blob, int64_t ix) { return blob << CHUNK_BITS | ix; }

static void put_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- buckets ---- */

static void bucket_from_row(sqlite3_stmt *st, struct db_bucket *b)
{
    b->id = sqlite3_column_int64(st, 0);
    db_col_text(st, 1, b->name, sizeof b->name);
    db_col_text(st, 2, b->region, sizeof b->region);
    b->created_ms = (uint64_t)sqlite3_column_int64(st, 3);
}

int db_bucket_get(struct db_conn *c, const char *name, struct db_bucket *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT id, name, region, created_ms FROM buckets WHERE name=?");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK)
        bucket_from_row(st, out);
    sqlite3_reset(st);
    return rc;
}

int db_buckets_list(struct db_conn *c, int (*cb)(void *ctx, const struct db_bucket *b), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT id, name, region, created_ms FROM buckets ORDER BY name");
    struct db_bucket b;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bucket_from_row(st, &b);
        if (cb(ctx, &b))
            break;
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? TP_OK : TP_EIO;
}

int db_bucket_create(struct db_conn *w, const char *name, const char *region, uint64_t now)
{
    sqlite3_stmt *st = db_stmt(w, "INSERT INTO buckets(name, region, created_ms) VALUES(?,?,?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    return db_step_done(st);
}

int db_bucket_delete(struct db_conn *w, const char *name)
{
    struct db_bucket b;
    int rc = db_bucket_get(w, name, &b);
    if (rc != TP_OK)
        return rc;
    /* both probes are the first row of an index range: (bucket_id, key) */
    sqlite3_stmt *st = db_stmt(w, "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket_id=?1) "
                                  "OR EXISTS(SELECT 1 FROM uploads WHERE bucket_id=?1)");
    sqlite3_bind_int64(st, 1, b.id);
    if (sqlite3_step(st) != SQLITE_ROW)
        rc = TP_EIO;
    else if (sqlite3_column_int(st, 0))
        rc = TP_ENOTEMPTY;
    sqlite3_reset(st);
    if (rc != TP_OK)
        return rc;
    st = db_stmt(w, "DELETE FROM buckets WHERE id=?");
    sqlite3_bind_int64(st, 1, b.id);
    return db_step_done(st);
}

/* ---- blobs, writer side ---- */

/* Deletes a blob and its chunks, whatever its count. */
static int blob_drop(struct db_conn *w, int64_t blob)
{
    sqlite3_stmt *st = db_stmt(w, "DELETE FROM chunks WHERE id>=? AND id<?");
    int rc;
    sqlite3_bind_int64(st, 1, chunk_id(blob, 0));
    sqlite3_bind_int64(st, 2, chunk_id(blob + 1, 0));
    if ((rc = db_step_done(st)) != TP_OK)
        return rc;
    st = db_stmt(w, "DELETE FROM blobs WHERE id=?");
    sqlite3_bind_int64(st, 1, blob);
    return db_step_done(st);
}

/* Adds a link to a finished blob of exactly this size: linking a blob that
 * is missing, unfinished or of another size is a bug upstream, and is
 * refused rather than stored as an object that cannot be read. */
int db_blob_ref(struct db_conn *w, const struct db_extent *e)
{
    sqlite3_stmt *st = db_stmt(w, "UPDATE blobs SET refs=refs+1 WHERE id=? AND size=?");
    sqlite3_bind_int64(st, 1, e->blob);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->size);
    int rc = db_step_done(st);
    return rc == TP_OK && sqlite3_changes(w->db) != 1 ? TP_EIO : rc;
}

/* Drops a link; the last one takes the blob along. */
int db_blob_unref(struct db_conn *w, int64_t blob)
{
    sqlite3_stmt *st = db_stmt(w, "UPDATE blobs SET refs=refs-1 WHERE id=?");
    int rc;
    sqlite3_bind_int64(st, 1, blob);
    if ((rc = db_step_done(st)) != TP_OK)
        return rc;
    st = db_stmt(w, "SELECT refs FROM blobs WHERE id=?");
    sqlite3_bind_int64(st, 1, blob);
    int gone = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) <= 0;
    sqlite3_reset(st);
    return gone ? blob_drop(w, blob) : TP_OK;
}

struct db_blob_writer {
    int64_t id;           /* 0 until the first chunk is committed */
    int64_t next_ix;      /* index of the chunk being filled in buf */
    size_t fill;          /* bytes in buf */
    int rc;               /* first failure; every later call returns it */
    unsigned char buf[DB_CHUNK_SIZE];
};

struct chunk_job {
    int64_t *blob;        /* 0: create the blob first (its first chunk) */
    int64_t ix;
    const void *data;
    size_t n;
    int finish;           /* also record the blob's size */
    uint64_t size;
    /* with finish: what links the blob, run in the same transaction */
    int (*link)(struct db_conn *w, const struct db_extent *ext, void *ctx);
    void *link_ctx;
};

static int blob_new(struct db_conn *w, int64_t *id)
{
    sqlite3_stmt *st = db_stmt(w, "INSERT INTO blobs(created_ms) VALUES(?)");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)db_now_ms());
    int rc = db_step_done(st);
    *id = sqlite3_last_insert_rowid(w->db);
    return rc == TP_OK && *id >= MAX_BLOB_ID ? TP_EIO : rc;
}

/* Stores one chunk, and with finish the size (and runs link). The blob is
 * created with its first chunk, so a body of one chunk or less costs one
 * transaction in all. The chunk goes in only while its blob exists
 * unfinished: a writer that outlived its blob (swept at a reopen, or
 * finished) must not leave chunks nothing will ever delete. */
static int chunk_job(struct db_conn *w, void *ctx)
{
    struct chunk_job *j = ctx;
    sqlite3_stmt *st;
    int64_t created = 0;
    int rc = TP_OK;
    if (!*j->blob && (rc = blob_new(w, &created)) != TP_OK)
        return rc;
    int64_t blob = *j->blob ? *j->blob : created;
    if (j->n) {
        st = db_stmt(w, "INSERT INTO chunks(id, data) SELECT ?1, ?2 "
                        "WHERE EXISTS(SELECT 1 FROM blobs WHERE id=?3 AND size IS NULL)");
        sqlite3_bind_int64(st, 1, chunk_id(blob, j->ix));
        sqlite3_bind_blob(st, 2, j->data, (int)j->n, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, blob);
        if ((rc = db_step_done(st)) == TP_OK && sqlite3_changes(w->db) != 1)
            rc = TP_ENOTFOUND;
    }
    if (rc == TP_OK && j->finish) {
        st = db_stmt(w, "UPDATE blobs SET size=? WHERE id=? AND size IS NULL");
        sqlite3_bind_int64(st, 1, (sqlite3_int64)j->size);
        sqlite3_bind_int64(st, 2, blob);
        if ((rc = db_step_done(st)) == TP_OK && sqlite3_changes(w->db) != 1)
            rc = TP_ENOTFOUND;
    }
    struct db_extent ext = {blob, j->size};
    if (rc == TP_OK && j->finish && j->link)
        rc = j->link(w, &ext, j->link_ctx);
    /* the caller keeps the new id only when the job (and so the blob) commits */
    if (rc == TP_OK && created)
        *j->blob = created;
    return rc;
}

static int blob_drop_job(struct db_conn *w, void *ctx)
{
    return blob_drop(w, *(int64_t *)ctx);
}

struct db_blob_writer *db_blob_begin(void)
{
    struct db_blob_writer *bw = malloc(sizeof *bw);
    if (!bw)
        return NULL;
    bw->id = 0;
    bw->next_ix = 0;
    bw->fill = 0;
    bw->rc = TP_OK;
    return bw;
}

/* Commits n bytes as chunk next_ix (a full chunk unless it is the last). */
static int commit_chunk(struct db_blob_writer *bw, const void *data, size_t n, int finish,
                        int (*link)(struct db_conn *, const struct db_extent *, void *), void *link_ctx)
{
    int64_t id = bw->id;
    struct chunk_job j = {&id, bw->next_ix, data, n, finish, (uint64_t)bw->next_ix * DB_CHUNK_SIZE + n,
                          link, link_ctx};
    if (bw->next_ix >= MAX_CHUNKS && n)
        return TP_EIO; /* past 8 TiB */
    int rc = db_write(chunk_job, &j);
    if (rc == TP_OK) {
        bw->id = id; /* a blob created by a job that rolled back never existed */
        if (n == DB_CHUNK_SIZE)
            bw->next_ix++;
    }
    return rc;
}

int db_blob_write(struct db_blob_writer *bw, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (bw->rc == TP_OK && n) {
        /* whole chunks of the caller's buffer go in without a copy */
        if (!bw->fill && n >= DB_CHUNK_SIZE) {
            bw->rc = commit_chunk(bw, p, DB_CHUNK_SIZE, 0, NULL, NULL);
            p += DB_CHUNK_SIZE;
            n -= DB_CHUNK_SIZE;
            continue;
        }
        size_t take = DB_CHUNK_SIZE - bw->fill < n ? DB_CHUNK_SIZE - bw->fill : n;
        memcpy(bw->buf + bw->fill, p, take);
        bw->fill += take;
        p += take;
        n -= take;
        if (bw->fill == DB_CHUNK_SIZE) {
            bw->rc = commit_chunk(bw, bw->buf, DB_CHUNK_SIZE, 0, NULL, NULL);
            bw->fill = 0;
        }
    }
    return bw->rc;
}

int db_blob_finish_with(struct db_blob_writer *bw, int (*link)(struct db_conn *w, const struct db_extent *ext, void *ctx),
                        void *ctx, struct db_extent *ext)
{
    int rc = bw->rc;
    if (rc == TP_OK)
        rc = commit_chunk(bw, bw->buf, bw->fill, 1, link, ctx);
    if (rc == TP_OK) {
        ext->blob = bw->id;
        ext->size = (uint64_t)bw->next_ix * DB_CHUNK_SIZE + bw->fill;
    } else if (bw->id) {
        db_write(blob_drop_job, &bw->id); /* if this fails too, the sweep at the next open does it */
    }
    free(bw);
    return rc;
}

int db_blob_finish(struct db_blob_writer *bw, struct db_extent *ext)
{
    return db_blob_finish_with(bw, NULL, NULL, ext);
}

void db_blob_abort(struct db_blob_writer *bw)
{
    if (!bw)
        return;
    /* nothing to drop before the first chunk; if the drop fails, the sweep
     * at the next open removes the blob */
    if (bw->id)
        db_write(blob_drop_job, &bw->id);
    free(bw);
}

/* ---- blobs, reader side ---- */

int db_blob_read(struct db_conn *c, const struct db_extent *ext, unsigned n_ext, uint64_t off, void *buf,
                 size_t n, size_t *got)
{
    sqlite3_blob *h = NULL;
    unsigned char *p = buf;
    size_t done = 0;
    unsigned i = 0;
    int rc = TP_OK;

    while (i < n_ext && off >= ext[i].size)
        off -= ext[i++].size;
    while (done < n && i < n_ext) {
        int64_t row = chunk_id(ext[i].blob, (int64_t)(off / DB_CHUNK_SIZE));
        int in = (int)(off % DB_CHUNK_SIZE);
        size_t take = n - done;
        if (take > DB_CHUNK_SIZE - (size_t)in)
            take = DB_CHUNK_SIZE - (size_t)in;
        if (take > ext[i].size - off)
            take = (size_t)(ext[i].size - off);
        int o = h ? sqlite3_blob_reopen(h, row) : sqlite3_blob_open(c->db, "main", "chunks", "data", row, 0, &h);
        /* a missing or short chunk: the object changed under a reader that
         * holds no read transaction, or the database is damaged */
        if (o != SQLITE_OK || (size_t)sqlite3_blob_bytes(h) < in + take ||
            sqlite3_blob_read(h, p + done, (int)take, in) != SQLITE_OK) {
            rc = TP_EIO;
            break;
        }
        done += take;
        off += take;
        if (off == ext[i].size) {
            off = 0;
            i++;
        }
    }
    sqlite3_blob_close(h); /* also after a failed open, which may leave a handle */
    *got = done;
    return rc;
}

int db_read_begin(struct db_conn *c)
{
    /* BEGIN is deferred: the snapshot is taken by the first read, so read */
    sqlite3_stmt *st = db_stmt(c, "BEGIN");
    int rc = db_step_done(st);
    if (rc == TP_OK) {
        st = db_stmt(c, "SELECT 1 FROM buckets LIMIT 1");
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = TP_EIO;
            db_step_done(db_stmt(c, "ROLLBACK"));
        }
    }
    return rc;
}

void db_read_end(struct db_conn *c)
{
    if (!sqlite3_get_autocommit(c->db) && db_step_done(db_stmt(c, "COMMIT")) != TP_OK)
        db_step_done(db_stmt(c, "ROLLBACK"));
}

/* ---- objects ---- */

#define OBJECT_COLS "id, bucket_id, key, size, last_modified_ms, etag, checksum_alg, checksum, headers, tags"

/* Fills o from a row of OBJECT_COLS; its strings point into the row. */
static void object_from_row(sqlite3_stmt *st, struct db_object *o)
{
    o->id = sqlite3_column_int64(st, 0);
    o->bucket_id = sqlite3_column_int64(st, 1);
    o->key = (char *)sqlite3_column_text(st, 2);
    o->size = (uint64_t)sqlite3_column_int64(st, 3);
    o->last_modified_ms = (uint64_t)sqlite3_column_int64(st, 4);
    db_col_text(st, 5, o->etag, sizeof o->etag);
    db_col_text(st, 6, o->checksum_alg, sizeof o->checksum_alg);
    db_col_text(st, 7, o->checksum, sizeof o->checksum);
    o->headers = (char *)sqlite3_column_text(st, 8);
    o->tags = (char *)sqlite3_column_text(st, 9);
    o->extents = NULL;
    o->n_extents = 0;
}

static int extents_unpack(const unsigned char *p, int bytes, struct db_extent **out, unsigned *n)
{
    unsigned k = (unsigned)bytes / EXTENT_BYTES;
    struct db_extent *e = malloc((k ? k : 1) * sizeof *e);
    if (!e || bytes % EXTENT_BYTES) {
        free(e);
        return TP_EIO;
    }
    for (unsigned i = 0; i < k; i++, p += EXTENT_BYTES) {
        e[i].blob = (int64_t)get_le(p);
        e[i].size = get_le(p + 8);
    }
    *out = e;
    *n = k;
    return TP_OK;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int db_object_get(struct db_conn *c, int64_t bucket_id, const char *key, struct db_object *out)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT " OBJECT_COLS ", extents FROM objects WHERE bucket_id=? AND key=?");
    memset(out, 0, sizeof *out);
    sqlite3_bind_int64(st, 1, bucket_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK) {
        object_from_row(st, out);
        out->key = dup_or_null(out->key);
        out->headers = dup_or_null(out->headers);
        out->tags = dup_or_null(out->tags);
        rc = extents_unpack(sqlite3_column_blob(st, 10), sqlite3_column_bytes(st, 10), &out->extents,
                            &out->n_extents);
        if (rc == TP_OK && (!out->key || (sqlite3_column_type(st, 8) != SQLITE_NULL && !out->headers) ||
                            (sqlite3_column_type(st, 9) != SQLITE_NULL && !out->tags)))
            rc = TP_EIO;
    }
    sqlite3_reset(st);
    if (rc != TP_OK)
        db_object_free(out);
    return rc;
}

void db_object_free(struct db_object *o)
{
    free(o->key);
    free(o->headers);
    free(o->tags);
    free(o->extents);
    o->key = o->headers = o->tags = NULL;
    o->extents = NULL;
    o->n_extents = 0;
}

/* The scan starts at max(after, prefix) on the (bucket_id, key) index and
 * stops at the first key without the prefix: keys sharing a prefix are one
 * contiguous run in byte order, so nothing past it can match, and no upper
 * bound string (awkward with 0xFF bytes and invalid as UTF-8 TEXT) is needed. */
int db_objects_list(struct db_conn *c, int64_t bucket_id, const char *prefix, const char *after,
                    int (*cb)(void *ctx, const struct db_object *o), void *ctx)
{
    int from_prefix = strcmp(after, prefix) < 0;
    sqlite3_stmt *st = db_stmt(c, from_prefix
        ? "SELECT " OBJECT_COLS " FROM objects WHERE bucket_id=? AND key>=? ORDER BY key"
        : "SELECT " OBJECT_COLS " FROM objects WHERE bucket_id=? AND key>? ORDER BY key");
    size_t plen = strlen(prefix);
    struct db_object o;
    int step, rc = TP_OK;
    sqlite3_bind_int64(st, 1, bucket_id);
    sqlite3_bind_text(st, 2, from_prefix ? prefix : after, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        object_from_row(st, &o);
        if (!o.key) {
            rc = TP_EIO;
            break;
        }
        if (!db_column_has_prefix(st, 2, prefix, plen) || cb(ctx, &o))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    return rc;
}

/* The id and extents of (bucket_id, key); TP_ENOTFOUND when absent. */
static int object_extents(struct db_conn *w, int64_t bucket_id, const char *key, int64_t *id,
                          struct db_extent **ext, unsigned *n)
{
    sqlite3_stmt *st = db_stmt(w, "SELECT id, extents FROM objects WHERE bucket_id=? AND key=?");
    sqlite3_bind_int64(st, 1, bucket_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK) {
        *id = sqlite3_column_int64(st, 0);
        rc = extents_unpack(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), ext, n);
    }
    sqlite3_reset(st);
    return rc;
}

/* Links the new blobs before unlinking the old ones, so a put that reuses a
 * blob of the object it replaces keeps it. Any failure fails the job, whose
 * savepoint undoes the counts already changed. */
int db_object_put(struct db_conn *w, const struct db_object *o)
{
    /* never NULL for no extents: a NULL blob would bind NULL */
    unsigned char *packed = malloc(o->n_extents ? (size_t)o->n_extents * EXTENT_BYTES : 1);
    struct db_extent *old = NULL;
    unsigned n_old = 0;
    int64_t old_id;
    uint64_t total = 0;
    int rc;

    /* the bucket may have been deleted since the request looked it up */
    sqlite3_stmt *st = db_stmt(w, "SELECT 1 FROM buckets WHERE id=?");
    sqlite3_bind_int64(st, 1, o->bucket_id);
    rc = db_step_row(st);
    if (rc == TP_OK && !packed)
        rc = TP_EIO;
    sqlite3_reset(st);
    for (unsigned i = 0; i < o->n_extents && rc == TP_OK; i++) {
        put_le(packed + i * EXTENT_BYTES, (uint64_t)o->extents[i].blob);
        put_le(packed + i * EXTENT_BYTES + 8, o->extents[i].size);
        total += o->extents[i].size;
        rc = db_blob_ref(w, &o->extents[i]);
    }
    if (rc == TP_OK && total != o->size)
        rc = TP_EIO;
    if (rc == TP_OK && (rc = object_extents(w, o->bucket_id, o->key, &old_id, &old, &n_old)) == TP_ENOTFOUND)
        rc = TP_OK;
    if (rc == TP_OK) {
        st = db_stmt(w,
            "INSERT INTO objects(bucket_id, key, size, last_modified_ms, etag, checksum_alg, checksum, "
            "headers, tags, extents) VALUES(?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(bucket_id, key) DO UPDATE SET size=excluded.size, "
            "last_modified_ms=excluded.last_modified_ms, etag=excluded.etag, "
            "checksum_alg=excluded.checksum_alg, checksum=excluded.checksum, headers=excluded.headers, "
            "tags=excluded.tags, extents=excluded.extents");
        sqlite3_bind_int64(st, 1, o->bucket_id);
        sqlite3_bind_text(st, 2, o->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)o->size);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)o->last_modified_ms);
        sqlite3_bind_text(st, 5, o->etag, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, o->checksum_alg, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, o->checksum, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, o->headers, -1, SQLITE_STATIC);   /* NULL binds NULL */
        sqlite3_bind_text(st, 9, o->tags, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 10, packed, (int)(o->n_extents * EXTENT_BYTES), SQLITE_STATIC);
        rc = db_step_done(st);
    }
    for (unsigned i = 0; i < n_old && rc == TP_OK; i++)
        rc = db_blob_unref(w, old[i].blob);
    free(old);
    free(packed);
    return rc;
}

int db_object_delete(struct db_conn *w, int64_t bucket_id, const char *key)
{
    struct db_extent *ext = NULL;
    unsigned n = 0;
    int64_t id;
    int rc = object_extents(w, bucket_id, key, &id, &ext, &n);
    if (rc == TP_OK) {
        sqlite3_stmt *st = db_stmt(w, "DELETE FROM objects WHERE id=?");
        sqlite3_bind_int64(st, 1, id);
        rc = db_step_done(st);
    }
    for (unsigned i = 0; i < n && rc == TP_OK; i++)
        rc = db_blob_unref(w, ext[i].blob);
    free(ext);
    return rc;
}

int db_object_set_tags(struct db_conn *w, int64_t bucket_id, const char *key, const char *tags_json)
{
    sqlite3_stmt *st = db_stmt(w, "UPDATE objects SET tags=? WHERE bucket_id=? AND key=?");
    sqlite3_bind_text(st, 1, tags_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, bucket_id);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    int rc = db_step_done(st);
    return rc == TP_OK && sqlite3_changes(w->db) == 0 ? TP_ENOTFOUND : rc;
}

/* Every blob without a link: cut-off uploads and finished blobs whose put
 * never committed. Only at open: while requests run, an upload in progress
 * is such a blob too. Each blob's chunks are found by rowid range. */
int db_objects_sweep(struct db_conn *w, void *unused)
{
    static const char *const SQL[] = {
        "DELETE FROM chunks WHERE id IN (SELECT c.id FROM blobs b JOIN chunks c "
        "ON c.id>=b.id<<23 AND c.id<(b.id+1)<<23 WHERE b.refs<=0)",
        "DELETE FROM blobs WHERE refs<=0",
    };
    int rc;
    (void)unused;
    if ((rc = db_step_done(db_stmt(w, SQL[0]))) != TP_OK)
        return rc;
    return db_step_done(db_stmt(w, SQL[1]));
}
