/* S3 multipart uploads without HTTP: parts stored, replaced (the old blob's
 * chunks gone) and listed; a complete that uses some parts (the object reads
 * back as their concatenation, the unused part's blob is freed, the replaced
 * object's too); completes that must change nothing; abort freeing every
 * part; ListMultipartUploads order, prefix and markers, paged; DeleteBucket
 * with uploads pending; and a reopen whose sweep keeps pending parts. */
#include "storage/db.h"
#include "storage/objects.h"
#include "storage/uploads.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)
#define T0 1700000000000ULL

/* ---- jobs ---- */

static int bucket_create_job(struct db_conn *w, void *ctx) { return db_bucket_create(w, ctx, "us-east-1", T0); }
static int bucket_delete_job(struct db_conn *w, void *ctx) { return db_bucket_delete(w, ctx); }
static int create_job(struct db_conn *w, void *ctx) { return db_upload_create(w, ctx); }
static int abort_job(struct db_conn *w, void *ctx) { return db_upload_abort(w, ctx); }
static int put_job(struct db_conn *w, void *ctx) { return db_object_put(w, ctx); }

struct part_job { const char *id; struct db_part p; };

static int part_job(struct db_conn *w, void *ctx)
{
    struct part_job *j = ctx;
    return db_upload_put_part(w, j->id, &j->p);
}

struct complete_job { const char *id; const struct db_object *o; };

static int complete_job(struct db_conn *w, void *ctx)
{
    struct complete_job *j = ctx;
    return db_upload_complete(w, j->id, j->o);
}

struct key_job { int64_t bucket; const char *key; };

static int delete_job(struct db_conn *w, void *ctx)
{
    struct key_job *j = ctx;
    return db_object_delete(w, j->bucket, j->key);
}

/* ---- helpers ---- */

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    CHECK(p);
    test_rand_bytes(p, n);
    return p;
}

/* A finished blob of data, written in pieces that straddle chunk boundaries. */
static struct db_extent write_blob(const unsigned char *data, size_t n)
{
    struct db_blob_writer *bw = db_blob_begin();
    struct db_extent e;
    CHECK(bw);
    for (size_t off = 0; off < n; off += 300001)
        CHECK(db_blob_write(bw, data + off, n - off < 300001 ? n - off : 300001) == TP_OK);
    CHECK(db_blob_finish(bw, &e) == TP_OK);
    CHECK(e.size == n);
    return e;
}

static long long query_int(struct db_conn *c, const char *sql, int64_t arg)
{
    sqlite3_stmt *st = db_stmt(c, sql);
    sqlite3_bind_int64(st, 1, arg);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

static long long chunk_rows(struct db_conn *c, int64_t blob)
{
    return query_int(c, "SELECT count(*) FROM chunks WHERE id>=?1<<23 AND id<(?1+1)<<23", blob);
}

/* refs of the blob, -1 when it has no row */
static long long blob_refs(struct db_conn *c, int64_t blob)
{
    return query_int(c, "SELECT coalesce((SELECT refs FROM blobs WHERE id=?), -1)", blob);
}

/* A blob is gone with all its chunks, not half. */
static int blob_gone(struct db_conn *c, int64_t blob) { return blob_refs(c, blob) == -1 && !chunk_rows(c, blob); }

/* The whole storage as counts: "nothing changed" compares two of these. */
struct counts { long long chunks, blobs, refs, parts, uploads, objects; };

static struct counts counts(struct db_conn *c)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM blobs), "
                                  "(SELECT total(refs) FROM blobs), (SELECT count(*) FROM parts), "
                                  "(SELECT count(*) FROM uploads), (SELECT count(*) FROM objects)");
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    struct counts n = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5)};
    sqlite3_reset(st);
    return n;
}

static int same_counts(struct counts a, struct counts b) { return !memcmp(&a, &b, sizeof a); }

static struct db_upload upload(const char *id, int64_t bucket, const char *key, uint64_t created_ms)
{
    struct db_upload u = {.bucket_id = bucket, .key = (char *)key, .created_ms = created_ms,
                          .headers = "{\"Content-Type\":\"application/x-test\"}"};
    snprintf(u.upload_id, sizeof u.upload_id, "%s", id);
    return u;
}

static void put_part(const char *id, unsigned n, struct db_extent e, int want)
{
    struct part_job j = {id, {.part_number = n, .ext = e, .last_modified_ms = T0 + 1000 * n}};
    snprintf(j.p.etag, sizeof j.p.etag, "\"%032llx\"", (unsigned long long)e.blob);
    if (n == 3)
        strcpy(j.p.checksum, "AAAAAA==");
    CHECK(db_write(part_job, &j) == want);
}

static struct db_object object(int64_t bucket, const char *key, struct db_extent *e, unsigned ne)
{
    struct db_object o = {.bucket_id = bucket, .key = (char *)key, .extents = e, .n_extents = ne,
                          .last_modified_ms = T0 + 9000, .headers = "{\"Content-Type\":\"application/x-test\"}"};
    for (unsigned i = 0; i < ne; i++)
        o.size += e[i].size;
    snprintf(o.etag, sizeof o.etag, "\"%032x-%u\"", (unsigned)o.size, ne);
    return o;
}

static int complete(const char *id, const struct db_object *o)
{
    struct complete_job j = {id, o};
    return db_write(complete_job, &j);
}

/* Reads [off, off+len) of the object and compares it with want. */
static void check_range(struct db_conn *c, const struct db_object *o, const unsigned char *want, uint64_t off,
                        size_t len)
{
    unsigned char *buf = malloc(len ? len : 1);
    size_t got = 12345;
    CHECK(buf);
    CHECK(db_blob_read(c, o->extents, o->n_extents, off, buf, len, &got) == TP_OK);
    size_t expect = off >= o->size ? 0 : o->size - off < len ? (size_t)(o->size - off) : len;
    CHECK(got == expect);
    CHECK(!memcmp(buf, want + off, got));
    free(buf);
}

/* ---- parts listing ---- */

struct parts { struct db_part v[8]; unsigned n, stop_after; };

static int collect_part(void *ctx, const struct db_part *p)
{
    struct parts *l = ctx;
    CHECK(l->n < 8);
    l->v[l->n++] = *p;
    return l->stop_after && l->n == l->stop_after;
}

static struct parts list_parts(struct db_conn *c, const char *id, unsigned after, unsigned stop_after)
{
    struct parts l = {.n = 0, .stop_after = stop_after};
    CHECK(db_upload_parts(c, id, after, collect_part, &l) == TP_OK);
    return l;
}

/* ---- uploads listing ---- */

struct ref_upload { const char *key; uint64_t ms; const char *id; };

/* In listing order (key, created_ms, upload_id), in bucket "lists". */
static const struct ref_upload REF[] = {
    {"a", 7, "u-e"},     {"a/1", 50, "u-z"}, {"a/1", 100, "u-a"}, {"a/1", 100, "u-b"},
    {"a/1", 300, "u-0"}, {"a/2", 10, "u-c"}, {"ab", 1, "u-f"},    {"b", 5, "u-d"},
};
#define NREF (sizeof REF / sizeof *REF)

struct ulist { const char *ids[NREF + 1]; unsigned n, stop_after; int64_t bucket; };

static int collect_upload(void *ctx, const struct db_upload *u)
{
    struct ulist *l = ctx;
    CHECK(l->n < NREF);
    /* the fields are those of the row it names */
    unsigned i = 0;
    while (i < NREF && strcmp(REF[i].id, u->upload_id))
        i++;
    CHECK(i < NREF);
    CHECK_STREQ(u->key, REF[i].key);
    CHECK(u->created_ms == T0 + REF[i].ms && u->bucket_id == l->bucket);
    CHECK_STREQ(u->headers, "{\"Content-Type\":\"application/x-test\"}");
    CHECK(u->tags == NULL && !strcmp(u->checksum_alg, i == 0 ? "SHA256" : ""));
    l->ids[l->n++] = REF[i].id;
    return l->stop_after && l->n == l->stop_after;
}

/* What the listing must return: S3's rules, with the fallback of
 * db_uploads_list for an upload marker that names no upload of key_marker. */
static unsigned expected(const char *prefix, const char *kmark, const char *umark, const char **want)
{
    int marked = -1; /* index of the marker upload */
    for (unsigned i = 0; i < NREF && *kmark && *umark; i++)
        if (!strcmp(REF[i].key, kmark) && !strcmp(REF[i].id, umark))
            marked = (int)i;
    unsigned n = 0;
    for (unsigned i = 0; i < NREF; i++) {
        int cmp = strcmp(REF[i].key, kmark);
        int after = !*kmark || cmp > 0 || (cmp == 0 && *umark && (marked < 0 || (int)i > marked));
        if (after && !strncmp(REF[i].key, prefix, strlen(prefix)))
            want[n++] = REF[i].id;
    }
    return n;
}

static unsigned check_uploads(struct db_conn *c, int64_t bucket, const char *prefix, const char *kmark,
                              const char *umark)
{
    const char *want[NREF];
    unsigned nw = expected(prefix, kmark, umark, want);
    struct ulist l = {.n = 0, .bucket = bucket};
    CHECK(db_uploads_list(c, bucket, prefix, kmark, umark, collect_upload, &l) == TP_OK);
    if (l.n != nw)
        fprintf(stderr, "prefix '%s' key marker '%s' upload marker '%s': %u uploads, want %u\n", prefix, kmark,
                umark, l.n, nw);
    CHECK(l.n == nw);
    for (unsigned i = 0; i < nw; i++)
        CHECK_STREQ(l.ids[i], want[i]);
    return nw;
}

/* Pages of `page` uploads, each resuming at the last one's (key, id), add
 * up to the whole listing. */
static void check_pages(struct db_conn *c, int64_t bucket, const char *prefix, unsigned page)
{
    const char *want[NREF], *got[NREF];
    unsigned nw = expected(prefix, "", "", want), n = 0;
    const char *kmark = "", *umark = "";
    for (;;) {
        struct ulist l = {.n = 0, .stop_after = page, .bucket = bucket};
        CHECK(db_uploads_list(c, bucket, prefix, kmark, umark, collect_upload, &l) == TP_OK);
        if (!l.n)
            break;
        for (unsigned i = 0; i < l.n; i++) {
            CHECK(n < NREF);
            got[n++] = l.ids[i];
        }
        for (unsigned i = 0; i < NREF; i++)
            if (!strcmp(REF[i].id, got[n - 1])) {
                kmark = REF[i].key;
                umark = REF[i].id;
            }
    }
    CHECK(n == nw);
    for (unsigned i = 0; i < nw; i++)
        CHECK_STREQ(got[i], want[i]);
}

static void test_list(struct db_conn *c, int64_t bucket, int64_t other_bucket)
{
    /* created in an order unrelated to the listing's */
    for (unsigned k = 0; k < NREF; k++) {
        unsigned i = (k * 5 + 3) % NREF;
        struct db_upload u = upload(REF[i].id, bucket, REF[i].key, T0 + REF[i].ms);
        if (i == 0)
            strcpy(u.checksum_alg, "SHA256");
        CHECK(db_write(create_job, &u) == TP_OK);
    }
    /* same key, another bucket: never listed here */
    struct db_upload x = upload("x-1", other_bucket, "a/1", T0);
    CHECK(db_write(create_job, &x) == TP_OK);

    /* explicit cases, then every combination against the reference */
    CHECK(check_uploads(c, bucket, "", "", "") == NREF);
    CHECK(check_uploads(c, bucket, "a/", "", "") == 5);
    CHECK(check_uploads(c, bucket, "a/1", "a/1", "") == 0);              /* key marker alone: keys after */
    CHECK(check_uploads(c, bucket, "", "a/1", "u-a") == 5);              /* u-b, u-0, a/2, ab, b */
    CHECK(check_uploads(c, bucket, "", "a/1", "u-b") == 4);              /* a tie of created_ms */
    CHECK(check_uploads(c, bucket, "", "a/1", "u-z") == 6);
    CHECK(check_uploads(c, bucket, "", "a/1", "gone") == 7);             /* from a/1's first upload */
    CHECK(check_uploads(c, bucket, "", "a/1", "u-c") == 7);              /* u-c is a/2's */
    CHECK(check_uploads(c, bucket, "", "", "u-c") == NREF);              /* ignored without a key marker */
    CHECK(check_uploads(c, bucket, "b", "a/1", "u-a") == 1);             /* a marker before the prefix */
    CHECK(check_uploads(c, bucket, "a", "a", "u-e") == 6);
    CHECK(check_uploads(c, bucket, "zz", "", "") == 0);
    static const char *const prefixes[] = {"", "a", "a/", "a/1", "a/2", "ab", "b", "c", "a/1/"};
    static const char *const kmarks[] = {"", "a", "a/", "a/1", "a/10", "a/2", "ab", "b", "c", "\xff"};
    static const char *const umarks[] = {"", "u-a", "u-b", "u-z", "u-0", "u-c", "u-e", "u-f", "u-d", "x-1", "zz"};
    for (unsigned i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        for (unsigned j = 0; j < sizeof kmarks / sizeof *kmarks; j++)
            for (unsigned k = 0; k < sizeof umarks / sizeof *umarks; k++)
                check_uploads(c, bucket, prefixes[i], kmarks[j], umarks[k]);
        for (unsigned page = 1; page <= 3; page++)
            check_pages(c, bucket, prefixes[i], page);
    }
}

static int count_upload(void *ctx, const struct db_upload *u)
{
    (void)u;
    ++*(unsigned *)ctx;
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/tp-uploads-XXXXXX", err[256];
    CHECK(mkdtemp(dir));
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    struct db_conn *r = db_reader_acquire();
    struct db_bucket b, lb, ob;
    CHECK(db_write(bucket_create_job, "mp") == TP_OK);
    CHECK(db_bucket_get(r, "mp", &b) == TP_OK);

    /* ---- create, get ---- */
    struct db_upload u = upload("u1", b.id, "big/object", T0);
    u.tags = "{\"t\":\"1\"}";
    strcpy(u.checksum_alg, "CRC32");
    CHECK(db_write(create_job, &u) == TP_OK);
    CHECK(db_write(create_job, &u) == TP_EEXISTS);
    struct db_upload lost = upload("u-lost", b.id + 1000, "k", T0);
    CHECK(db_write(create_job, &lost) == TP_ENOTFOUND);
    struct db_upload got;
    CHECK(db_upload_get(r, "u1", &got) == TP_OK);
    CHECK_STREQ(got.upload_id, "u1");
    CHECK_STREQ(got.key, "big/object");
    CHECK_STREQ(got.headers, "{\"Content-Type\":\"application/x-test\"}");
    CHECK_STREQ(got.tags, "{\"t\":\"1\"}");
    CHECK_STREQ(got.checksum_alg, "CRC32");
    CHECK(got.bucket_id == b.id && got.created_ms == T0);
    db_upload_free(&got);
    CHECK(got.key == NULL && got.headers == NULL && got.tags == NULL);
    CHECK(db_upload_get(r, "u-lost", &got) == TP_ENOTFOUND && got.key == NULL);
    db_upload_free(&got); /* harmless after a miss */

    /* ---- three parts, each blob linked once ---- */
    size_t n1 = 5 * MIB + 1, n2 = 5 * MIB, n3 = 123, n2b = 2 * MIB + 17;
    unsigned char *d1 = random_bytes(n1), *d2 = random_bytes(n2), *d3 = random_bytes(n3), *d2b = random_bytes(n2b);
    struct db_extent e1 = write_blob(d1, n1), e2 = write_blob(d2, n2), e3 = write_blob(d3, n3);
    CHECK(blob_refs(r, e1.blob) == 0 && chunk_rows(r, e1.blob) == 6);
    put_part("u1", 1, e1, TP_OK);
    put_part("u1", 2, e2, TP_OK);
    put_part("u1", 3, e3, TP_OK);
    CHECK(blob_refs(r, e1.blob) == 1 && blob_refs(r, e2.blob) == 1 && blob_refs(r, e3.blob) == 1);

    /* refused parts change nothing */
    unsigned char *d4 = random_bytes(1000);
    struct db_extent e4 = write_blob(d4, 1000);
    struct counts before = counts(r);
    put_part("nope", 4, e4, TP_ENOTFOUND);                          /* the upload is gone */
    put_part("u1", 4, (struct db_extent){e4.blob, 999}, TP_EIO);    /* not that blob's size */
    put_part("u1", 4, (struct db_extent){e4.blob + 1000, 0}, TP_EIO); /* no such blob */
    put_part("u1", 0, e4, TP_EIO);
    put_part("u1", 10001, e4, TP_EIO);
    CHECK(same_counts(before, counts(r)) && blob_refs(r, e4.blob) == 0); /* unlinked: the next open sweeps it */

    /* a re-upload of part 2 frees the old blob at once */
    struct db_extent e2b = write_blob(d2b, n2b);
    put_part("u1", 2, e2b, TP_OK);
    CHECK(blob_gone(r, e2.blob));
    CHECK(blob_refs(r, e2b.blob) == 1 && chunk_rows(r, e2b.blob) == 3);
    /* storing the same blob again must not free it in between */
    put_part("u1", 2, e2b, TP_OK);
    CHECK(blob_refs(r, e2b.blob) == 1 && chunk_rows(r, e2b.blob) == 3);

    /* ---- parts listing ---- */
    struct parts pl = list_parts(r, "u1", 0, 0);
    CHECK(pl.n == 3);
    struct db_extent want_ext[3] = {e1, e2b, e3};
    for (unsigned i = 0; i < 3; i++) {
        CHECK(pl.v[i].part_number == i + 1 && pl.v[i].last_modified_ms == T0 + 1000 * (i + 1));
        CHECK(pl.v[i].ext.blob == want_ext[i].blob && pl.v[i].ext.size == want_ext[i].size);
        char etag[64];
        snprintf(etag, sizeof etag, "\"%032llx\"", (unsigned long long)want_ext[i].blob);
        CHECK_STREQ(pl.v[i].etag, etag);
        CHECK_STREQ(pl.v[i].checksum, i == 2 ? "AAAAAA==" : "");
    }
    pl = list_parts(r, "u1", 1, 0);
    CHECK(pl.n == 2 && pl.v[0].part_number == 2 && pl.v[1].part_number == 3);
    pl = list_parts(r, "u1", 2, 0);
    CHECK(pl.n == 1 && pl.v[0].part_number == 3);
    CHECK(list_parts(r, "u1", 3, 0).n == 0 && list_parts(r, "u1", 10000, 0).n == 0);
    pl = list_parts(r, "u1", 0, 2);
    CHECK(pl.n == 2 && pl.v[1].part_number == 2);
    CHECK(list_parts(r, "nope", 0, 0).n == 0);

    /* ---- completes that change nothing ---- */
    unsigned char *dold = random_bytes(4000);
    struct db_extent eold = write_blob(dold, 4000);
    struct db_object old = object(b.id, "big/object", &eold, 1);   /* the complete replaces it */
    CHECK(db_write(put_job, &old) == TP_OK);
    struct db_extent use[2] = {e1, e3};
    struct db_object o = object(b.id, "big/object", use, 2);
    before = counts(r);
    CHECK(complete("nope", &o) == TP_ENOTFOUND);
    struct db_object other = object(b.id, "other/key", use, 2);
    CHECK(complete("u1", &other) == TP_ENOTFOUND);                  /* an upload of another key */
    struct db_extent foreign[2] = {e1, eold};                       /* a blob no part holds */
    struct db_object fo = object(b.id, "big/object", foreign, 2);
    CHECK(complete("u1", &fo) == TP_EIO);
    struct db_extent stale[2] = {e1, e2};                           /* part 2 before its re-upload */
    struct db_object so = object(b.id, "big/object", stale, 2);
    CHECK(complete("u1", &so) == TP_EIO);
    CHECK(same_counts(before, counts(r)));
    CHECK(blob_refs(r, e1.blob) == 1 && blob_refs(r, eold.blob) == 1 && list_parts(r, "u1", 0, 0).n == 3);
    struct db_object obj;
    CHECK(db_object_get(r, b.id, "big/object", &obj) == TP_OK && obj.extents[0].blob == eold.blob);
    db_object_free(&obj);

    /* ---- complete with parts 1 and 3 ---- */
    CHECK(complete("u1", &o) == TP_OK);
    CHECK(db_object_get(r, b.id, "big/object", &obj) == TP_OK);
    CHECK(obj.n_extents == 2 && obj.size == n1 + n3);
    CHECK(obj.extents[0].blob == e1.blob && obj.extents[1].blob == e3.blob && obj.extents[1].size == n3);
    CHECK_STREQ(obj.etag, o.etag);
    unsigned char *whole = malloc(n1 + n3);
    CHECK(whole);
    memcpy(whole, d1, n1);
    memcpy(whole + n1, d3, n3);
    check_range(r, &obj, whole, 0, n1 + n3);
    for (int d = -3; d <= 3; d++)                                   /* across the extent boundary */
        for (size_t len = 1; len <= 300; len = len * 3 + 1)
            check_range(r, &obj, whole, (uint64_t)((int64_t)n1 + d), len);
    check_range(r, &obj, whole, 5 * MIB - 2, 200);                  /* last chunk of part 1 into part 3 */
    check_range(r, &obj, whole, n1 + n3 - 1, 10);
    db_object_free(&obj);
    CHECK(blob_refs(r, e1.blob) == 1 && blob_refs(r, e3.blob) == 1 && chunk_rows(r, e1.blob) == 6);
    CHECK(blob_gone(r, e2b.blob));                                  /* the unused part */
    CHECK(blob_gone(r, eold.blob));                                 /* the replaced object */
    CHECK(db_upload_get(r, "u1", &got) == TP_ENOTFOUND);
    CHECK(list_parts(r, "u1", 0, 0).n == 0);
    before = counts(r);
    CHECK(complete("u1", &o) == TP_ENOTFOUND);
    CHECK(db_write(abort_job, "u1") == TP_ENOTFOUND);
    put_part("u1", 1, e1, TP_ENOTFOUND);
    CHECK(same_counts(before, counts(r)));

    /* ---- DeleteBucket: not while an object or an upload is there ---- */
    CHECK(db_write(bucket_delete_job, "mp") == TP_ENOTEMPTY);
    struct key_job kj = {b.id, "big/object"};
    CHECK(db_write(delete_job, &kj) == TP_OK);
    CHECK(blob_gone(r, e1.blob) && blob_gone(r, e3.blob));
    struct db_upload pend = upload("u-pending", b.id, "p", T0);
    CHECK(db_write(create_job, &pend) == TP_OK);
    CHECK(db_write(bucket_delete_job, "mp") == TP_ENOTEMPTY);
    CHECK(db_write(abort_job, "u-pending") == TP_OK);
    CHECK(db_write(bucket_delete_job, "mp") == TP_OK);
    CHECK(db_bucket_get(r, "mp", &b) == TP_ENOTFOUND);
    struct counts empty = counts(r);
    /* all that is left is e4, refused above: unlinked until the next open's sweep */
    CHECK(empty.chunks == 1 && empty.blobs == 1 && blob_refs(r, e4.blob) == 0);
    CHECK(empty.parts == 0 && empty.uploads == 0 && empty.objects == 0);

    /* ---- abort frees every part's blob, an empty one too ---- */
    CHECK(db_write(bucket_create_job, "lists") == TP_OK && db_bucket_get(r, "lists", &lb) == TP_OK);
    CHECK(db_write(bucket_create_job, "other") == TP_OK && db_bucket_get(r, "other", &ob) == TP_OK);
    struct db_upload a1 = upload("a1", lb.id, "aborted", T0);
    CHECK(db_write(create_job, &a1) == TP_OK);
    struct db_extent ea[3] = {write_blob(d1, MIB + 3), write_blob(d2, 10), write_blob(d2, 0)};
    for (unsigned i = 0; i < 3; i++)
        put_part("a1", i + 1, ea[i], TP_OK);
    put_part("a1", 2, ea[1], TP_OK);
    CHECK(counts(r).parts == 3 && counts(r).blobs == 4 && counts(r).chunks == 4); /* and e4 */
    CHECK(db_write(abort_job, "a1") == TP_OK);
    for (unsigned i = 0; i < 3; i++)
        CHECK(blob_gone(r, ea[i].blob));
    CHECK(same_counts(empty, counts(r)));
    CHECK(db_upload_get(r, "a1", &got) == TP_ENOTFOUND);
    CHECK(db_write(abort_job, "a1") == TP_ENOTFOUND);

    /* ---- ListMultipartUploads ---- */
    test_list(r, lb.id, ob.id);
    unsigned n_other = 0;
    CHECK(db_uploads_list(r, ob.id, "", "", "", count_upload, &n_other) == TP_OK && n_other == 1);

    /* ---- reopen: a pending upload's parts survive the sweep, a loose blob does not ---- */
    struct db_extent k1 = write_blob(d1, MIB + 5), k2 = write_blob(d3, 77);
    put_part("u-a", 1, k1, TP_OK);
    put_part("u-a", 2, k2, TP_OK);
    struct db_extent loose = write_blob(d2, 2 * MIB);                /* finished, never linked */
    CHECK(chunk_rows(r, loose.blob) == 2);
    struct counts kept = counts(r);
    db_reader_release(r);
    db_close();
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    r = db_reader_acquire();
    CHECK(blob_gone(r, loose.blob));
    CHECK(blob_refs(r, k1.blob) == 1 && chunk_rows(r, k1.blob) == 2);
    CHECK(blob_refs(r, k2.blob) == 1 && chunk_rows(r, k2.blob) == 1);
    struct counts now = counts(r);
    CHECK(blob_gone(r, e4.blob)); /* e4, refused as a part long ago, goes too */
    CHECK(now.chunks == kept.chunks - 3 && now.blobs == kept.blobs - 2 && now.parts == kept.parts &&
          now.uploads == kept.uploads && now.refs == kept.refs);
    pl = list_parts(r, "u-a", 0, 0);
    CHECK(pl.n == 2 && pl.v[0].ext.blob == k1.blob && pl.v[1].ext.blob == k2.blob);
    CHECK(db_upload_get(r, "u-a", &got) == TP_OK && !strcmp(got.key, "a/1") && got.created_ms == T0 + 100);
    db_upload_free(&got);
    struct db_extent ku[2] = {k1, k2};
    o = object(lb.id, "a/1", ku, 2);
    CHECK(complete("u-a", &o) == TP_OK);
    CHECK(db_object_get(r, lb.id, "a/1", &obj) == TP_OK && obj.size == MIB + 5 + 77);
    memcpy(whole, d1, MIB + 5);
    memcpy(whole + MIB + 5, d3, 77);
    check_range(r, &obj, whole, 0, obj.size);
    db_object_free(&obj);
    unsigned n_left = 0;
    CHECK(db_uploads_list(r, lb.id, "", "", "", count_upload, &n_left) == TP_OK && n_left == NREF - 1);
    db_reader_release(r);
    db_close();

    free(d1);
    free(d2);
    free(d3);
    free(d2b);
    free(d4);
    free(dold);
    free(whole);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    puts("uploads: ok");
    return 0;
}
