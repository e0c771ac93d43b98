/* S3 bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
 * GetBucketLocation, and the object listings ListObjects (v1) and
 * ListObjectsV2. Touches: buckets, objects (storage/objects.c). */
#include "server/s3/s3.h"
#include "server/runtime/config.h"
#include "protocol/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 1000

static int bucket_row(void *ctx, const struct db_bucket *b)
{
    struct xw *w = ctx;
    xw_open(w, "Bucket");
    xw_elem(w, "Name", b->name);
    xw_elem_time(w, "CreationDate", b->created_ms);
    xw_elem(w, "BucketRegion", b->region);
    xw_close(w, "Bucket");
    return 0;
}

static void owner(struct xw *w)
{
    xw_open(w, "Owner");
    xw_elem(w, "ID", "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a");
    xw_elem(w, "DisplayName", "tidepool");
    xw_close(w, "Owner");
}

/* ListBuckets: every bucket, whatever region asks (as S3's global namespace). */
int s3_list_buckets(struct s3_req *q)
{
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "ListAllMyBucketsResult", S3_NS);
    owner(&w);
    xw_open(&w, "Buckets");
    struct db_conn *c = db_reader_acquire();
    int rc = db_buckets_list(c, bucket_row, &w);
    db_reader_release(c);
    xw_close(&w, "Buckets");
    xw_close(&w, "ListAllMyBucketsResult");
    if (rc != TP_OK) {
        xw_free(&w);
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
    s3_reply_xml(q, &w);
    return 0;
}

struct create_job {
    const char *name, *region;
    uint64_t now;
};

static int create_job(struct db_conn *w, void *ctx)
{
    struct create_job *j = ctx;
    return db_bucket_create(w, j->name, j->region, j->now);
}

/* CreateBucket: the region is the LocationConstraint of the optional
 * CreateBucketConfiguration, else us-east-1 (where naming it is an error). */
int s3_create_bucket(struct s3_req *q)
{
    char region[32] = "us-east-1";
    if (!s3_bucket_name_valid(q->bucket))
        return s3_error(q, S3_INVALID_BUCKET_NAME, NULL);
    if (q->body_len) {
        const struct xml_node *root = xml_parse((const char *)q->body, q->body_len, NULL), *lc;
        if (!root || strcmp(root->name, "CreateBucketConfiguration")) {
            xml_free((struct xml_node *)root);
            return s3_error(q, S3_MALFORMED_XML, NULL);
        }
        lc = xml_child(root, "LocationConstraint");
        if (lc && lc->text_len) {
            if (!strcmp(lc->text, "us-east-1") || lc->text_len >= sizeof region) {
                xml_free((struct xml_node *)root);
                return s3_error(q, S3_INVALID_LOCATION, NULL);
            }
            snprintf(region, sizeof region, "%s", lc->text);
        }
        xml_free((struct xml_node *)root);
    }
    struct create_job j = {q->bucket, region, q->now_ms};
    switch (db_write(create_job, &j)) {
    case TP_OK:
        break;
    case TP_EEXISTS:
        return s3_error(q, S3_BUCKET_ALREADY_OWNED, NULL);
    default:
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
    char location[80];
    snprintf(location, sizeof location, "/%s", q->bucket);
    q->rs->status = 200;
    response_add_header(q->rs, "Location", location);
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    return 0;
}

/* HeadBucket: 200 with the region, or 404 without a body. */
int s3_head_bucket(struct s3_req *q)
{
    struct db_bucket b;
    if (s3_bucket_or_reply(q, &b))
        return -1;
    q->rs->status = 200;
    response_add_header(q->rs, "x-amz-bucket-region", b.region);
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    return 0;
}

static int delete_job(struct db_conn *w, void *ctx)
{
    return db_bucket_delete(w, ctx);
}

/* DeleteBucket: 204; BucketNotEmpty while it holds objects. */
int s3_delete_bucket(struct s3_req *q)
{
    switch (db_write(delete_job, q->bucket)) {
    case TP_OK:
        q->rs->status = 204;
        response_add_header(q->rs, "x-amz-request-id", q->request_id);
        return 0;
    case TP_ENOTFOUND:
        return s3_error(q, S3_NO_SUCH_BUCKET, NULL);
    case TP_ENOTEMPTY:
        return s3_error(q, S3_BUCKET_NOT_EMPTY, NULL);
    default:
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
}

/* GetBucketLocation: empty for us-east-1, as S3 answers. */
int s3_get_bucket_location(struct s3_req *q)
{
    struct db_bucket b;
    struct xw w;
    if (s3_bucket_or_reply(q, &b))
        return -1;
    xw_init(&w);
    xw_doc_begin(&w, "LocationConstraint", S3_NS);
    if (strcmp(b.region, "us-east-1"))
        xw_text(&w, b.region);
    xw_close(&w, "LocationConstraint");
    s3_reply_xml(q, &w);
    return 0;
}

/* ---- ListObjects, ListObjectsV2 ---- */

struct listing {
    struct s3_req *q;
    struct xw contents;      /* <Contents> and <CommonPrefixes> in key order */
    const char *prefix, *delimiter;
    int url, owner;
    long max, count;
    int truncated;
    int requery;             /* a common prefix ended the query: go on after it */
    char *resume;            /* the key to list after in the next query */
    char *last;              /* last key or common prefix returned */
};

static void put_name(struct listing *l, struct xw *w, const char *tag, const char *value)
{
    char *enc = l->url ? s3_url_encode(value) : NULL;
    xw_elem(w, tag, enc ? enc : value);
    free(enc);
}

static void set_str(char **dst, const char *s, size_t n, const char *suffix)
{
    free(*dst);
    size_t sl = suffix ? strlen(suffix) : 0;
    *dst = malloc(n + sl + 1);
    if (*dst) {
        memcpy(*dst, s, n);
        memcpy(*dst + n, suffix ? suffix : "", sl + 1);
    }
}

/* Called per key in order: a key under the delimiter folds into a common
 * prefix, listed once; the next query then starts after the whole prefix. */
static int list_row(void *ctx, const struct db_object *o)
{
    struct listing *l = ctx;
    size_t plen = strlen(l->prefix);
    const char *d = l->delimiter && *l->delimiter ? strstr(o->key + plen, l->delimiter) : NULL;
    if (l->count == l->max) {
        l->truncated = 1;
        return 1;
    }
    l->count++;
    if (d) {
        size_t cp = (size_t)(d - o->key) + strlen(l->delimiter);
        set_str(&l->last, o->key, cp, NULL);
        /* 0xFF never occurs in UTF-8: it sorts after every key under the prefix */
        set_str(&l->resume, o->key, cp, "\xff");
        xw_open(&l->contents, "CommonPrefixes");
        put_name(l, &l->contents, "Prefix", l->last);
        xw_close(&l->contents, "CommonPrefixes");
        l->requery = 1;
        return 1;
    }
    set_str(&l->last, o->key, strlen(o->key), NULL);
    set_str(&l->resume, o->key, strlen(o->key), NULL);
    xw_open(&l->contents, "Contents");
    put_name(l, &l->contents, "Key", o->key);
    xw_elem_time(&l->contents, "LastModified", o->last_modified_ms);
    xw_elem(&l->contents, "ETag", o->etag);
    if (o->checksum_alg[0]) {
        xw_elem(&l->contents, "ChecksumAlgorithm", o->checksum_alg);
        xw_elem(&l->contents, "ChecksumType", strchr(o->checksum, '-') ? "COMPOSITE" : "FULL_OBJECT");
    }
    xw_elem_u64(&l->contents, "Size", o->size);
    xw_elem(&l->contents, "StorageClass", "STANDARD");
    if (l->owner)
        owner(&l->contents);
    xw_close(&l->contents, "Contents");
    return 0;
}

/* Continuation tokens are the base64 of the key to resume after. */
static char *token_decode(const char *tok)
{
    size_t n = strlen(tok), len;
    unsigned char *out = malloc(base64_decoded_max(n) + 1);
    if (!out || base64_decode(tok, n, out, &len, NULL) != BASE64_OK || memchr(out, 0, len)) {
        free(out);
        return NULL;
    }
    out[len] = 0;
    return (char *)out;
}

static char *token_encode(const char *key)
{
    size_t n = strlen(key);
    char *out = malloc(base64_encoded_len(n) + 1);
    if (out)
        out[base64_encode((const unsigned char *)key, n, out)] = 0;
    return out;
}

/* ListObjects (v1) and ListObjectsV2 (list-type=2): keys in byte order under
 * prefix, folded at delimiter, max-keys (≤ 1000) per page, URL-encoded
 * names when asked (botocore always asks). */
int s3_list_objects(struct s3_req *q)
{
    struct db_bucket b;
    struct listing l = {.q = q};
    const char *v2 = s3_param(q, "list-type");
    const char *maxk = s3_param(q, "max-keys");
    const char *enc = s3_param(q, "encoding-type");
    const char *token = s3_param(q, "continuation-token");
    const char *start = s3_param(q, v2 ? "start-after" : "marker");
    char *after = NULL;
    int rc = -1;

    if (s3_bucket_or_reply(q, &b))
        return -1;
    if (v2 && strcmp(v2, "2"))
        return s3_error(q, S3_INVALID_ARGUMENT, "Invalid List Type specified");
    if (enc && strcmp(enc, "url"))
        return s3_error(q, S3_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
    l.prefix = s3_param(q, "prefix") ? s3_param(q, "prefix") : "";
    l.delimiter = s3_param(q, "delimiter");
    l.url = enc != NULL;
    l.owner = !v2 || (s3_param(q, "fetch-owner") && !strcmp(s3_param(q, "fetch-owner"), "true"));
    l.max = MAX_KEYS;
    if (maxk) {
        char *end;
        long m = strtol(maxk, &end, 10);
        if (*end || m < 0 || !*maxk)
            return s3_error(q, S3_INVALID_ARGUMENT, "Provided max-keys not an integer or within integer range");
        l.max = m < MAX_KEYS ? m : MAX_KEYS;
    }
    if (v2 && token) {
        if (!(after = token_decode(token)))
            return s3_error(q, S3_INVALID_ARGUMENT, "The continuation token provided is incorrect");
    } else if (start) {
        after = strdup(start);
    }
    xw_init(&l.contents);
    l.resume = after;
    after = NULL;
    struct db_conn *c = db_reader_acquire();
    db_read_begin(c); /* one snapshot for every requery */
    int err;
    do {
        l.requery = 0;
        err = db_objects_list(c, b.id, l.prefix, l.resume ? l.resume : "", list_row, &l);
    } while (err == TP_OK && l.requery && !l.truncated);
    db_read_end(c);
    db_reader_release(c);
    if (err != TP_OK) {
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }

    struct xw w;
    size_t clen;
    char *contents = xw_take(&l.contents, &clen);
    xw_init(&w);
    xw_doc_begin(&w, "ListBucketResult", S3_NS);
    xw_elem(&w, "Name", b.name);
    put_name(&l, &w, "Prefix", l.prefix);
    if (!v2)
        put_name(&l, &w, "Marker", start ? start : "");
    if (l.delimiter)
        put_name(&l, &w, "Delimiter", l.delimiter);
    xw_elem_u64(&w, "MaxKeys", (uint64_t)l.max);
    if (l.url)
        xw_elem(&w, "EncodingType", "url");
    if (v2)
        xw_elem_u64(&w, "KeyCount", (uint64_t)l.count);
    xw_elem(&w, "IsTruncated", l.truncated ? "true" : "false");
    if (v2) {
        if (token)
            xw_elem(&w, "ContinuationToken", token);
        if (l.truncated && l.resume) {
            char *next = token_encode(l.resume);
            xw_elem(&w, "NextContinuationToken", next ? next : "");
            free(next);
        }
        if (start)
            put_name(&l, &w, "StartAfter", start);
    } else if (l.truncated && l.delimiter && l.last) {
        put_name(&l, &w, "NextMarker", l.last);
    }
    xw_raw(&w, contents, clen);
    free(contents);
    xw_close(&w, "ListBucketResult");
    s3_reply_xml(q, &w);
    rc = 0;
out:
    xw_free(&l.contents);
    free(l.resume);
    free(l.last);
    return rc;
}
