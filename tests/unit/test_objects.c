/* S3 storage without HTTP: buckets, blobs written in odd pieces and read back
 * across chunk and extent boundaries, object put/replace/delete freeing their
 * chunks, listings in byte order with prefix and after, the sweep of unlinked
 * blobs at reopen, and a read transaction that keeps its snapshot while the
 * object is replaced. */
#include "storage/db.h"
#include "storage/objects.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

/* ---- jobs ---- */

struct bucket_job { const char *name, *region; };

static int bucket_create_job(struct db_conn *w, void *ctx)
{
    struct bucket_job *j = ctx;
    return db_bucket_create(w, j->name, j->region, 1700000000000ULL);
}

static int bucket_delete_job(struct db_conn *w, void *ctx) { return db_bucket_delete(w, ctx); }

static int put_job(struct db_conn *w, void *ctx) { return db_object_put(w, ctx); }

struct puts { struct db_object *o; unsigned n; };

static int put_many_job(struct db_conn *w, void *ctx)
{
    struct puts *p = ctx;
    int rc = TP_OK;
    for (unsigned i = 0; i < p->n && rc == TP_OK; i++)
        rc = db_object_put(w, &p->o[i]);
    return rc;
}

struct key_job { int64_t bucket; const char *key, *tags; };

static int delete_job(struct db_conn *w, void *ctx)
{
    struct key_job *j = ctx;
    return db_object_delete(w, j->bucket, j->key);
}

static int tags_job(struct db_conn *w, void *ctx)
{
    struct key_job *j = ctx;
    return db_object_set_tags(w, j->bucket, j->key, j->tags);
}

/* No upload functions yet: a bare row is enough for DeleteBucket's check. */
static int upload_job(struct db_conn *w, void *ctx)
{
    sqlite3_stmt *st = db_stmt(w, "INSERT INTO uploads(upload_id, bucket_id, key, created_ms) "
                                  "VALUES('u1', ?, 'k', 0)");
    sqlite3_bind_int64(st, 1, *(int64_t *)ctx);
    int rc = sqlite3_step(st) == SQLITE_DONE ? TP_OK : TP_EIO;
    sqlite3_reset(st);
    return rc;
}

static int upload_remove_job(struct db_conn *w, void *ctx)
{
    (void)ctx;
    sqlite3_stmt *st = db_stmt(w, "DELETE FROM uploads");
    int rc = sqlite3_step(st) == SQLITE_DONE ? TP_OK : TP_EIO;
    sqlite3_reset(st);
    return rc;
}

/* The writer connection's secure_delete: off, so freeing a 1 GiB blob does
 * not write 1 GiB of zeros to the WAL (Debian builds SQLite with it on). */
static int secure_delete_job(struct db_conn *w, void *ctx)
{
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(w->db, "PRAGMA secure_delete", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    *(int *)ctx = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return TP_OK;
}

/* ---- helpers ---- */

/* Writes data as a blob in pieces of the given sizes, cycling. */
static struct db_extent write_blob(const unsigned char *data, size_t n, const size_t *pieces, unsigned np)
{
    struct db_blob_writer *bw = db_blob_begin();
    struct db_extent e;
    CHECK(bw);
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t take = pieces[k % np] < n - off ? pieces[k % np] : n - off;
        CHECK(db_blob_write(bw, data + off, take) == TP_OK);
        off += take;
    }
    CHECK(db_blob_finish(bw, &e) == TP_OK);
    CHECK(e.size == n);
    return e;
}

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    CHECK(p);
    test_rand_bytes(p, n);
    return p;
}

/* Reads [off, off+len) and compares with the expected bytes. */
static void check_range(struct db_conn *c, const struct db_extent *e, unsigned ne, const unsigned char *want,
                        size_t total, uint64_t off, size_t len)
{
    static unsigned char buf[6 * MIB];
    size_t got = 12345;
    CHECK(len <= sizeof buf);
    CHECK(db_blob_read(c, e, ne, off, buf, len, &got) == TP_OK);
    size_t expect = off >= total ? 0 : total - off < len ? total - off : len;
    CHECK(got == expect);
    CHECK(!memcmp(buf, want + off, got));
}

static long long chunk_rows(struct db_conn *c, int64_t blob)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT count(*) FROM chunks WHERE id>=? AND id<?");
    sqlite3_bind_int64(st, 1, blob << 23);
    sqlite3_bind_int64(st, 2, (blob + 1) << 23);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

static int blob_row(struct db_conn *c, int64_t blob)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT count(*) FROM blobs WHERE id=?");
    sqlite3_bind_int64(st, 1, blob);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return n;
}

static struct db_object object(int64_t bucket, const char *key, struct db_extent *e, unsigned ne)
{
    struct db_object o = {.bucket_id = bucket, .key = (char *)key, .extents = e, .n_extents = ne,
                          .last_modified_ms = 1700000001000ULL, .headers = "{\"Content-Type\":\"text/plain\"}"};
    for (unsigned i = 0; i < ne; i++)
        o.size += e[i].size;
    snprintf(o.etag, sizeof o.etag, "\"%032x\"", (unsigned)o.size);
    return o;
}

struct names { char v[8][DB_BUCKET_NAME_MAX + 1]; int n; };

static int bucket_name(void *ctx, const struct db_bucket *b)
{
    struct names *n = ctx;
    CHECK(n->n < 8);
    strcpy(n->v[n->n++], b->name);
    return 0;
}

/* ---- listings ---- */

#define NKEYS 3000

struct listing { const char **keys; unsigned n, cap, stop_after; };

static int collect(void *ctx, const struct db_object *o)
{
    struct listing *l = ctx;
    CHECK(l->n < l->cap);
    CHECK(o->extents == NULL && o->size == 0 && !strcmp(o->etag, "\"00000000000000000000000000000000\""));
    l->keys[l->n++] = strdup(o->key);
    return l->stop_after && l->n % l->stop_after == 0;
}

static int count_objects(void *ctx, const struct db_object *o)
{
    (void)o;
    ++*(unsigned *)ctx;
    return 0;
}

static int by_bytes(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The listing of (prefix, after) equals the filtered sorted key set, read in
 * one go and in pages of 97 that resume after the last key. */
static unsigned check_list(struct db_conn *c, int64_t bucket, char **sorted, unsigned n, const char *prefix,
                           const char *after)
{
    const char *want[NKEYS], *got[NKEYS];
    unsigned nw = 0;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(sorted[i], after) > 0 && !strncmp(sorted[i], prefix, strlen(prefix)))
            want[nw++] = sorted[i];

    struct listing l = {got, 0, NKEYS, 0};
    CHECK(db_objects_list(c, bucket, prefix, after, collect, &l) == TP_OK);
    CHECK(l.n == nw);
    for (unsigned i = 0; i < nw; i++) {
        CHECK_STREQ(got[i], want[i]);
        free((char *)got[i]);
    }

    l = (struct listing){got, 0, NKEYS, 97};
    char *from = strdup(after);
    for (;;) {
        unsigned before = l.n;
        CHECK(db_objects_list(c, bucket, prefix, from, collect, &l) == TP_OK);
        if (l.n == before)
            break;
        free(from);
        from = strdup(got[l.n - 1]);
    }
    free(from);
    CHECK(l.n == nw);
    for (unsigned i = 0; i < nw; i++) {
        CHECK_STREQ(got[i], want[i]);
        free((char *)got[i]);
    }
    return nw;
}

static void test_list(struct db_conn *c, int64_t bucket)
{
    static const char *const stems[] = {
        "a/", "a b/", "a", "ab", "caf\xc3\xa9/", "caf\xc3\xa9z", "cafe/", "caf", "caf\xc4\x80",
        "x\x7f", "x\x7f/", "x~", "\xc3\xa9t\xc3\xa9 ", "\xe2\x82\xac", "z z", " lead",
    };
    unsigned ns = sizeof stems / sizeof *stems;
    char **keys = malloc(NKEYS * sizeof *keys);
    struct db_object *objs = calloc(NKEYS, sizeof *objs);
    CHECK(keys && objs);
    for (unsigned i = 0; i < NKEYS; i++) {
        char k[64];
        /* every stem alone once, then numbered keys under it */
        if (i < ns)
            snprintf(k, sizeof k, "%s", stems[i]);
        else
            snprintf(k, sizeof k, "%s%u", stems[i % ns], i / ns);
        keys[i] = strdup(k);
        objs[i] = object(bucket, keys[i], NULL, 0);
    }
    struct puts p = {objs, NKEYS};
    CHECK(db_write(put_many_job, &p) == TP_OK);
    free(objs);
    qsort(keys, NKEYS, sizeof *keys, by_bytes);

    static const char *const prefixes[] = {
        "", "a", "a/", "a b/", "a/1", "caf", "caf\xc3", "caf\xc3\xa9", "caf\xc3\xa9/", "cafe", "x\x7f",
        "x\x7f/", "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9 1", "\xe2\x82", "z", "zz", " ",
    };
    static const char *const afters[] = {
        "", "a", "a/100", "a/\xff", "caf\xc3\xa9", "caf\xc3\xa9/5", "b", "x", "x\x7f/9", "\xc3", "\xff",
    };
    for (unsigned i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        for (unsigned j = 0; j < sizeof afters / sizeof *afters; j++)
            check_list(c, bucket, keys, NKEYS, prefixes[i], afters[j]);
    /* the cases are not vacuous */
    CHECK(check_list(c, bucket, keys, NKEYS, "", "") == NKEYS);
    CHECK(check_list(c, bucket, keys, NKEYS, "caf\xc3\xa9", "") == 2 * (NKEYS / 16) + 2);
    CHECK(check_list(c, bucket, keys, NKEYS, "x\x7f", "x\x7f/9") > 50);
    CHECK(check_list(c, bucket, keys, NKEYS, "\xc3\xa9t\xc3\xa9 1", "") > 50);

    /* a delimiter-style skip: "a/\xff" sorts after every key under "a/" */
    struct listing l = {(const char *[4]){0}, 0, 4, 1};
    CHECK(db_objects_list(c, bucket, "", "a/\xff", collect, &l) == TP_OK && l.n == 1);
    CHECK_STREQ(l.keys[0], "a1"); /* "a/" < "a1": '/' is 0x2f */
    free((char *)l.keys[0]);

    for (unsigned i = 0; i < NKEYS; i++)
        free(keys[i]);
    free(keys);
}

int main(void)
{
    char dir[] = "/tmp/tp-objects-XXXXXX", err[256];
    CHECK(mkdtemp(dir));
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    struct db_conn *r = db_reader_acquire();

    /* ---- buckets ---- */
    struct bucket_job bj = {"beta", "eu-west-1"};
    CHECK(db_write(bucket_create_job, &bj) == TP_OK);
    bj = (struct bucket_job){"alpha", "us-east-1"};
    CHECK(db_write(bucket_create_job, &bj) == TP_OK);
    bj.region = "us-west-2";
    CHECK(db_write(bucket_create_job, &bj) == TP_EEXISTS);
    struct db_bucket b, b2;
    CHECK(db_bucket_get(r, "alpha", &b) == TP_OK && !strcmp(b.region, "us-east-1"));
    CHECK(b.created_ms == 1700000000000ULL && !strcmp(b.name, "alpha"));
    CHECK(db_bucket_get(r, "gamma", &b2) == TP_ENOTFOUND);
    struct names names = {.n = 0};
    CHECK(db_buckets_list(r, bucket_name, &names) == TP_OK && names.n == 2);
    CHECK_STREQ(names.v[0], "alpha");
    CHECK_STREQ(names.v[1], "beta");
    CHECK(db_write(bucket_delete_job, "gamma") == TP_ENOTFOUND);

    /* ---- a 5.5 MiB blob in odd pieces, read back around every chunk boundary ---- */
    size_t big_n = 5 * MIB + MIB / 2;
    unsigned char *big = random_bytes(big_n);
    static const size_t pieces[] = {1, 333 * 1024, MIB + 7, 2 * MIB, 5, 4096, MIB - 1, 3 * MIB};
    struct db_extent big_e = write_blob(big, big_n, pieces, sizeof pieces / sizeof *pieces);
    CHECK(chunk_rows(r, big_e.blob) == 6);
    for (uint64_t k = 0; k <= 6; k++)
        for (int d = -3; d <= 3; d++) {
            uint64_t off = k * MIB + (uint64_t)d;
            if (k == 0 && d < 0)
                continue;
            static const size_t lens[] = {1, 2, 7, 4096, MIB, MIB + 1, 2 * MIB + 3};
            for (unsigned i = 0; i < sizeof lens / sizeof *lens; i++)
                check_range(r, &big_e, 1, big, big_n, off, lens[i]);
        }
    for (int i = 0; i < 300; i++) {
        uint64_t off = test_rand() % (big_n + 10);
        check_range(r, &big_e, 1, big, big_n, off, (size_t)(test_rand() % (3 * MIB)));
    }
    check_range(r, &big_e, 1, big, big_n, 0, 0);
    check_range(r, &big_e, 1, big, big_n, big_n, 10);
    check_range(r, &big_e, 1, big, big_n, big_n + 5, 10);

    /* ---- an object of 3 extents, read across extent boundaries ---- */
    CHECK(db_bucket_get(r, "alpha", &b) == TP_OK);
    size_t sz[3] = {700 * 1024 + 3, MIB, 2 * MIB + 300 * 1024}, all_n = sz[0] + sz[1] + sz[2];
    unsigned char *all = random_bytes(all_n);
    struct db_extent ext[3];
    static const size_t piece[] = {65536 + 1};
    for (int i = 0, at = 0; i < 3; at += (int)sz[i], i++)
        ext[i] = write_blob(all + at, sz[i], piece, 1);
    struct db_object o = object(b.id, "three/parts", ext, 3);
    o.tags = "{\"a\":\"b\"}";
    strcpy(o.checksum_alg, "CRC32");
    strcpy(o.checksum, "AAAAAA==-3");
    CHECK(db_write(put_job, &o) == TP_OK);
    struct db_object got;
    CHECK(db_object_get(r, b.id, "three/parts", &got) == TP_OK);
    CHECK(got.n_extents == 3 && got.size == all_n && got.bucket_id == b.id && got.id > 0);
    CHECK(got.extents[1].blob == ext[1].blob && got.extents[2].size == sz[2]);
    CHECK_STREQ(got.key, "three/parts");
    CHECK_STREQ(got.headers, "{\"Content-Type\":\"text/plain\"}");
    CHECK_STREQ(got.tags, "{\"a\":\"b\"}");
    CHECK_STREQ(got.checksum_alg, "CRC32");
    CHECK_STREQ(got.checksum, "AAAAAA==-3");
    CHECK_STREQ(got.etag, o.etag);
    CHECK(got.last_modified_ms == 1700000001000ULL);
    uint64_t bounds[] = {0, sz[0], sz[0] + sz[1], all_n};
    for (unsigned k = 0; k < 4; k++)
        for (int d = -5; d <= 5; d++)
            for (size_t len = 1; len <= 2 * MIB + 1; len = len * 7 + 3)
                if ((int64_t)bounds[k] + d >= 0)
                    check_range(r, got.extents, got.n_extents, all, all_n, bounds[k] + (uint64_t)d, len);
    for (uint64_t off = 0; off < all_n; off += 100 * 1024 + 13) /* sequential, as a GET streams */
        check_range(r, got.extents, got.n_extents, all, all_n, off, 100 * 1024 + 13);
    check_range(r, got.extents, got.n_extents, all, all_n, 0, all_n);
    for (int i = 0; i < 200; i++)
        check_range(r, got.extents, got.n_extents, all, all_n, test_rand() % all_n,
                    (size_t)(test_rand() % (3 * MIB)));
    db_object_free(&got);
    CHECK(got.key == NULL && got.extents == NULL);

    /* tags */
    struct key_job kj = {b.id, "three/parts", NULL};
    CHECK(db_write(tags_job, &kj) == TP_OK);
    CHECK(db_object_get(r, b.id, "three/parts", &got) == TP_OK && got.tags == NULL);
    db_object_free(&got);
    kj = (struct key_job){b.id, "three/parts", "{\"x\":\"y\"}"};
    CHECK(db_write(tags_job, &kj) == TP_OK);
    CHECK(db_object_get(r, b.id, "three/parts", &got) == TP_OK);
    CHECK_STREQ(got.tags, "{\"x\":\"y\"}");
    db_object_free(&got);
    kj.key = "nope";
    CHECK(db_write(tags_job, &kj) == TP_ENOTFOUND);

    /* ---- put, replace (old chunks gone), delete ---- */
    struct db_extent e1 = write_blob(big, 2 * MIB + 1, pieces, 3);
    struct db_object p1 = object(b.id, "k", &e1, 1);
    CHECK(db_write(put_job, &p1) == TP_OK);
    CHECK(chunk_rows(r, e1.blob) == 3);
    /* an extent is a whole finished blob: a wrong size or a missing blob is refused */
    struct db_extent bad = {e1.blob, 5};
    struct db_object pbad = object(b.id, "bad", &bad, 1);
    CHECK(db_write(put_job, &pbad) == TP_EIO);
    bad = (struct db_extent){999999, 0};
    pbad = object(b.id, "bad", &bad, 1);
    CHECK(db_write(put_job, &pbad) == TP_EIO);
    CHECK(db_object_get(r, b.id, "bad", &got) == TP_ENOTFOUND);
    struct db_extent e2 = write_blob(big + 7, MIB / 2, pieces, 2);
    struct db_object p2 = object(b.id, "k", &e2, 1);
    p2.headers = NULL;
    CHECK(db_write(put_job, &p2) == TP_OK);
    CHECK(chunk_rows(r, e1.blob) == 0 && !blob_row(r, e1.blob));
    CHECK(chunk_rows(r, e2.blob) == 1 && blob_row(r, e2.blob));
    CHECK(db_object_get(r, b.id, "k", &got) == TP_OK);
    CHECK(got.size == MIB / 2 && got.extents[0].blob == e2.blob && got.headers == NULL);
    check_range(r, got.extents, got.n_extents, big + 7, MIB / 2, 0, MIB);
    db_object_free(&got);
    /* the old extent list now fails to read instead of reading other bytes */
    size_t n_read;
    unsigned char small[16];
    CHECK(db_blob_read(r, &e1, 1, 0, small, sizeof small, &n_read) == TP_EIO);
    /* an empty object: no extents */
    struct db_object p0 = object(b.id, "empty", NULL, 0);
    CHECK(db_write(put_job, &p0) == TP_OK);
    CHECK(db_object_get(r, b.id, "empty", &got) == TP_OK && got.size == 0 && got.n_extents == 0);
    CHECK(db_blob_read(r, got.extents, got.n_extents, 0, small, sizeof small, &n_read) == TP_OK && n_read == 0);
    db_object_free(&got);
    kj = (struct key_job){b.id, "empty", NULL};
    CHECK(db_write(delete_job, &kj) == TP_OK);
    /* a key of the maximum length */
    char longkey[DB_KEY_MAX + 1];
    memset(longkey, 'L', DB_KEY_MAX);
    longkey[DB_KEY_MAX] = 0;
    p0 = object(b.id, longkey, NULL, 0);
    CHECK(db_write(put_job, &p0) == TP_OK);
    CHECK(db_object_get(r, b.id, longkey, &got) == TP_OK && strlen(got.key) == DB_KEY_MAX);
    db_object_free(&got);
    kj.key = longkey;
    CHECK(db_write(delete_job, &kj) == TP_OK);

    /* a bucket that holds objects or uploads is not deleted */
    CHECK(db_write(bucket_delete_job, "alpha") == TP_ENOTEMPTY);
    kj = (struct key_job){b.id, "k", NULL};
    CHECK(db_write(delete_job, &kj) == TP_OK);
    CHECK(db_write(delete_job, &kj) == TP_ENOTFOUND);
    CHECK(chunk_rows(r, e2.blob) == 0 && !blob_row(r, e2.blob));
    CHECK(db_object_get(r, b.id, "k", &got) == TP_ENOTFOUND);
    kj.key = "three/parts";
    int sd = -1;
    CHECK(db_write(secure_delete_job, &sd) == TP_OK && sd == 0);
    CHECK(db_write(delete_job, &kj) == TP_OK);
    for (int i = 0; i < 3; i++)
        CHECK(chunk_rows(r, ext[i].blob) == 0);
    CHECK(db_write(upload_job, &b.id) == TP_OK);
    CHECK(db_write(bucket_delete_job, "alpha") == TP_ENOTEMPTY);
    CHECK(db_write(upload_remove_job, NULL) == TP_OK);
    CHECK(db_write(bucket_delete_job, "alpha") == TP_OK);
    CHECK(db_bucket_get(r, "alpha", &b2) == TP_ENOTFOUND);
    /* a put racing a DeleteBucket finds the bucket gone */
    p0 = object(b.id, "late", NULL, 0);
    CHECK(db_write(put_job, &p0) == TP_ENOTFOUND);

    /* ---- listings ---- */
    CHECK(db_bucket_get(r, "beta", &b) == TP_OK);
    test_list(r, b.id);

    /* ---- a read transaction keeps its snapshot while the object is replaced ---- */
    struct db_extent old_e = write_blob(big, 2 * MIB + MIB / 2, pieces, 4);
    struct db_object s1 = object(b.id, "snap", &old_e, 1);
    CHECK(db_write(put_job, &s1) == TP_OK);
    CHECK(db_read_begin(r) == TP_OK);
    CHECK(db_object_get(r, b.id, "snap", &got) == TP_OK);
    check_range(r, got.extents, 1, big, old_e.size, 0, 100);
    struct db_extent new_e = write_blob(all, MIB, pieces, 4);
    struct db_object s2 = object(b.id, "snap", &new_e, 1);
    CHECK(db_write(put_job, &s2) == TP_OK); /* frees old_e's chunks */
    check_range(r, got.extents, 1, big, old_e.size, 0, old_e.size);
    check_range(r, got.extents, 1, big, old_e.size, MIB - 1, MIB + 2);
    db_object_free(&got);
    CHECK(db_object_get(r, b.id, "snap", &got) == TP_OK && got.extents[0].blob == old_e.blob);
    db_object_free(&got);
    CHECK(chunk_rows(r, old_e.blob) == 3);
    db_read_end(r);
    CHECK(db_object_get(r, b.id, "snap", &got) == TP_OK && got.extents[0].blob == new_e.blob);
    check_range(r, got.extents, 1, all, MIB, 0, MIB);
    db_object_free(&got);
    CHECK(chunk_rows(r, old_e.blob) == 0);

    /* ---- reopen: unlinked blobs are swept, linked ones stay ---- */
    struct db_extent unlinked = write_blob(big, MIB + 5, pieces, 2);     /* finished, never put */
    struct db_blob_writer *open_bw = db_blob_begin();                       /* cut off mid-upload */
    CHECK(open_bw && db_blob_write(open_bw, big, 2 * MIB + 100) == TP_OK);
    CHECK(chunk_rows(r, unlinked.blob) == 2 && chunk_rows(r, big_e.blob) == 6);
    db_reader_release(r);
    db_close();
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    r = db_reader_acquire();
    CHECK(chunk_rows(r, unlinked.blob) == 0 && !blob_row(r, unlinked.blob));
    CHECK(chunk_rows(r, big_e.blob) == 0 && !blob_row(r, big_e.blob)); /* never linked either */
    sqlite3_stmt *st = db_stmt(r, "SELECT count(*) FROM chunks");
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1); /* snap's one chunk */
    sqlite3_reset(st);
    CHECK(db_object_get(r, b.id, "snap", &got) == TP_OK);
    check_range(r, got.extents, 1, all, MIB, 0, MIB);
    db_object_free(&got);
    /* the cut-off writer cannot add chunks to its swept blob */
    CHECK(db_blob_write(open_bw, big, MIB) == TP_ENOTFOUND);
    db_blob_abort(open_bw);
    /* an upload aborted while running takes its chunks along */
    struct db_blob_writer *ab = db_blob_begin();
    CHECK(ab && db_blob_write(ab, big, MIB + 1) == TP_OK);
    db_blob_abort(ab);
    st = db_stmt(r, "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM blobs)");
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1 && sqlite3_column_int(st, 1) == 1);
    sqlite3_reset(st);
    unsigned n_objects = 0;
    CHECK(db_objects_list(r, b.id, "", "", count_objects, &n_objects) == TP_OK && n_objects == NKEYS + 1);
    db_reader_release(r);
    db_close();

    free(big);
    free(all);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    puts("objects: ok");
    return 0;
}
