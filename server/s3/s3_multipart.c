/* S3 multipart uploads: CreateMultipartUpload, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads. (UploadPart streams
 * its body: s3_objects.c.) The ETag of a completed upload is the MD5 of the
 * parts' binary MD5s, then "-<parts>"; a checksum named at creation becomes
 * the composite checksum of the parts' checksums, "<base64>-<parts>".
 * Touches: uploads, parts, objects, blobs (storage/uploads.c). */
#include "server/s3/s3.h"
#include "server/runtime/config.h"
#include "protocol/base64.h"
#include "protocol/checksum.h"
#include "storage/uploads.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_PART_SIZE (5 * 1024 * 1024)
#define MAX_PARTS 10000

/* The upload q names (?uploadId=) on q's bucket and key, or NoSuchUpload. */
static int upload_or_reply(struct s3_req *q, const struct db_bucket *b, struct db_upload *u)
{
    const char *id = s3_param(q, "uploadId");
    struct db_conn *c = db_reader_acquire();
    int rc = id ? db_upload_get(c, id, u) : TP_ENOTFOUND;
    db_reader_release(c);
    if (rc == TP_OK && (u->bucket_id != b->id || strcmp(u->key, q->key))) {
        db_upload_free(u);
        rc = TP_ENOTFOUND;
    }
    if (rc != TP_OK)
        return s3_error(q, rc == TP_ENOTFOUND ? S3_NO_SUCH_UPLOAD : S3_INTERNAL_ERROR, NULL);
    return 0;
}

struct create_job {
    struct db_upload u;
};

static int create_job(struct db_conn *w, void *ctx)
{
    return db_upload_create(w, &((struct create_job *)ctx)->u);
}

/* CreateMultipartUpload: an upload id; the object's headers are taken now. */
int s3_create_multipart_upload(struct s3_req *q)
{
    struct db_bucket b;
    struct create_job j = {0};
    unsigned char rnd[24];
    const char *alg = s3_header(q, "x-amz-checksum-algorithm");
    enum checksum_alg a;

    if (s3_bucket_or_reply(q, &b))
        return -1;
    if (alg && (checksum_from_name(alg, &a) || a == CK_MD5))
        return s3_error(q, S3_INVALID_REQUEST, "Checksum algorithm provided is unsupported.");
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    j.u.upload_id[base64_encode(rnd, sizeof rnd, j.u.upload_id)] = 0;
    /* URL-safe, as it travels in query strings, and never starting with '-',
     * which the AWS CLI would take for an option (`--upload-id -abc…`) */
    for (char *c = j.u.upload_id; *c; c++)
        *c = *c == '+' ? '.' : *c == '/' ? '_' : *c;
    j.u.bucket_id = b.id;
    j.u.key = q->key;
    j.u.created_ms = q->now_ms;
    j.u.headers = s3_stored_headers(q);
    if (s3_tagging_header(q, &j.u.tags)) {
        free(j.u.headers);
        return -1;
    }
    if (alg)
        snprintf(j.u.checksum_alg, sizeof j.u.checksum_alg, "%s", checksum_name(a));
    int rc = db_write(create_job, &j);
    free(j.u.headers);
    free(j.u.tags);
    if (rc != TP_OK)
        return s3_error(q, rc == TP_ENOTFOUND ? S3_NO_SUCH_BUCKET : S3_INTERNAL_ERROR, NULL);
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "InitiateMultipartUploadResult", S3_NS);
    xw_elem(&w, "Bucket", b.name);
    xw_elem(&w, "Key", q->key);
    xw_elem(&w, "UploadId", j.u.upload_id);
    xw_close(&w, "InitiateMultipartUploadResult");
    s3_reply_xml(q, &w);
    if (alg) {
        response_add_header(q->rs, "x-amz-checksum-algorithm", j.u.checksum_alg);
        response_add_header(q->rs, "x-amz-checksum-type", "COMPOSITE");
    }
    return 0;
}

/* ---- CompleteMultipartUpload ---- */

struct stored_parts {
    struct db_part *v;
    unsigned n, cap;
};

static int collect_part(void *ctx, const struct db_part *p)
{
    struct stored_parts *s = ctx;
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 64;
        struct db_part *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return 1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = *p;
    return 0;
}

static const struct db_part *find_part(const struct stored_parts *s, unsigned number)
{
    for (unsigned i = 0; i < s->n; i++) /* parts come sorted: could bisect; lists are short */
        if (s->v[i].part_number == number)
            return &s->v[i];
    return NULL;
}

/* "…" or bare hex: equal ETags. */
static int same_etag(const char *given, const char *stored)
{
    size_t gl = strlen(given);
    if (gl >= 2 && given[0] == '"' && given[gl - 1] == '"') {
        given++;
        gl -= 2;
    }
    return strlen(stored) == gl + 2 && !strncasecmp(stored + 1, given, gl);
}

static int hexbyte(const char *h)
{
    unsigned v;
    return sscanf(h, "%2x", &v) == 1 ? (int)v : -1;
}

struct complete_job {
    const char *upload_id;
    struct db_object o;
};

static int complete_job(struct db_conn *w, void *ctx)
{
    struct complete_job *j = ctx;
    return db_upload_complete(w, j->upload_id, &j->o);
}

/* CompleteMultipartUpload: the listed parts, ascending, each as uploaded
 * (ETag), all but the last at least 5 MiB, become the object. */
int s3_complete_multipart_upload(struct s3_req *q)
{
    struct db_bucket b;
    struct db_upload u = {0};
    struct stored_parts have = {0};
    struct xml_node *doc = NULL;
    struct complete_job j = {0};
    struct checksum md5s, cks;
    enum checksum_alg alg = CK_CRC32;
    int rc = -1, has_ck = 0, hashing = 0;

    if (s3_bucket_or_reply(q, &b) || upload_or_reply(q, &b, &u))
        return -1;
    has_ck = u.checksum_alg[0] && !checksum_from_name(u.checksum_alg, &alg);
    doc = xml_parse((const char *)q->body, q->body_len, NULL);
    if (!doc || strcmp(doc->name, "CompleteMultipartUpload") || !xml_child(doc, "Part")) {
        s3_error(q, S3_MALFORMED_XML, NULL);
        goto out;
    }
    struct db_conn *c = db_reader_acquire();
    int err = db_upload_parts(c, u.upload_id, 0, collect_part, &have);
    db_reader_release(c);
    if (err != TP_OK || checksum_init(&md5s, CK_MD5) || (has_ck && checksum_init(&cks, alg))) {
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    hashing = 1;
    unsigned n = 0, last = 0;
    for (const struct xml_node *pn = doc->child; pn; pn = pn->next)
        n += !strcmp(pn->name, "Part");
    if (n > MAX_PARTS || !(j.o.extents = calloc(n, sizeof *j.o.extents))) {
        s3_error(q, n > MAX_PARTS ? S3_MALFORMED_XML : S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    for (const struct xml_node *pn = doc->child; pn; pn = pn->next) {
        if (strcmp(pn->name, "Part"))
            continue;
        const struct xml_node *num = xml_child(pn, "PartNumber"), *etag = xml_child(pn, "ETag");
        char *end;
        unsigned long number = num ? strtoul(num->text, &end, 10) : 0;
        if (!num || !etag || *end || number < 1 || number > MAX_PARTS) {
            s3_error(q, S3_MALFORMED_XML, NULL);
            goto out;
        }
        if (number <= last) {
            s3_error(q, S3_INVALID_PART_ORDER, NULL);
            goto out;
        }
        const struct db_part *p = find_part(&have, (unsigned)number);
        if (!p || !same_etag(etag->text, p->etag)) {
            s3_error(q, S3_INVALID_PART, NULL);
            goto out;
        }
        if (j.o.n_extents && j.o.extents[j.o.n_extents - 1].size < MIN_PART_SIZE) {
            s3_error(q, S3_ENTITY_TOO_SMALL, NULL);
            goto out;
        }
        unsigned char bin[16];
        for (int i = 0; i < 16; i++)
            bin[i] = (unsigned char)hexbyte(p->etag + 1 + 2 * i);
        checksum_update(&md5s, bin, 16);
        if (has_ck) {
            unsigned char d[CHECKSUM_MAX_DIGEST];
            size_t dl;
            if (base64_decode(p->checksum, strlen(p->checksum), d, &dl, NULL) != BASE64_OK ||
                dl != checksum_digest_len(alg)) {
                s3_error(q, S3_INVALID_PART, NULL); /* a part uploaded without the upload's checksum */
                goto out;
            }
            checksum_update(&cks, d, dl);
        }
        j.o.extents[j.o.n_extents++] = p->ext;
        j.o.size += p->ext.size;
        last = (unsigned)number;
    }
    unsigned char digest[CHECKSUM_MAX_DIGEST];
    checksum_final(&md5s, digest);
    checksum_etag(digest, j.o.etag); /* then "-<parts>" inside the quotes */
    snprintf(j.o.etag + 33, sizeof j.o.etag - 33, "-%u\"", j.o.n_extents);
    if (has_ck) {
        size_t dl = checksum_final(&cks, digest);
        size_t bl = base64_encode(digest, dl, j.o.checksum);
        snprintf(j.o.checksum + bl, sizeof j.o.checksum - bl, "-%u", j.o.n_extents);
        snprintf(j.o.checksum_alg, sizeof j.o.checksum_alg, "%s", checksum_name(alg));
    }
    hashing = 0;
    j.upload_id = u.upload_id;
    j.o.bucket_id = b.id;
    j.o.key = q->key;
    j.o.last_modified_ms = q->now_ms / 1000 * 1000;
    j.o.headers = u.headers;
    j.o.tags = u.tags;
    switch (db_write(complete_job, &j)) {
    case TP_OK:
        break;
    case TP_ENOTFOUND:
        s3_error(q, S3_NO_SUCH_UPLOAD, NULL);
        goto out;
    case TP_EIO: /* a listed part was re-uploaded meanwhile: no longer the part named */
        s3_error(q, S3_INVALID_PART, NULL);
        goto out;
    default:
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    struct xw w;
    char location[2200];
    snprintf(location, sizeof location, "/%s/%s", b.name, q->key);
    xw_init(&w);
    xw_doc_begin(&w, "CompleteMultipartUploadResult", S3_NS);
    xw_elem(&w, "Location", location);
    xw_elem(&w, "Bucket", b.name);
    xw_elem(&w, "Key", q->key);
    xw_elem(&w, "ETag", j.o.etag);
    if (has_ck) {
        char tag[32];
        snprintf(tag, sizeof tag, "Checksum%s", j.o.checksum_alg);
        xw_elem(&w, tag, j.o.checksum);
        xw_elem(&w, "ChecksumType", "COMPOSITE");
    }
    xw_close(&w, "CompleteMultipartUploadResult");
    s3_reply_xml(q, &w);
    rc = 0;
out:
    if (hashing) {
        checksum_abort(&md5s);
        if (has_ck)
            checksum_abort(&cks);
    }
    free(j.o.extents);
    free(have.v);
    xml_free(doc);
    db_upload_free(&u);
    return rc;
}

/* ---- AbortMultipartUpload ---- */

static int abort_job(struct db_conn *w, void *ctx)
{
    return db_upload_abort(w, ctx);
}

/* AbortMultipartUpload: 204; the parts' bytes go. */
int s3_abort_multipart_upload(struct s3_req *q)
{
    struct db_bucket b;
    struct db_upload u;
    if (s3_bucket_or_reply(q, &b) || upload_or_reply(q, &b, &u))
        return -1;
    int rc = db_write(abort_job, u.upload_id);
    db_upload_free(&u);
    if (rc != TP_OK)
        return s3_error(q, rc == TP_ENOTFOUND ? S3_NO_SUCH_UPLOAD : S3_INTERNAL_ERROR, NULL);
    q->rs->status = 204;
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    return 0;
}

/* ---- ListParts, ListMultipartUploads ---- */

static void owner_initiator(struct xw *w)
{
    static const char *const TAGS[] = {"Initiator", "Owner"};
    for (int i = 0; i < 2; i++) {
        xw_open(w, TAGS[i]);
        xw_elem(w, "ID", "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a");
        xw_elem(w, "DisplayName", "tidepool");
        xw_close(w, TAGS[i]);
    }
}

static long int_param(const struct s3_req *q, const char *name, long dflt, long max)
{
    const char *v = s3_param(q, name);
    char *end;
    long n = v ? strtol(v, &end, 10) : dflt;
    if (v && (*end || !*v || n < 0))
        return -1;
    return n > max ? max : n;
}

struct parts_page {
    struct xw *w;
    const char *alg;
    long max, count;
    unsigned last;
    int truncated;
};

static int part_row(void *ctx, const struct db_part *p)
{
    struct parts_page *pg = ctx;
    if (pg->count == pg->max) {
        pg->truncated = 1;
        return 1;
    }
    pg->count++;
    pg->last = p->part_number;
    xw_open(pg->w, "Part");
    xw_elem_u64(pg->w, "PartNumber", p->part_number);
    xw_elem_time(pg->w, "LastModified", p->last_modified_ms);
    xw_elem(pg->w, "ETag", p->etag);
    xw_elem_u64(pg->w, "Size", p->ext.size);
    if (pg->alg[0] && p->checksum[0]) {
        char tag[32];
        snprintf(tag, sizeof tag, "Checksum%s", pg->alg);
        xw_elem(pg->w, tag, p->checksum);
    }
    xw_close(pg->w, "Part");
    return 0;
}

/* ListParts: the parts so far, max-parts (≤ 1000) after part-number-marker. */
int s3_list_parts(struct s3_req *q)
{
    struct db_bucket b;
    struct db_upload u;
    struct xw w, parts;
    long max = int_param(q, "max-parts", 1000, 1000), marker = int_param(q, "part-number-marker", 0, MAX_PARTS);
    if (s3_bucket_or_reply(q, &b) || upload_or_reply(q, &b, &u))
        return -1;
    if (max < 0 || marker < 0) {
        db_upload_free(&u);
        return s3_error(q, S3_INVALID_ARGUMENT, NULL);
    }
    xw_init(&parts);
    struct parts_page pg = {&parts, u.checksum_alg, max, 0, (unsigned)marker, 0};
    struct db_conn *c = db_reader_acquire();
    int rc = db_upload_parts(c, u.upload_id, (unsigned)marker, part_row, &pg);
    db_reader_release(c);
    if (rc != TP_OK) {
        xw_free(&parts);
        db_upload_free(&u);
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
    size_t plen;
    char *pxml = xw_take(&parts, &plen);
    xw_init(&w);
    xw_doc_begin(&w, "ListPartsResult", S3_NS);
    xw_elem(&w, "Bucket", b.name);
    xw_elem(&w, "Key", q->key);
    xw_elem(&w, "UploadId", u.upload_id);
    xw_elem_u64(&w, "PartNumberMarker", (uint64_t)marker);
    xw_elem_u64(&w, "NextPartNumberMarker", pg.last);
    xw_elem_u64(&w, "MaxParts", (uint64_t)max);
    xw_elem(&w, "IsTruncated", pg.truncated ? "true" : "false");
    xw_raw(&w, pxml, plen);
    owner_initiator(&w);
    xw_elem(&w, "StorageClass", "STANDARD");
    if (u.checksum_alg[0]) {
        xw_elem(&w, "ChecksumAlgorithm", u.checksum_alg);
        xw_elem(&w, "ChecksumType", "COMPOSITE");
    }
    xw_close(&w, "ListPartsResult");
    free(pxml);
    db_upload_free(&u);
    s3_reply_xml(q, &w);
    return 0;
}

struct uploads_page {
    struct xw *w;
    long max, count;
    int truncated;
    char *next_key, *next_id;
};

static int upload_row(void *ctx, const struct db_upload *u)
{
    struct uploads_page *pg = ctx;
    if (pg->count == pg->max) {
        pg->truncated = 1;
        return 1;
    }
    pg->count++;
    free(pg->next_key);
    free(pg->next_id);
    pg->next_key = strdup(u->key);
    pg->next_id = strdup(u->upload_id);
    xw_open(pg->w, "Upload");
    xw_elem(pg->w, "Key", u->key);
    xw_elem(pg->w, "UploadId", u->upload_id);
    owner_initiator(pg->w);
    xw_elem(pg->w, "StorageClass", "STANDARD");
    xw_elem_time(pg->w, "Initiated", u->created_ms);
    xw_close(pg->w, "Upload");
    return 0;
}

/* ListMultipartUploads: uploads in progress by key, then initiation. */
int s3_list_multipart_uploads(struct s3_req *q)
{
    struct db_bucket b;
    struct xw w, ups;
    const char *prefix = s3_param(q, "prefix"), *km = s3_param(q, "key-marker"), *im = s3_param(q, "upload-id-marker");
    long max = int_param(q, "max-uploads", 1000, 1000);
    if (s3_bucket_or_reply(q, &b))
        return -1;
    if (max < 0)
        return s3_error(q, S3_INVALID_ARGUMENT, NULL);
    xw_init(&ups);
    struct uploads_page pg = {&ups, max, 0, 0, NULL, NULL};
    struct db_conn *c = db_reader_acquire();
    int rc = db_uploads_list(c, b.id, prefix ? prefix : "", km ? km : "", im ? im : "", upload_row, &pg);
    db_reader_release(c);
    if (rc != TP_OK) {
        xw_free(&ups);
        free(pg.next_key);
        free(pg.next_id);
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
    size_t ulen;
    char *uxml = xw_take(&ups, &ulen);
    xw_init(&w);
    xw_doc_begin(&w, "ListMultipartUploadsResult", S3_NS);
    xw_elem(&w, "Bucket", b.name);
    xw_elem(&w, "KeyMarker", km ? km : "");
    xw_elem(&w, "UploadIdMarker", im ? im : "");
    if (pg.truncated) {
        xw_elem(&w, "NextKeyMarker", pg.next_key ? pg.next_key : "");
        xw_elem(&w, "NextUploadIdMarker", pg.next_id ? pg.next_id : "");
    }
    if (prefix)
        xw_elem(&w, "Prefix", prefix);
    xw_elem_u64(&w, "MaxUploads", (uint64_t)max);
    xw_elem(&w, "IsTruncated", pg.truncated ? "true" : "false");
    xw_raw(&w, uxml, ulen);
    xw_close(&w, "ListMultipartUploadsResult");
    free(uxml);
    free(pg.next_key);
    free(pg.next_id);
    s3_reply_xml(q, &w);
    return 0;
}
