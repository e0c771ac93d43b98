/* S3 objects: PutObject (the body streams into a blob chunk by chunk while
 * MD5 and the requested checksum are computed; aws-chunked bodies are decoded
 * on the way), GetObject/HeadObject (the body streams out of the blob, one
 * read snapshot for the whole answer), DeleteObject.
 * Touches: buckets, objects, blobs, chunks (storage/objects.c). */
#define _GNU_SOURCE /* strptime, timegm */
#include "server/s3/s3.h"
#include "server/runtime/config.h"
#include "protocol/aws_chunked.h"
#include "protocol/base64.h"
#include "protocol/checksum.h"
#include "storage/uploads.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Request headers kept with an object and given back on GET/HEAD, with the
 * spelling S3 answers with. x-amz-meta-* are kept too. */
static const char *const STORED_HEADERS[][2] = {
    {"content-type", "Content-Type"},         {"content-encoding", "Content-Encoding"},
    {"content-disposition", "Content-Disposition"}, {"content-language", "Content-Language"},
    {"cache-control", "Cache-Control"},       {"expires", "Expires"},
};
#define N_STORED (sizeof STORED_HEADERS / sizeof *STORED_HEADERS)

static void http_date(uint64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ---- PutObject ---- */

struct put {
    struct tp_stream st;
    struct s3_req q;
    struct tp_response answer;     /* an error decided early, given at finish */
    int failed;
    struct db_bucket bucket;
    struct db_blob_writer *bw;
    struct aws_chunked *chunked;   /* when the body is aws-chunked */
    struct checksum md5, ck;
    int hashing;                   /* md5 and ck are live (not finalised) */
    struct checksum sha;           /* --auth, a body signed by its hash: the body's SHA-256 */
    const char *sha_want;          /* that hash (x-amz-content-sha256), while sha is live */
    int has_ck;                    /* 1: the client names a checksum; 2: our default */
    enum checksum_alg alg;
    const char *ck_header;         /* the checksum value given in a header, if any */
    uint64_t size;
    char *tags;                    /* x-amz-tagging as stored, or NULL */
    struct db_upload upload;       /* UploadPart: the upload the part joins */
    unsigned part_number;          /* UploadPart: 1..10000; 0 for PutObject */
};

static int fail_put(struct put *p, enum tp_err e, const char *fmt, const char *arg)
{
    if (!p->failed) {
        p->failed = 1;
        if (fmt)
            s3_error(&p->q, e, fmt, arg);
        else
            s3_error(&p->q, e, NULL);
    }
    return 1;
}

/* Decoded object bytes: hashed and appended to the blob. */
static int put_bytes(void *ctx, const unsigned char *data, size_t n)
{
    struct put *p = ctx;
    checksum_update(&p->md5, data, n);
    if (p->has_ck)
        checksum_update(&p->ck, data, n);
    p->size += n;
    if (db_blob_write(p->bw, data, n) != TP_OK)
        return fail_put(p, S3_INTERNAL_ERROR, NULL, NULL);
    return 0;
}

static int put_write(struct tp_stream *st, const unsigned char *data, size_t n)
{
    struct put *p = (struct put *)st;
    if (p->failed)
        return 1;
    if (p->sha_want)
        checksum_update(&p->sha, data, n);
    if (!p->chunked)
        return put_bytes(p, data, n);
    enum aws_chunked_status s = aws_chunked_feed(p->chunked, data, n);
    if (p->failed)
        return 1;
    if (s == AWSC_ESIGNATURE)
        return fail_put(p, S3_SIGNATURE_DOES_NOT_MATCH, NULL, NULL);
    if (s != AWSC_OK && s != AWSC_DONE)
        return fail_put(p, S3_INVALID_REQUEST, "The aws-chunked body is malformed.", NULL);
    return 0;
}

struct link_job {
    struct db_object o;
    struct db_extent ext;
    const char *bucket;
    const char *upload_id;   /* UploadPart */
    struct db_part part;
};

/* Runs in the transaction of the body's last chunk (db_blob_finish_with). */
static int link_blob(struct db_conn *w, const struct db_extent *ext, void *ctx)
{
    struct link_job *j = ctx;
    struct db_bucket b;
    j->ext = *ext;
    j->o.extents = &j->ext;
    j->o.n_extents = 1;
    j->part.ext = *ext;
    if (j->upload_id)
        return db_upload_put_part(w, j->upload_id, &j->part);
    int rc = db_bucket_get(w, j->bucket, &b); /* it may have gone meanwhile */
    if (rc != TP_OK)
        return rc;
    j->o.bucket_id = b.id;
    return db_object_put(w, &j->o);
}

/* The stored headers as a JSON object; x-amz-meta-* as sent, the rest from
 * STORED_HEADERS, aws-chunked dropped from Content-Encoding. */
char *s3_stored_headers(const struct s3_req *q)
{
    cJSON *h = cJSON_CreateObject();
    char *out;
    for (size_t i = 0; i < q->n_headers; i++)
        if (!strncasecmp(q->headers[i].name, "x-amz-meta-", 11))
            cJSON_AddStringToObject(h, q->headers[i].name, q->headers[i].value);
    for (unsigned i = 0; i < N_STORED; i++) {
        const char *v = s3_header(q, STORED_HEADERS[i][0]);
        char buf[512];
        if (v && i == 1) { /* Content-Encoding: "aws-chunked" or "gzip,aws-chunked" */
            snprintf(buf, sizeof buf, "%s", v);
            char *a = strstr(buf, "aws-chunked");
            if (a) {
                memmove(a, a + 11, strlen(a + 11) + 1);
                size_t n = strlen(buf);
                while (n && (buf[n - 1] == ',' || buf[n - 1] == ' '))
                    buf[--n] = 0;
            }
            v = *buf ? buf : NULL;
        }
        if (v)
            cJSON_AddStringToObject(h, STORED_HEADERS[i][0], v);
    }
    if (!cJSON_GetObjectItem(h, "content-type"))
        cJSON_AddStringToObject(h, "content-type", "binary/octet-stream");
    out = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return out;
}

/* Everything the body had to satisfy, checked once it is complete. */
static int verify_put(struct put *p, const unsigned char md5[16], unsigned char ck[CHECKSUM_MAX_DIGEST], size_t ckn)
{
    const char *cmd5 = s3_header(&p->q, "content-md5");
    const char *decoded = s3_header(&p->q, "x-amz-decoded-content-length");
    char b64[CHECKSUM_MAX_B64];
    if (p->sha_want) {
        unsigned char d[CHECKSUM_MAX_DIGEST];
        char got[SIGV4_HEX_LEN + 1];
        const char *want = p->sha_want;
        sigv4_hex(d, checksum_final(&p->sha, d), got);
        p->sha_want = NULL;
        if (strcmp(got, want))
            return fail_put(p, S3_CONTENT_SHA256_MISMATCH, NULL, NULL);
    }
    if (p->chunked) {
        if (aws_chunked_end(p->chunked) != AWSC_DONE)
            return fail_put(p, S3_INCOMPLETE_BODY, NULL, NULL);
        if (decoded && strtoull(decoded, NULL, 10) != p->size)
            return fail_put(p, S3_INCOMPLETE_BODY, NULL, NULL);
    }
    if (cmd5) {
        unsigned char given[24];
        size_t gl = 0;
        if (strlen(cmd5) != 24 || base64_decode(cmd5, 24, given, &gl, NULL) != BASE64_OK || gl != 16)
            return fail_put(p, S3_INVALID_DIGEST, NULL, NULL);
        if (memcmp(given, md5, 16))
            return fail_put(p, S3_BAD_DIGEST, NULL, NULL);
    }
    if (p->has_ck == 1) {
        const char *want = p->ck_header;
        if (!want && p->chunked)
            want = aws_chunked_trailer(p->chunked, checksum_header(p->alg));
        if (!want)
            return fail_put(p, S3_INVALID_REQUEST,
                            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
                            "x-amz-trailer headers were found.", NULL);
        b64[base64_encode(ck, ckn, b64)] = 0;
        if (strcmp(want, b64))
            return fail_put(p, S3_BAD_DIGEST, "The %s you specified did not match the calculated checksum.",
                            checksum_name(p->alg));
    }
    return 0;
}

static void put_free(struct put *p)
{
    if (p->bw)
        db_blob_abort(p->bw);
    aws_chunked_free(p->chunked);
    if (p->hashing) {
        checksum_abort(&p->md5);
        if (p->has_ck)
            checksum_abort(&p->ck);
    }
    if (p->sha_want)
        checksum_abort(&p->sha);
    response_free(&p->answer);
    free(p->tags);
    db_upload_free(&p->upload);
    s3_free(&p->q);
    free(p);
}

static void put_finish(struct tp_stream *st, int complete, struct tp_response *rs)
{
    struct put *p = (struct put *)st;
    unsigned char md5[CHECKSUM_MAX_DIGEST], ck[CHECKSUM_MAX_DIGEST];
    size_t ckn = 0;
    struct db_extent ext;
    struct link_job j = {.bucket = p->bucket.name};

    if (!complete || p->failed || !p->bw)
        goto out;
    checksum_final(&p->md5, md5);
    if (p->has_ck)
        ckn = checksum_final(&p->ck, ck);
    p->hashing = 0;
    if (verify_put(p, md5, ck, ckn))
        goto out;
    j.o.key = p->q.key;
    j.o.size = p->size;
    j.o.last_modified_ms = p->q.now_ms / 1000 * 1000; /* S3 keeps whole seconds */
    checksum_etag(md5, j.o.etag);
    j.o.headers = p->part_number ? NULL : s3_stored_headers(&p->q);
    j.o.tags = p->tags;
    if (p->has_ck) {
        snprintf(j.o.checksum_alg, sizeof j.o.checksum_alg, "%s", checksum_name(p->alg));
        j.o.checksum[base64_encode(ck, ckn, j.o.checksum)] = 0;
    }
    if (p->part_number) {
        j.upload_id = p->upload.upload_id;
        j.part = (struct db_part){.part_number = p->part_number, .last_modified_ms = j.o.last_modified_ms};
        memcpy(j.part.etag, j.o.etag, sizeof j.part.etag);
        memcpy(j.part.checksum, p->has_ck == 1 ? j.o.checksum : "", p->has_ck == 1 ? sizeof j.part.checksum : 1);
    }
    /* the last chunk, the blob's size and the object (or part) commit together */
    int rc = db_blob_finish_with(p->bw, link_blob, &j, &ext);
    p->bw = NULL;
    free(j.o.headers);
    if (rc != TP_OK) {
        fail_put(p, rc != TP_ENOTFOUND ? S3_INTERNAL_ERROR : p->part_number ? S3_NO_SUCH_UPLOAD : S3_NO_SUCH_BUCKET,
                 NULL, NULL);
        goto out;
    }
    p->answer.status = 200;
    response_add_header(&p->answer, "ETag", j.o.etag);
    response_add_header(&p->answer, "x-amz-request-id", p->q.request_id);
    if (p->has_ck == 1) {
        response_add_header(&p->answer, checksum_header(p->alg), j.o.checksum);
        response_add_header(&p->answer, "x-amz-checksum-type", "FULL_OBJECT");
    }
out:
    /* after a refused write (complete = 0) the front still sends the error;
     * when the peer is gone it drops whatever this is */
    *rs = p->answer;
    memset(&p->answer, 0, sizeof p->answer);
    put_free(p);
}

/* Which checksum the client sent (header) or will send (trailer); p->ck is
 * set up for it (has_ck set) only when all is well. */
static int requested_checksum(struct put *p)
{
    const char *trailer = s3_header(&p->q, "x-amz-trailer");
    const char *sdk = s3_header(&p->q, "x-amz-sdk-checksum-algorithm");
    enum checksum_alg alg = CK_CRC64NVME;
    int named = 0;
    for (size_t i = 0; i < p->q.n_headers; i++) {
        enum checksum_alg a;
        if (checksum_from_header(p->q.headers[i].name, &a) == 0 && a != CK_MD5) {
            if (named)
                return fail_put(p, S3_INVALID_REQUEST, "Expecting a single x-amz-checksum- header", NULL);
            alg = a;
            named = 1;
            p->ck_header = p->q.headers[i].value;
        }
    }
    if (!named && trailer && checksum_from_header(trailer, &alg) == 0)
        named = 1;
    if (!named && sdk) {
        if (checksum_from_name(sdk, &alg))
            return fail_put(p, S3_INVALID_REQUEST, "Value for x-amz-sdk-checksum-algorithm header is invalid.", NULL);
        named = 1;
    }
    /* without one named, S3 gives every new object a CRC64NVME */
    if (checksum_init(&p->ck, alg))
        return fail_put(p, S3_INTERNAL_ERROR, NULL, NULL);
    p->alg = alg;
    p->has_ck = named ? 1 : 2;
    return 0;
}

/* The upload an UploadPart names, with its part number checked. */
static int part_target(struct put *p)
{
    const char *id = s3_param(&p->q, "uploadId"), *num = s3_param(&p->q, "partNumber");
    char *end;
    unsigned long n = num ? strtoul(num, &end, 10) : 0;
    if (!num || *end || n < 1 || n > 10000)
        return fail_put(p, S3_INVALID_ARGUMENT, "Part number must be an integer between 1 and 10000, inclusive",
                        NULL);
    struct db_conn *c = db_reader_acquire();
    int rc = db_upload_get(c, id, &p->upload);
    db_reader_release(c);
    if (rc != TP_OK || p->upload.bucket_id != p->bucket.id || strcmp(p->upload.key, p->q.key))
        return fail_put(p, rc == TP_OK || rc == TP_ENOTFOUND ? S3_NO_SUCH_UPLOAD : S3_INTERNAL_ERROR, NULL, NULL);
    p->part_number = (unsigned)n;
    return 0;
}

/* PutObject and UploadPart: the same body handling, a different home. */
static struct tp_stream *put_open(struct s3_req *q, int part)
{
    struct put *p = calloc(1, sizeof *p);
    if (!p || checksum_init(&p->md5, CK_MD5)) {
        free(p);
        return NULL;
    }
    p->hashing = 1;
    p->st.write = put_write;
    p->st.finish = put_finish;
    p->q = *q; /* takes over the request's allocations */
    p->q.rs = &p->answer;
    memset(q, 0, sizeof *q);

    const char *enc = s3_header(&p->q, "content-encoding");
    const char *sha = s3_header(&p->q, "x-amz-content-sha256");
    if (strlen(p->q.key) > DB_KEY_MAX)
        fail_put(p, S3_KEY_TOO_LONG, NULL, NULL);
    else if (s3_bucket_or_reply(&p->q, &p->bucket))
        p->failed = 1;
    else if (part && part_target(p))
        ;
    else if (!part && s3_tagging_header(&p->q, &p->tags))
        p->failed = 1;
    else if (requested_checksum(p))
        ;
    else if (!(p->bw = db_blob_begin()))
        fail_put(p, S3_INTERNAL_ERROR, NULL, NULL);
    else if ((enc && strstr(enc, "aws-chunked")) || (sha && !strncmp(sha, "STREAMING-", 10))) {
        if (sha && strstr(sha, "ECDSA"))
            fail_put(p, S3_NOT_IMPLEMENTED, "SigV4a streaming payloads are not supported.", NULL);
        else if (!(p->chunked = aws_chunked_new(put_bytes, p)))
            fail_put(p, S3_INTERNAL_ERROR, NULL, NULL);
        else if (p->q.chain)
            aws_chunked_verify(p->chunked, p->q.chain);
    } else if (s3_signed_body_hash(&p->q)) {
        if (checksum_init(&p->sha, CK_SHA256))
            fail_put(p, S3_INTERNAL_ERROR, NULL, NULL);
        else
            p->sha_want = s3_signed_body_hash(&p->q);
    }
    return &p->st;
}

struct tp_stream *s3_put_object_open(struct s3_req *q)
{
    return put_open(q, 0);
}

struct tp_stream *s3_upload_part_open(struct s3_req *q)
{
    return put_open(q, 1);
}

/* ---- GetObject, HeadObject ---- */

struct body {
    struct tp_source src;
    struct db_conn *c;      /* held, in one read transaction, until close */
    struct db_object o;
    uint64_t start;
};

static long body_read(struct tp_source *src, uint64_t pos, void *buf, size_t max)
{
    struct body *b = (struct body *)src;
    size_t got = 0;
    if (pos >= src->length)
        return 0;
    if (max > src->length - pos)
        max = (size_t)(src->length - pos);
    if (db_blob_read(b->c, b->o.extents, b->o.n_extents, b->start + pos, buf, max, &got) != TP_OK || !got)
        return -1;
    return (long)got;
}

static void body_close(struct tp_source *src)
{
    struct body *b = (struct body *)src;
    db_read_end(b->c);
    db_reader_release(b->c);
    db_object_free(&b->o);
    free(b);
}

static int etag_matches(const char *list, const char *etag)
{
    if (!strcmp(list, "*"))
        return 1;
    /* a comma-separated list of quoted (or bare) ETags */
    size_t el = strlen(etag) - 2;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p + strcspn(p, ",");
        const char *s = p, *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        if (t - s >= 2 && *s == '"' && t[-1] == '"') {
            s++;
            t--;
        }
        if ((size_t)(t - s) == el && !strncmp(s, etag + 1, el))
            return 1;
        p = e;
    }
    return 0;
}

static int parse_http_date(const char *s, uint64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    *ms = (uint64_t)timegm(&tm) * 1000;
    return 0;
}

int s3_preconditions(const struct s3_req *q, const struct db_object *o, const char *prefix)
{
    char n[4][64];
    static const char *const NAMES[] = {"if-match", "if-none-match", "if-modified-since", "if-unmodified-since"};
    for (int i = 0; i < 4; i++)
        snprintf(n[i], sizeof n[i], "%s%s", prefix, NAMES[i]);
    const char *im = s3_header(q, n[0]), *inm = s3_header(q, n[1]);
    const char *ims = s3_header(q, n[2]), *ius = s3_header(q, n[3]);
    uint64_t t;
    if (im && !etag_matches(im, o->etag))
        return 412;
    if (!im && ius && !parse_http_date(ius, &t) && o->last_modified_ms > t)
        return 412;
    if (inm && etag_matches(inm, o->etag))
        return 304;
    if (!inm && ims && !parse_http_date(ims, &t) && o->last_modified_ms <= t)
        return 304;
    return 0;
}

/* "bytes=a-b", "bytes=a-", "bytes=-n" against size: 1 with [*start, *end],
 * 0 when absent or not a single byte range (S3 then sends it all), -1 when
 * unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
    unsigned long long a, b;
    char tail;
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
        return 0;
    h += 6;
    if (sscanf(h, "-%llu%c", &b, &tail) == 1) {
        if (!b || !size)
            return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (sscanf(h, "%llu-%llu%c", &a, &b, &tail) == 2) {
        if (b < a)
            return 0;
    } else if (sscanf(h, "%llu-%c", &a, &tail) == 1 && h[strlen(h) - 1] == '-') {
        b = size ? size - 1 : 0;
    } else {
        return 0;
    }
    if (a >= size)
        return -1;
    *start = a;
    *end = b >= size ? size - 1 : b;
    return 1;
}

static void object_headers(struct s3_req *q, const struct db_object *o)
{
    static const char *const OVERRIDES[][2] = {
        {"response-content-type", "Content-Type"},       {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},                 {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"}};
    char date[40];
    cJSON *h = o->headers ? cJSON_Parse(o->headers) : NULL, *e;
    http_date(o->last_modified_ms, date);
    response_add_header(q->rs, "ETag", o->etag);
    response_add_header(q->rs, "Last-Modified", date);
    response_add_header(q->rs, "Accept-Ranges", "bytes");
    for (unsigned i = 0; i < N_STORED; i++) {
        const char *over = NULL;
        for (unsigned k = 0; k < sizeof OVERRIDES / sizeof *OVERRIDES; k++)
            if (!strcmp(OVERRIDES[k][1], STORED_HEADERS[i][1]))
                over = s3_param(q, OVERRIDES[k][0]);
        e = cJSON_GetObjectItem(h, STORED_HEADERS[i][0]);
        if (over || cJSON_IsString(e))
            response_add_header(q->rs, STORED_HEADERS[i][1], over ? over : e->valuestring);
    }
    cJSON_ArrayForEach(e, h) {
        if (!strncmp(e->string, "x-amz-meta-", 11) && cJSON_IsString(e))
            response_add_header(q->rs, e->string, e->valuestring);
    }
    cJSON_Delete(h);
    cJSON *tags = o->tags ? cJSON_Parse(o->tags) : NULL;
    if (cJSON_GetArraySize(tags) > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", cJSON_GetArraySize(tags));
        response_add_header(q->rs, "x-amz-tagging-count", n);
    }
    cJSON_Delete(tags);
    if (o->n_extents > 1) {
        char n[16];
        snprintf(n, sizeof n, "%u", o->n_extents);
        response_add_header(q->rs, "x-amz-mp-parts-count", n);
    }
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
}

/* GetObject and HeadObject: preconditions, one byte range or one part, the
 * stored headers (response-* overrides), the checksum when asked for; the
 * body is read while it is sent. */
int s3_get_object(struct s3_req *q)
{
    struct db_bucket bk;
    struct body *b;
    uint64_t start = 0, end = 0;
    int ranged = 0, rc;
    char hdr[128];

    if (s3_bucket_or_reply(q, &bk))
        return -1;
    if (!(b = calloc(1, sizeof *b)))
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    b->c = db_reader_acquire();
    db_read_begin(b->c);
    rc = db_object_get(b->c, bk.id, q->key, &b->o);
    if (rc != TP_OK) {
        body_close(&b->src);
        return s3_error(q, rc == TP_ENOTFOUND ? S3_NO_SUCH_KEY : S3_INTERNAL_ERROR, NULL);
    }
    switch (s3_preconditions(q, &b->o, "")) {
    case 412:
        body_close(&b->src);
        return s3_error(q, S3_PRECONDITION_FAILED, NULL);
    case 304:
        q->rs->status = 304;
        object_headers(q, &b->o);
        body_close(&b->src);
        return 0;
    }
    const char *part = s3_param(q, "partNumber");
    if (part) {
        char *endp;
        unsigned long n = strtoul(part, &endp, 10);
        if (*endp || n < 1 || n > b->o.n_extents) {
            body_close(&b->src);
            return s3_error(q, n < 1 || *endp ? S3_INVALID_ARGUMENT : S3_INVALID_RANGE,
                            n < 1 || *endp ? "Part number must be an integer between 1 and 10000, inclusive" : NULL);
        }
        for (unsigned long i = 0; i + 1 < n; i++)
            start += b->o.extents[i].size;
        end = start + b->o.extents[n - 1].size - 1;
        ranged = b->o.n_extents > 1 || b->o.size > 0;
    } else {
        switch (parse_range(s3_header(q, "range"), b->o.size, &start, &end)) {
        case -1:
            snprintf(hdr, sizeof hdr, "bytes */%llu", (unsigned long long)b->o.size);
            response_add_header(q->rs, "Content-Range", hdr);
            body_close(&b->src);
            return s3_error(q, S3_INVALID_RANGE, NULL);
        case 1:
            ranged = 1;
            break;
        default:
            end = b->o.size ? b->o.size - 1 : 0;
        }
    }
    q->rs->status = ranged ? 206 : 200;
    object_headers(q, &b->o);
    if (ranged) {
        snprintf(hdr, sizeof hdr, "bytes %llu-%llu/%llu", (unsigned long long)start, (unsigned long long)end,
                 (unsigned long long)b->o.size);
        response_add_header(q->rs, "Content-Range", hdr);
    }
    const char *mode = s3_header(q, "x-amz-checksum-mode");
    if (mode && !strcasecmp(mode, "ENABLED") && !ranged && b->o.checksum_alg[0]) {
        enum checksum_alg a;
        if (checksum_from_name(b->o.checksum_alg, &a) == 0) {
            response_add_header(q->rs, checksum_header(a), b->o.checksum);
            response_add_header(q->rs, "x-amz-checksum-type", strchr(b->o.checksum, '-') ? "COMPOSITE" : "FULL_OBJECT");
        }
    }
    b->start = start;
    b->src.length = b->o.size ? end - start + 1 : 0;
    b->src.read = body_read;
    b->src.close = body_close;
    q->rs->source = &b->src;
    return 0;
}

/* ---- DeleteObject ---- */

struct delete_job {
    int64_t bucket_id;
    const char *key;
};

static int delete_job(struct db_conn *w, void *ctx)
{
    struct delete_job *j = ctx;
    int rc = db_object_delete(w, j->bucket_id, j->key);
    return rc == TP_ENOTFOUND ? TP_OK : rc;
}

/* DeleteObject: 204 whether or not the key existed, as S3 answers. */
int s3_delete_object(struct s3_req *q)
{
    struct db_bucket b;
    if (s3_bucket_or_reply(q, &b))
        return -1;
    struct delete_job j = {b.id, q->key};
    if (db_write(delete_job, &j) != TP_OK)
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    q->rs->status = 204;
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    return 0;
}
