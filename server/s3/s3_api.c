/* S3: addressing (path-style and virtual-hosted), the query, the XML error
 * answer and the operation table. Operations are chosen from the method, the
 * level (service, bucket, object) and the subresource named in the query. */
#define _GNU_SOURCE /* vasprintf */
#include "server/s3/s3.h"
#include "server/net/auth.h"
#include "server/runtime/config.h"
#include "protocol/urlcode.h"
#include "protocol/utf8.h"
#include "storage/db.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- addressing ---- */

char *s3_url_decode(const char *s, size_t n, int plus, int *bad)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t len = url_decode(s, n, plus, out);
    /* AWS refuses such names (400 InvalidURI); kept, a NUL would cut the
     * name short and bad UTF-8 would make listings invalid XML */
    if (memchr(out, 0, len) || !utf8_valid(out, len))
        *bad = 1;
    return out;
}

char *s3_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-_.~/", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

/* "bucket" when h is "bucket.<domain>" (domain given without the dot). */
static char *under_domain(const char *h, size_t n, const char *domain)
{
    size_t dl = strlen(domain);
    if (n > dl + 1 && h[n - dl - 1] == '.' && !strcasecmp(h + n - dl, domain))
        return strndup(h, n - dl - 1);
    return NULL;
}

/* The bucket named by a virtual-hosted Host, or NULL for path-style. */
static char *host_bucket(const char *host)
{
    static const char *const DOMAINS[] = {"s3.localhost", "s3.amazonaws.com", "localhost"};
    char h[256], *b = NULL;
    size_t n = strcspn(host, ":");
    if (n >= sizeof h)
        return NULL;
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    h[n] = 0;
    for (unsigned i = 0; i < g_cfg.n_s3_domains && !b; i++)
        b = under_domain(h, n, g_cfg.s3_domains[i]);
    for (unsigned i = 0; i < sizeof DOMAINS / sizeof *DOMAINS && !b; i++)
        b = under_domain(h, n, DOMAINS[i]);
    if (b)
        return b;
    /* bucket.s3.<region>.amazonaws.com and bucket.s3-<region>.amazonaws.com */
    const char *s3 = strstr(h, ".s3.");
    if (!s3)
        s3 = strstr(h, ".s3-");
    if (s3 && s3 > h && n > 14 && !strcmp(h + n - 14, ".amazonaws.com"))
        return strndup(h, (size_t)(s3 - h));
    return NULL;
}

static int parse_query(struct s3_req *q, const char *query, int *bad)
{
    size_t n = 0;
    for (const char *p = query; *p; p++)
        n += *p == '&';
    q->params = calloc(n + 1, sizeof *q->params);
    if (!q->params)
        return -1;
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (len) {
            struct s3_param *pp = &q->params[q->n_params++];
            pp->name = s3_url_decode(p, eq ? (size_t)(eq - p) : len, 1, bad);
            pp->value = eq ? s3_url_decode(eq + 1, len - (size_t)(eq + 1 - p), 1, bad) : strdup("");
            if (!pp->name || !pp->value)
                return -1;
        }
        p += len + (p[len] == '&');
    }
    return 0;
}

const char *s3_param(const struct s3_req *q, const char *name)
{
    for (unsigned i = 0; i < q->n_params; i++)
        if (!strcmp(q->params[i].name, name))
            return q->params[i].value;
    return NULL;
}

const char *s3_header(const struct s3_req *q, const char *lname)
{
    for (size_t i = 0; i < q->n_headers; i++)
        if (!strcasecmp(q->headers[i].name, lname))
            return q->headers[i].value;
    return NULL;
}

/* Region of a SigV4 credential scope in the Authorization header or query. */
static void scope_region(struct s3_req *q)
{
    const char *auth = s3_header(q, "authorization");
    const char *cred = auth ? strstr(auth, "Credential=") : NULL;
    cred = cred ? cred + 11 : s3_param(q, "X-Amz-Credential");
    for (int i = 0; i < 2 && cred; i++)
        if ((cred = strchr(cred, '/')))
            cred++;
    size_t n = cred ? strcspn(cred, "/,") : 0;
    if (n && n < sizeof q->region && cred[n] == '/')
        snprintf(q->region, sizeof q->region, "%.*s", (int)n, cred);
}

/* Whether the bucket lets anyone in without credentials. The hook for
 * bucket policies and public-read ACLs: tidepool has neither yet, so every
 * bucket is private, and anonymous requests are refused as AWS refuses them. */
static int anonymous_allowed(const struct s3_req *q)
{
    (void)q;
    return 0;
}

/* The request's credentials (auth.c) in S3's words: 0, or the error answered. */
static int authenticate(struct s3_req *q, const struct tp_request *rq, const char *host_bucket)
{
    struct auth_result r;
    enum tp_err e = TP_OK;
    const char *msg = NULL;
    auth_check(rq, 1, host_bucket, q->now_ms, &r);
    const char *const signed_fields[] = {"AWSAccessKeyId", r.access_key, "StringToSign", r.string_to_sign,
                                         "SignatureProvided", r.signature_provided, "CanonicalRequest",
                                         r.canonical_request};
    switch (r.status) {
    case AUTH_OK:
        if (r.streaming && !(q->chain = malloc(sizeof *q->chain)))
            e = S3_INTERNAL_ERROR;
        else if (r.streaming)
            *q->chain = r.chain;
        break;
    case AUTH_ANONYMOUS:
        if (!anonymous_allowed(q))
            e = S3_ACCESS_DENIED;
        break;
    case AUTH_MALFORMED:
        e = r.query ? S3_AUTH_QUERY_PARAMS : r.v2 ? S3_ACCESS_DENIED : S3_AUTH_HEADER_MALFORMED;
        msg = r.message;
        break;
    case AUTH_NO_DATE:
        e = S3_ACCESS_DENIED;
        msg = r.message;
        break;
    case AUTH_BAD_EXPIRES:
        e = S3_AUTH_QUERY_PARAMS;
        msg = r.message;
        break;
    case AUTH_UNKNOWN_KEY:
        e = S3_INVALID_ACCESS_KEY_ID;
        q->error_fields[0] = "AWSAccessKeyId";
        q->error_fields[1] = r.access_key;
        break;
    case AUTH_MISMATCH:
        e = S3_SIGNATURE_DOES_NOT_MATCH;
        for (unsigned i = 0, n = 0; i < 8; i += 2)
            if (signed_fields[i + 1]) {
                q->error_fields[n++] = signed_fields[i];
                q->error_fields[n++] = signed_fields[i + 1];
            }
        break;
    case AUTH_SKEWED:
        e = S3_REQUEST_TIME_TOO_SKEWED;
        q->error_fields[0] = "RequestTime";
        q->error_fields[1] = r.request_time;
        q->error_fields[2] = "ServerTime";
        q->error_fields[3] = r.server_time;
        q->error_fields[4] = "MaxAllowedSkewMilliseconds";
        q->error_fields[5] = "900000";
        break;
    case AUTH_EXPIRED:
        e = S3_ACCESS_DENIED;
        msg = "Request has expired";
        q->error_fields[0] = r.v2 ? "Expires" : "X-Amz-Expires";
        q->error_fields[1] = r.expires;
        q->error_fields[2] = "ServerTime";
        q->error_fields[3] = r.server_time;
        break;
    case AUTH_NO_CONTENT_SHA:
        e = S3_INVALID_REQUEST;
        msg = "Missing required header for this request: x-amz-content-sha256";
        break;
    }
    if (e != TP_OK) {
        if (msg)
            s3_error(q, e, "%s", msg);
        else
            s3_error(q, e, NULL);
    }
    memset(q->error_fields, 0, sizeof q->error_fields); /* they point into r */
    auth_result_free(&r);
    return e == TP_OK ? 0 : -1;
}

int s3_parse(struct s3_req *q, const struct tp_request *rq, struct tp_response *rs)
{
    unsigned char id[8];
    memset(q, 0, sizeof *q);
    q->rs = rs;
    q->now_ms = db_now_ms();
    snprintf(q->method, sizeof q->method, "%s", rq->method);
    snprintf(q->region, sizeof q->region, "%s", g_cfg.region);
    gnutls_rnd(GNUTLS_RND_NONCE, id, sizeof id);
    for (int i = 0; i < 8; i++)
        sprintf(q->request_id + 2 * i, "%02X", id[i]);
    q->headers = calloc(rq->n_headers + 1, sizeof *q->headers);
    if (!q->headers)
        goto oom;
    for (size_t i = 0; i < rq->n_headers; i++) {
        q->headers[i].name = strdup(rq->headers[i].name);
        q->headers[i].value = strdup(rq->headers[i].value);
        q->n_headers++;
        if (!q->headers[i].name || !q->headers[i].value)
            goto oom;
    }
    int bad = 0;
    if (parse_query(q, rq->query ? rq->query : "", &bad))
        goto oom;
    q->body = rq->body;
    q->body_len = rq->body_len;
    scope_region(q);

    const char *path = rq->path[0] == '/' ? rq->path + 1 : rq->path;
    const char *host = s3_header(q, "host");
    q->bucket = host ? host_bucket(host) : NULL;
    char *virtual_bucket = q->bucket; /* SigV2 signs it */
    if (!q->bucket && *path) {
        size_t n = strcspn(path, "/");
        q->bucket = s3_url_decode(path, n, 0, &bad);
        path += n + (path[n] == '/');
        if (!q->bucket)
            goto oom;
    }
    if (q->bucket && *path && !(q->key = s3_url_decode(path, strlen(path), 0, &bad)))
        goto oom;
    if (bad) { /* and no <Resource> that would repeat the undecodable name */
        free(q->bucket);
        free(q->key);
        q->bucket = q->key = NULL;
        return s3_error(q, S3_INVALID_URI, NULL);
    }
    if (!rq->internal && authenticate(q, rq, virtual_bucket))
        return -1;
    return 0;
oom:
    return s3_error(q, S3_INTERNAL_ERROR, NULL);
}

void s3_free(struct s3_req *q)
{
    for (unsigned i = 0; i < q->n_params; i++) {
        free(q->params[i].name);
        free(q->params[i].value);
    }
    for (size_t i = 0; i < q->n_headers; i++) {
        free(q->headers[i].name);
        free(q->headers[i].value);
    }
    free(q->params);
    free(q->headers);
    free(q->chain);
    free(q->bucket);
    free(q->key);
    memset(q, 0, sizeof *q);
}

/* ---- answers ---- */

static void common_headers(struct s3_req *q)
{
    unsigned char id2[48];
    char b64[72];
    size_t n = 0;
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    gnutls_rnd(GNUTLS_RND_NONCE, id2, sizeof id2);
    for (size_t i = 0; i < sizeof id2; i += 3, n += 4) {
        unsigned v = (unsigned)id2[i] << 16 | (unsigned)id2[i + 1] << 8 | id2[i + 2];
        b64[n] = A[v >> 18];
        b64[n + 1] = A[v >> 12 & 63];
        b64[n + 2] = A[v >> 6 & 63];
        b64[n + 3] = A[v & 63];
    }
    b64[n] = 0;
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    response_add_header(q->rs, "x-amz-id-2", b64);
}

int s3_error(struct s3_req *q, enum tp_err e, const char *fmt, ...)
{
    const struct tp_err_info *info = errors_info(e);
    char *msg = NULL;
    va_list ap;
    if (fmt) {
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
    }
    q->rs->status = info->status;
    common_headers(q);
    if (strcmp(q->method, "HEAD")) { /* HEAD answers carry no body */
        struct xw w;
        size_t len;
        xw_init(&w);
        xw_doc_begin(&w, "Error", NULL);
        xw_elem(&w, "Code", info->type);
        xw_elem(&w, "Message", msg ? msg : info->message ? info->message : "");
        for (unsigned i = 0; i + 1 < sizeof q->error_fields / sizeof *q->error_fields && q->error_fields[i]; i += 2)
            xw_elem(&w, q->error_fields[i], q->error_fields[i + 1]);
        if (q->bucket && (e == S3_NO_SUCH_BUCKET || e == S3_BUCKET_NOT_EMPTY || e == S3_BUCKET_ALREADY_OWNED))
            xw_elem(&w, "BucketName", q->bucket);
        if (q->key && e == S3_NO_SUCH_KEY)
            xw_elem(&w, "Key", q->key);
        char resource[2200];
        snprintf(resource, sizeof resource, "/%s%s%s", q->bucket ? q->bucket : "", q->key ? "/" : "",
                 q->key ? q->key : "");
        xw_elem(&w, "Resource", resource);
        xw_elem(&w, "RequestId", q->request_id);
        xw_close(&w, "Error");
        char *body = xw_take(&w, &len);
        response_add_header(q->rs, "Content-Type", "application/xml");
        response_set_body(q->rs, (unsigned char *)body, len);
    }
    log_msg(info->status >= 500 ? LOG_ERROR : LOG_DEBUG, "s3 %s /%s/%s: %s", q->method, q->bucket ? q->bucket : "",
            q->key ? q->key : "", info->type);
    free(msg);
    return -1;
}

void s3_reply_xml(struct s3_req *q, struct xw *w)
{
    size_t len;
    char *body = xw_take(w, &len);
    q->rs->status = 200;
    common_headers(q);
    response_add_header(q->rs, "Content-Type", "application/xml");
    response_set_body(q->rs, (unsigned char *)body, len);
}

int s3_bucket_or_reply(struct s3_req *q, struct db_bucket *b)
{
    struct db_conn *c = db_reader_acquire();
    int rc = db_bucket_get(c, q->bucket, b);
    db_reader_release(c);
    if (rc == TP_ENOTFOUND)
        return s3_error(q, S3_NO_SUCH_BUCKET, NULL);
    return rc == TP_OK ? 0 : s3_error(q, S3_INTERNAL_ERROR, NULL);
}

int s3_bucket_name_valid(const char *name)
{
    static const char *const BAD_PREFIX[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    static const char *const BAD_SUFFIX[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3"};
    size_t n = strlen(name);
    int dots = 0, digits_only = 1;
    if (n < 3 || n > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
        return 0;
    for (const char *p = name; *p; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '-'))
            return 0;
        if (*p == '.' && p[1] == '.')
            return 0;
        dots += *p == '.';
        digits_only &= isdigit((unsigned char)*p) || *p == '.';
    }
    if (dots == 3 && digits_only) /* an IP address */
        return 0;
    for (unsigned i = 0; i < 3; i++)
        if (!strncmp(name, BAD_PREFIX[i], strlen(BAD_PREFIX[i])))
            return 0;
    for (unsigned i = 0; i < 4; i++) {
        size_t sl = strlen(BAD_SUFFIX[i]);
        if (n > sl && !strcmp(name + n - sl, BAD_SUFFIX[i]))
            return 0;
    }
    return 1;
}

/* ---- the operation table ---- */

enum level { SERVICE, BUCKET, OBJECT };

struct s3_route {
    const char *method;
    enum level level;
    const char *sub;  /* subresource in the query, or NULL */
    s3_handler fn;
};

static const struct s3_route ROUTES[] = {
    {"GET", SERVICE, NULL, s3_list_buckets},
    {"PUT", BUCKET, NULL, s3_create_bucket},
    {"HEAD", BUCKET, NULL, s3_head_bucket},
    {"DELETE", BUCKET, NULL, s3_delete_bucket},
    {"GET", BUCKET, "location", s3_get_bucket_location},
    {"GET", BUCKET, NULL, s3_list_objects},
    {"GET", OBJECT, NULL, s3_get_object},
    {"HEAD", OBJECT, NULL, s3_get_object},
    {"DELETE", OBJECT, NULL, s3_delete_object},
    {"POST", OBJECT, "uploads", s3_create_multipart_upload},
    {"POST", OBJECT, "uploadId", s3_complete_multipart_upload},
    {"DELETE", OBJECT, "uploadId", s3_abort_multipart_upload},
    {"GET", OBJECT, "uploadId", s3_list_parts},
    {"GET", BUCKET, "uploads", s3_list_multipart_uploads},
    {"PUT", OBJECT, NULL, s3_copy_object},          /* with x-amz-copy-source; plain puts stream */
    {"PUT", OBJECT, "uploadId", s3_upload_part_copy}, /* likewise */
    {"POST", BUCKET, "delete", s3_delete_objects},
    {"GET", OBJECT, "tagging", s3_get_object_tagging},
    {"PUT", OBJECT, "tagging", s3_put_object_tagging},
    {"DELETE", OBJECT, "tagging", s3_delete_object_tagging},
};

/* Query parameters that name a subresource (an operation of its own). */
static const char *const SUBRESOURCES[] = {
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment",
    "restore", "retention", "select", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions",
    "website"};

static const char *subresource(const struct s3_req *q)
{
    for (unsigned i = 0; i < sizeof SUBRESOURCES / sizeof *SUBRESOURCES; i++)
        if (s3_param(q, SUBRESOURCES[i]))
            return SUBRESOURCES[i];
    return NULL;
}

static enum level level_of(const struct s3_req *q)
{
    return !q->bucket ? SERVICE : !q->key ? BUCKET : OBJECT;
}

/* The handler for q, or an error answered and NULL. */
static s3_handler route(struct s3_req *q)
{
    const char *sub = subresource(q);
    enum level lv = level_of(q);
    for (unsigned i = 0; i < sizeof ROUTES / sizeof *ROUTES; i++) {
        const struct s3_route *r = &ROUTES[i];
        if (r->level == lv && !strcmp(r->method, q->method) && (r->sub ? sub && !strcmp(r->sub, sub) : !sub))
            return r->fn;
    }
    if (sub || !strcmp(q->method, "POST") || (lv == OBJECT && !strcmp(q->method, "PUT")))
        s3_error(q, S3_NOT_IMPLEMENTED, "This operation is not implemented by tidepool yet.");
    else
        s3_error(q, S3_METHOD_NOT_ALLOWED, NULL);
    return NULL;
}

const char *s3_signed_body_hash(const struct s3_req *q)
{
    const char *h = s3_header(q, "x-amz-content-sha256");
    if (!auth_enabled() || !h || strlen(h) != SIGV4_HEX_LEN || strspn(h, "0123456789abcdef") != SIGV4_HEX_LEN)
        return NULL;
    return h;
}

/* A buffered body that is not the one its signature covers. */
static int payload_mismatch(const struct s3_req *q)
{
    const char *want = s3_signed_body_hash(q);
    char got[SIGV4_HEX_LEN + 1];
    return want && (sigv4_sha256_hex(q->body ? (const void *)q->body : "", q->body_len, got) || strcmp(got, want));
}

void s3_dispatch(const struct tp_request *rq, struct tp_response *rs)
{
    struct s3_req q;
    if (s3_parse(&q, rq, rs) == 0) {
        if (payload_mismatch(&q))
            s3_error(&q, S3_CONTENT_SHA256_MISMATCH, NULL);
        else if (q.bucket && strlen(q.bucket) > DB_BUCKET_NAME_MAX) /* no such bucket can exist */
            s3_error(&q, !q.key && !strcmp(q.method, "PUT") ? S3_INVALID_BUCKET_NAME : S3_NO_SUCH_BUCKET, NULL);
        else if (q.key && strlen(q.key) > DB_KEY_MAX)
            s3_error(&q, S3_KEY_TOO_LONG, NULL);
        else {
            s3_handler fn = route(&q);
            if (fn)
                fn(&q);
        }
    }
    s3_free(&q);
}

/* A PUT refused before its body: the body is not read, the answer is given. */
struct refusal {
    struct tp_stream st;
    struct tp_response answer;
};

static int refusal_write(struct tp_stream *st, const unsigned char *data, size_t n)
{
    (void)st, (void)data, (void)n;
    return 1;
}

static void refusal_finish(struct tp_stream *st, int complete, struct tp_response *rs)
{
    struct refusal *r = (struct refusal *)st;
    (void)complete;
    *rs = r->answer;
    free(r);
}

struct tp_stream *s3_stream_open(const struct tp_request *rq)
{
    struct s3_req *q;
    struct tp_stream *st = NULL;
    if (strcmp(rq->method, "PUT") || !(q = malloc(sizeof *q)))
        return NULL;
    /* only PutObject and UploadPart stream; parse into a scratch answer, and
     * let the buffered path deal with everything else */
    struct tp_response scratch = {0};
    if (s3_parse(q, rq, &scratch) != 0) {
        /* refused (credentials): no body of any size is buffered for that */
        struct refusal *r = calloc(1, sizeof *r);
        if (r) {
            r->st.write = refusal_write;
            r->st.finish = refusal_finish;
            r->answer = scratch;
            memset(&scratch, 0, sizeof scratch);
            st = &r->st;
        }
    } else if (level_of(q) == OBJECT && !s3_header(q, "x-amz-copy-source") && strlen(q->bucket) <= DB_BUCKET_NAME_MAX) {
        const char *sub = subresource(q);
        if (!sub)
            st = s3_put_object_open(q); /* moves *q into the stream */
        else if (!strcmp(sub, "uploadId"))
            st = s3_upload_part_open(q);
    }
    s3_free(q);
    free(q);
    response_free(&scratch);
    return st;
}
