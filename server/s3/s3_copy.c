/* S3 CopyObject, UploadPartCopy and DeleteObjects. A copy shares the
 * source's blobs (their link count grows), so copying costs no bytes; a part
 * copied from a byte range gets bytes of its own. The source is read and its
 * conditions checked inside the writer job that stores the copy, so it
 * cannot change in between. Touches: objects, blobs, parts. */
#include "server/s3/s3.h"
#include "server/runtime/config.h"
#include "protocol/base64.h"
#include "protocol/checksum.h"
#include "storage/uploads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* x-amz-copy-source: "[/]bucket/url-encoded-key[?versionId=…]" */
static int copy_source(struct s3_req *q, char **bucket, char **key)
{
    const char *src = s3_header(q, "x-amz-copy-source");
    if (!src)
        return -1;
    if (*src == '/')
        src++;
    size_t n = strcspn(src, "?");
    const char *slash = memchr(src, '/', n);
    if (!slash || slash == src || slash + 1 == src + n)
        return -1;
    int bad = 0; /* '+' stays '+' in a path */
    *bucket = strndup(src, (size_t)(slash - src));
    *key = s3_url_decode(slash + 1, n - (size_t)(slash + 1 - src), 0, &bad);
    return *bucket && *key && !bad ? 0 : -1;
}

struct copy_job {
    const struct s3_req *q;
    const char *src_bucket, *src_key;
    int64_t dst_bucket;
    int replace_headers;
    char *headers;            /* for REPLACE */
    char *tags;               /* x-amz-tagging with REPLACE tagging directive */
    struct db_object o;       /* out: the copy */
    enum tp_err fail;         /* why the job refused */
};

static int copy_job(struct db_conn *w, void *ctx)
{
    struct copy_job *j = ctx;
    struct db_bucket sb;
    struct db_object src;
    int rc = db_bucket_get(w, j->src_bucket, &sb);
    if (rc != TP_OK) {
        j->fail = rc == TP_ENOTFOUND ? S3_NO_SUCH_BUCKET : S3_INTERNAL_ERROR;
        return rc;
    }
    if ((rc = db_object_get(w, sb.id, j->src_key, &src)) != TP_OK) {
        j->fail = rc == TP_ENOTFOUND ? S3_NO_SUCH_KEY : S3_INTERNAL_ERROR;
        return rc;
    }
    if (s3_preconditions(j->q, &src, "x-amz-copy-source-")) {
        j->fail = S3_PRECONDITION_FAILED;
        rc = TP_EEXISTS;
        goto out;
    }
    if (sb.id == j->dst_bucket && !strcmp(src.key, j->q->key) && !j->replace_headers) {
        j->fail = S3_INVALID_REQUEST;
        rc = TP_EEXISTS;
        goto out;
    }
    j->o = src; /* same bytes, same ETag and checksum */
    j->o.bucket_id = j->dst_bucket;
    j->o.key = j->q->key;
    j->o.last_modified_ms = j->q->now_ms / 1000 * 1000;
    j->o.headers = j->replace_headers ? j->headers : src.headers;
    j->o.tags = j->tags ? j->tags : src.tags;
    rc = db_object_put(w, &j->o);
    if (rc != TP_OK)
        j->fail = S3_INTERNAL_ERROR;
out:
    /* keep what the answer needs; the source's strings go */
    j->o.key = NULL;
    j->o.headers = j->o.tags = NULL;
    j->o.extents = NULL;
    db_object_free(&src);
    return rc;
}

/* CopyObject: metadata copied (COPY, the default) or taken from this
 * request (REPLACE); copying an object onto itself needs REPLACE. */
int s3_copy_object(struct s3_req *q)
{
    struct db_bucket b;
    struct copy_job j = {.q = q};
    char *sb = NULL, *sk = NULL;
    const char *dir = s3_header(q, "x-amz-metadata-directive");
    const char *tdir = s3_header(q, "x-amz-tagging-directive");
    int rc = -1;

    if (s3_bucket_or_reply(q, &b))
        return -1;
    if (copy_source(q, &sb, &sk)) {
        s3_error(q, S3_INVALID_ARGUMENT, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        goto out;
    }
    if ((dir && strcmp(dir, "COPY") && strcmp(dir, "REPLACE")) || (tdir && strcmp(tdir, "COPY") && strcmp(tdir, "REPLACE"))) {
        s3_error(q, S3_INVALID_ARGUMENT, "Unknown metadata directive.");
        goto out;
    }
    j.src_bucket = sb;
    j.src_key = sk;
    j.dst_bucket = b.id;
    j.replace_headers = dir && !strcmp(dir, "REPLACE");
    if (j.replace_headers)
        j.headers = s3_stored_headers(q);
    if (tdir && !strcmp(tdir, "REPLACE") && s3_tagging_header(q, &j.tags))
        goto out;
    if (db_write(copy_job, &j) != TP_OK) {
        if (j.fail == S3_INVALID_REQUEST)
            s3_error(q, S3_INVALID_REQUEST, "This copy request is illegal because it is trying to copy an object to "
                     "itself without changing the object's metadata, storage class, website redirect location or "
                     "encryption attributes.");
        else
            s3_error(q, j.fail ? j.fail : S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "CopyObjectResult", S3_NS);
    xw_elem(&w, "ETag", j.o.etag);
    xw_elem_time(&w, "LastModified", j.o.last_modified_ms);
    if (j.o.checksum_alg[0]) {
        char tag[32];
        snprintf(tag, sizeof tag, "Checksum%s", j.o.checksum_alg);
        xw_elem(&w, "ChecksumType", strchr(j.o.checksum, '-') ? "COMPOSITE" : "FULL_OBJECT");
        xw_elem(&w, tag, j.o.checksum);
    }
    xw_close(&w, "CopyObjectResult");
    s3_reply_xml(q, &w);
    rc = 0;
out:
    free(j.headers);
    free(j.tags);
    free(sb);
    free(sk);
    return rc;
}

/* ---- UploadPartCopy ---- */

/* "bytes=a-b" within size: 0, else -1. */
static int copy_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    unsigned long long x, y;
    char tail;
    if (!h) {
        *a = 0;
        *b = size ? size - 1 : 0;
        return 0;
    }
    if (sscanf(h, "bytes=%llu-%llu%c", &x, &y, &tail) != 2 || y < x || y >= size)
        return -1;
    *a = x;
    *b = y;
    return 0;
}

struct part_link_job {
    const char *upload_id;
    struct db_part part;
};

/* Runs in the transaction of the part's last chunk (db_blob_finish_with). */
static int part_link(struct db_conn *w, const struct db_extent *ext, void *ctx)
{
    struct part_link_job *j = ctx;
    j->part.ext = *ext;
    return db_upload_put_part(w, j->upload_id, &j->part);
}

/* UploadPartCopy: a part made of (a byte range of) another object, copied
 * chunk by chunk through a new blob within one read snapshot of the source. */
int s3_upload_part_copy(struct s3_req *q)
{
    struct db_bucket b, sbk;
    struct db_upload u = {0};
    struct db_object src = {0};
    struct db_conn *c = NULL;
    struct db_blob_writer *bw = NULL;
    struct checksum md5;
    char *sb = NULL, *sk = NULL;
    unsigned char *buf = NULL;
    const char *num = s3_param(q, "partNumber");
    char *end;
    unsigned long number = num ? strtoul(num, &end, 10) : 0;
    uint64_t from, to;
    int rc = -1, hashing = 0;

    if (s3_bucket_or_reply(q, &b))
        return -1;
    if (!num || *end || number < 1 || number > 10000)
        return s3_error(q, S3_INVALID_ARGUMENT, "Part number must be an integer between 1 and 10000, inclusive");
    if (copy_source(q, &sb, &sk)) {
        s3_error(q, S3_INVALID_ARGUMENT, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        goto out;
    }
    c = db_reader_acquire();
    if (db_upload_get(c, s3_param(q, "uploadId"), &u) != TP_OK || u.bucket_id != b.id || strcmp(u.key, q->key)) {
        s3_error(q, S3_NO_SUCH_UPLOAD, NULL);
        goto out;
    }
    db_read_begin(c);
    if (db_bucket_get(c, sb, &sbk) != TP_OK) {
        s3_error(q, S3_NO_SUCH_BUCKET, NULL);
        goto out;
    }
    if (db_object_get(c, sbk.id, sk, &src) != TP_OK) {
        s3_error(q, S3_NO_SUCH_KEY, NULL);
        goto out;
    }
    if (s3_preconditions(q, &src, "x-amz-copy-source-")) {
        s3_error(q, S3_PRECONDITION_FAILED, NULL);
        goto out;
    }
    if (copy_range(s3_header(q, "x-amz-copy-source-range"), src.size, &from, &to)) {
        s3_error(q, S3_INVALID_ARGUMENT, "The x-amz-copy-source-range value must be of the form bytes=first-last "
                 "where first and last are the zero-based offsets of the first and last bytes to copy");
        goto out;
    }
    if (!(buf = malloc(DB_CHUNK_SIZE)) || !(bw = db_blob_begin()) || checksum_init(&md5, CK_MD5)) {
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    hashing = 1;
    uint64_t len = src.size ? to - from + 1 : 0;
    for (uint64_t off = 0; off < len;) {
        size_t want = len - off < DB_CHUNK_SIZE ? (size_t)(len - off) : DB_CHUNK_SIZE, got = 0;
        if (db_blob_read(c, src.extents, src.n_extents, from + off, buf, want, &got) != TP_OK || got != want ||
            db_blob_write(bw, buf, got) != TP_OK) {
            s3_error(q, S3_INTERNAL_ERROR, NULL);
            goto out;
        }
        checksum_update(&md5, buf, got);
        off += got;
    }
    struct part_link_job j = {.upload_id = u.upload_id};
    unsigned char digest[CHECKSUM_MAX_DIGEST];
    checksum_final(&md5, digest);
    hashing = 0;
    j.part.part_number = (unsigned)number;
    j.part.last_modified_ms = q->now_ms / 1000 * 1000;
    checksum_etag(digest, j.part.etag);
    struct db_extent ext;
    int frc = db_blob_finish_with(bw, part_link, &j, &ext);
    bw = NULL;
    if (frc != TP_OK) {
        s3_error(q, frc == TP_ENOTFOUND ? S3_NO_SUCH_UPLOAD : S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "CopyPartResult", S3_NS);
    xw_elem(&w, "ETag", j.part.etag);
    xw_elem_time(&w, "LastModified", j.part.last_modified_ms);
    xw_close(&w, "CopyPartResult");
    s3_reply_xml(q, &w);
    rc = 0;
out:
    if (hashing)
        checksum_abort(&md5);
    db_blob_abort(bw);
    if (c) {
        db_read_end(c);
        db_reader_release(c);
    }
    free(buf);
    db_object_free(&src);
    db_upload_free(&u);
    free(sb);
    free(sk);
    return rc;
}

/* ---- DeleteObjects ---- */

#define MAX_DELETE 1000

struct delete_job {
    int64_t bucket;
    const char **keys;
    unsigned n;
};

static int delete_job(struct db_conn *w, void *ctx)
{
    struct delete_job *j = ctx;
    for (unsigned i = 0; i < j->n; i++) {
        int rc = db_object_delete(w, j->bucket, j->keys[i]);
        if (rc != TP_OK && rc != TP_ENOTFOUND)
            return rc;
    }
    return TP_OK;
}

/* The body's integrity, which DeleteObjects requires: Content-MD5 or an
 * x-amz-checksum-* header. 0, or the error answered. */
static int body_digest_ok(struct s3_req *q)
{
    unsigned char d[CHECKSUM_MAX_DIGEST];
    char b64[CHECKSUM_MAX_B64];
    const char *md5 = s3_header(q, "content-md5");
    if (md5) {
        b64[base64_encode(d, checksum_of(CK_MD5, q->body, q->body_len, d), b64)] = 0;
        return strcmp(md5, b64) ? s3_error(q, S3_BAD_DIGEST, NULL) : 0;
    }
    for (size_t i = 0; i < q->n_headers; i++) {
        enum checksum_alg a;
        if (checksum_from_header(q->headers[i].name, &a) == 0) {
            b64[base64_encode(d, checksum_of(a, q->body, q->body_len, d), b64)] = 0;
            return strcmp(q->headers[i].value, b64)
                       ? s3_error(q, S3_BAD_DIGEST, "The %s you specified did not match the calculated checksum.",
                                  checksum_name(a))
                       : 0;
        }
    }
    return 0; /* S3 requires one; old and new SDKs always send one */
}

/* DeleteObjects: up to 1000 keys in one transaction; absent keys count as
 * deleted, as S3 reports them; Quiet lists only errors. */
int s3_delete_objects(struct s3_req *q)
{
    struct db_bucket b;
    struct xml_node *doc = NULL;
    struct delete_job j = {0};
    int rc = -1;

    if (s3_bucket_or_reply(q, &b) || body_digest_ok(q))
        return -1;
    doc = xml_parse((const char *)q->body, q->body_len, NULL);
    if (!doc || strcmp(doc->name, "Delete")) {
        s3_error(q, S3_MALFORMED_XML, NULL);
        goto out;
    }
    const struct xml_node *quiet = xml_child(doc, "Quiet");
    unsigned n = 0;
    for (const struct xml_node *o = doc->child; o; o = o->next)
        n += !strcmp(o->name, "Object");
    if (!n || n > MAX_DELETE || !(j.keys = calloc(n, sizeof *j.keys))) {
        s3_error(q, n && n <= MAX_DELETE ? S3_INTERNAL_ERROR : S3_MALFORMED_XML, NULL);
        goto out;
    }
    for (const struct xml_node *o = doc->child; o; o = o->next) {
        const struct xml_node *k = strcmp(o->name, "Object") ? NULL : xml_child(o, "Key");
        if (strcmp(o->name, "Object"))
            continue;
        if (!k || !k->text_len || k->text_len > DB_KEY_MAX) {
            s3_error(q, S3_MALFORMED_XML, NULL);
            goto out;
        }
        j.keys[j.n++] = k->text;
    }
    j.bucket = b.id;
    if (db_write(delete_job, &j) != TP_OK) {
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "DeleteResult", S3_NS);
    if (!quiet || strcmp(quiet->text, "true"))
        for (unsigned i = 0; i < j.n; i++) {
            xw_open(&w, "Deleted");
            xw_elem(&w, "Key", j.keys[i]);
            xw_close(&w, "Deleted");
        }
    xw_close(&w, "DeleteResult");
    s3_reply_xml(q, &w);
    rc = 0;
out:
    free(j.keys);
    xml_free(doc);
    return rc;
}
