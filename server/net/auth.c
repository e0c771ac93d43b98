/* The credentials check; see auth.h. SigV4 requests are rebuilt into a
 * struct sigv4_request (the headers SignedHeaders names, the path, the
 * query, the payload hash) and signed again with the key file's secret by
 * protocol/sigv4.c, the same code the replay client signs with; SigV2 (S3's
 * older HMAC-SHA1 scheme, which AWS still takes for S3) by protocol/sigv2.c. The
 * key table is written once at start-up and only read afterwards. */
#define _GNU_SOURCE /* strptime, timegm */
#include "server/net/auth.h"
#include "protocol/sigv2.h"
#include "protocol/urlcode.h"
#include "server/runtime/config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SKEW_S (15 * 60)
#define MAX_EXPIRES_S 604800 /* SigV4 presigned URLs live a week at most */
#define MAX_SIGNED_HEADERS 64

struct key {
    char *id, *secret;
};

static struct key *KEYS;
static size_t N_KEYS;

int auth_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    cJSON *doc = NULL;
    int rc = -1;

    if (!f) {
        snprintf(err, errlen, "%s: cannot be read", path);
        return -1;
    }
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, mem);
    if (mem)
        fclose(mem);
    fclose(f);
    doc = text ? cJSON_ParseWithLength(text, len) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "credentials"), *e;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
        snprintf(err, errlen, "%s: expected {\"credentials\": [{\"accessKeyId\": ..., \"secretAccessKey\": ...}]}",
                 path);
        goto out;
    }
    KEYS = calloc((size_t)cJSON_GetArraySize(list), sizeof *KEYS);
    if (!KEYS)
        goto out;
    cJSON_ArrayForEach(e, list) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "accessKeyId"));
        const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "secretAccessKey"));
        if (!id || !*id || strlen(id) >= sizeof ((struct auth_result *)0)->access_key || strpbrk(id, "/:, ") ||
            !secret || !*secret) {
            snprintf(err, errlen, "%s: credential %zu needs a non-empty accessKeyId (no '/', ':', ',' or space, "
                     "under 128 characters) and secretAccessKey", path, N_KEYS + 1);
            goto out;
        }
        for (size_t i = 0; i < N_KEYS; i++)
            if (!strcmp(KEYS[i].id, id)) {
                snprintf(err, errlen, "%s: access key %s is listed twice", path, id);
                goto out;
            }
        KEYS[N_KEYS].id = strdup(id);
        KEYS[N_KEYS].secret = strdup(secret);
        if (!KEYS[N_KEYS].id || !KEYS[N_KEYS].secret)
            goto out;
        N_KEYS++;
    }
    log_msg(LOG_INFO, "auth: %zu access keys from %s; signatures are verified", N_KEYS, path);
    rc = 0;
out:
    if (rc && !*err)
        snprintf(err, errlen, "%s: out of memory", path);
    cJSON_Delete(doc);
    free(text);
    return rc;
}

int auth_enabled(void) { return N_KEYS > 0; }

static const char *secret_of(const char *id)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].id, id))
            return KEYS[i].secret;
    return NULL;
}

/* ---- reading the request ---- */

static int has_param(const char *query, const char *name)
{
    size_t n;
    return url_query_find(query, name, &n) != NULL;
}

/* yyyymmddThhmmssZ as a time; -1 when it is not one. */
static time_t parse_amz_date(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || strlen(s) != SIGV4_DATE_LEN)
        return -1;
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    return end && !*end ? timegm(&tm) : -1;
}

/* An RFC 7231 Date header as a time; -1 when it is not one. */
static time_t parse_http_date(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    return end && !*end ? timegm(&tm) : -1;
}

static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The request time within 15 minutes of now, or SKEWED with both texts:
 * S3's (RequestTime, ServerTime) and the JSON services' message. */
static int check_skew(struct auth_result *r, time_t t, const char *as_sent, time_t now)
{
    char req[SIGV4_DATE_LEN + 1], bound[SIGV4_DATE_LEN + 1], cur[SIGV4_DATE_LEN + 1];
    if (t >= now - MAX_SKEW_S && t <= now + MAX_SKEW_S)
        return 0;
    r->status = AUTH_SKEWED;
    snprintf(r->request_time, sizeof r->request_time, "%s", as_sent);
    iso_time(now, r->server_time);
    sigv4_amz_date(t, req);
    sigv4_amz_date(now, cur);
    if (t < now) {
        sigv4_amz_date(now - MAX_SKEW_S, bound);
        snprintf(r->message, sizeof r->message, "Signature expired: %s is now earlier than %s (%s - 15 min.)", req,
                 bound, cur);
    } else {
        sigv4_amz_date(now + MAX_SKEW_S, bound);
        snprintf(r->message, sizeof r->message, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                 req, bound, cur);
    }
    return -1;
}

static int malformed(struct auth_result *r, const char *msg)
{
    r->status = AUTH_MALFORMED;
    snprintf(r->message, sizeof r->message, "%s", msg);
    return -1;
}

/* ---- SigV4 ---- */

struct v4 {
    char credential[256]; /* AKID/yyyymmdd/region/service/aws4_request */
    char signed_headers[1024];
    char signature[128];
    char amz_date[SIGV4_DATE_LEN + 1];
    /* the credential's parts */
    char *akid, *day, *region, *service;
};

/* Copies the value of "name=" in an Authorization header (up to ',' or the end). */
static int auth_field(const char *auth, const char *name, char *out, size_t outlen)
{
    const char *p = auth;
    size_t nl = strlen(name);
    while ((p = strstr(p, name))) {
        if (p == auth || p[-1] == ' ' || p[-1] == ',') {
            p += nl;
            size_t n = strcspn(p, ", ");
            if (n >= outlen)
                return -1;
            memcpy(out, p, n);
            out[n] = 0;
            return 0;
        }
        p += nl;
    }
    return -1;
}

/* Splits v->credential into its five parts. */
static int split_credential(struct v4 *v)
{
    char *parts[5], *p = v->credential;
    for (int i = 0; i < 5; i++) {
        parts[i] = p;
        p = strchr(p, '/');
        if ((i < 4) != (p != NULL))
            return -1;
        if (p)
            *p++ = 0;
    }
    if (!*parts[0] || strlen(parts[1]) != 8 || !*parts[2] || !*parts[3] || strcmp(parts[4], "aws4_request"))
        return -1;
    v->akid = parts[0];
    v->day = parts[1];
    v->region = parts[2];
    v->service = parts[3];
    return 0;
}

/* The headers SignedHeaders names, from rq (every occurrence of each). Over
 * HTTP/2 the JS SDK signs the :authority pseudo-header, which the front
 * hands on as "host". */
static size_t signed_headers(const struct tp_request *rq, char *list, struct sigv4_header *out)
{
    size_t n = 0;
    for (char *save = NULL, *name = strtok_r(list, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        const char *look = rq->http2 && !strcmp(name, ":authority") ? "host" : name;
        for (size_t i = 0; i < rq->n_headers && n < MAX_SIGNED_HEADERS; i++)
            if (!strcasecmp(rq->headers[i].name, look))
                out[n++] = (struct sigv4_header){name, rq->headers[i].value};
    }
    return n;
}

static void verify_v4(const struct tp_request *rq, int s3, struct v4 *v, struct auth_result *r)
{
    const char *secret = secret_of(v->akid);
    struct sigv4_header h[MAX_SIGNED_HEADERS];
    char body_hash[SIGV4_HEX_LEN + 1], sig[SIGV4_HEX_LEN + 1];
    const char *payload = s3 ? request_header(rq, "x-amz-content-sha256") : NULL;
    struct sigv4_trace trace = {0};

    snprintf(r->access_key, sizeof r->access_key, "%s", v->akid);
    snprintf(r->signature_provided, sizeof r->signature_provided, "%s", v->signature);
    if (!secret) {
        r->status = AUTH_UNKNOWN_KEY;
        return;
    }
    if (s3 && !payload && !r->query) {
        r->status = AUTH_NO_CONTENT_SHA;
        return;
    }
    if (!payload && s3)
        payload = "UNSIGNED-PAYLOAD"; /* presigned */
    if (!payload) {
        if (sigv4_sha256_hex(rq->body ? (const void *)rq->body : "", rq->body_len, body_hash))
            goto mismatch;
        payload = body_hash;
    }
    char list[sizeof v->signed_headers];
    snprintf(list, sizeof list, "%s", v->signed_headers);
    struct sigv4_request sr = {
        .method = rq->method, .path = rq->path, .encode_path = !s3, .query = rq->query,
        .headers = h, .n_headers = signed_headers(rq, list, h), .payload_hash = payload, .amz_date = v->amz_date,
        .region = v->region, .service = v->service, .access_key = v->akid, .secret_key = secret,
    };
    memset(&r->chain, 0, sizeof r->chain);
    if (sigv4_signature(&sr, sig, r->chain.key, &trace) || !sigv4_equal(sig, v->signature))
        goto mismatch;
    sigv4_trace_free(&trace);
    if (s3 && !r->query && !strncmp(payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 34)) {
        r->streaming = 1;
        snprintf(r->chain.amz_date, sizeof r->chain.amz_date, "%s", v->amz_date);
        snprintf(r->chain.scope, sizeof r->chain.scope, "%s/%s/%s/aws4_request", v->day, v->region, v->service);
        memcpy(r->chain.prev, sig, sizeof sig);
    } else {
        memset(&r->chain, 0, sizeof r->chain);
    }
    return;
mismatch:
    memset(&r->chain, 0, sizeof r->chain);
    r->status = AUTH_MISMATCH;
    r->canonical_request = trace.canonical_request;
    r->string_to_sign = trace.string_to_sign;
}

static void check_v4_header(const struct tp_request *rq, int s3, const char *auth, time_t now,
                            struct auth_result *r)
{
    struct v4 v;
    const char *date = request_header(rq, "x-amz-date");
    time_t t;

    memset(&v, 0, sizeof v);
    if (auth_field(auth, "Credential=", v.credential, sizeof v.credential) ||
        auth_field(auth, "SignedHeaders=", v.signed_headers, sizeof v.signed_headers) ||
        auth_field(auth, "Signature=", v.signature, sizeof v.signature)) {
        malformed(r, "The authorization header is malformed; the Credential, SignedHeaders and Signature are required.");
        return;
    }
    if (split_credential(&v)) {
        malformed(r, "The authorization header is malformed; the Credential is mal-formed; expecting "
                     "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
        return;
    }
    if (date) {
        t = parse_amz_date(date);
        snprintf(v.amz_date, sizeof v.amz_date, "%s", date);
    } else {
        t = parse_http_date(date = request_header(rq, "date"));
        if (t != -1)
            sigv4_amz_date(t, v.amz_date);
    }
    if (t == -1) {
        malformed(r, s3 ? "AWS authentication requires a valid Date or x-amz-date header"
                        : "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        r->status = AUTH_NO_DATE;
        return;
    }
    if (check_skew(r, t, date, now))
        return;
    verify_v4(rq, s3, &v, r);
}

/* Expiry of a SigV4 presigned request, checked with or without --auth. */
static int check_v4_expiry(const struct tp_request *rq, time_t now, struct auth_result *r)
{
    char date[32], expires[32];
    if (!url_query_param(rq->query, "X-Amz-Date", date, sizeof date) ||
        !url_query_param(rq->query, "X-Amz-Expires", expires, sizeof expires))
        return 0; /* incomplete: the JSON services say so; S3 with --auth too */
    char *end;
    long long e = strtoll(expires, &end, 10);
    time_t t = parse_amz_date(date);
    if (!*expires || *end) {
        r->status = AUTH_BAD_EXPIRES;
        snprintf(r->message, sizeof r->message, "X-Amz-Expires should be a number");
        return -1;
    }
    if (e < 0) {
        r->status = AUTH_BAD_EXPIRES;
        snprintf(r->message, sizeof r->message, "X-Amz-Expires must be non-negative");
        return -1;
    }
    if (e > MAX_EXPIRES_S) {
        r->status = AUTH_BAD_EXPIRES;
        snprintf(r->message, sizeof r->message,
                 "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
                 "less than %d seconds", MAX_EXPIRES_S);
        return -1;
    }
    if (t != -1 && now > t + e) {
        r->status = AUTH_EXPIRED;
        snprintf(r->request_time, sizeof r->request_time, "%s", date);
        snprintf(r->expires, sizeof r->expires, "%s", expires);
        iso_time(now, r->server_time);
        char cur[SIGV4_DATE_LEN + 1], bound[SIGV4_DATE_LEN + 1];
        sigv4_amz_date(now, cur);
        sigv4_amz_date(t + e, bound);
        snprintf(r->message, sizeof r->message, "Signature expired: %s is now earlier than %s (%s - %lld sec.)",
                 bound, cur, date, e);
        return -1;
    }
    return 0;
}

static void check_v4_query(const struct tp_request *rq, int s3, time_t now, struct auth_result *r)
{
    struct v4 v;
    char alg[32];
    memset(&v, 0, sizeof v);
    r->query = 1;
    if (check_v4_expiry(rq, now, r) || !auth_enabled())
        return;
    if (!url_query_param(rq->query, "X-Amz-Algorithm", alg, sizeof alg) || strcmp(alg, "AWS4-HMAC-SHA256")) {
        malformed(r, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        return;
    }
    if (!url_query_param(rq->query, "X-Amz-Credential", v.credential, sizeof v.credential) ||
        !url_query_param(rq->query, "X-Amz-SignedHeaders", v.signed_headers, sizeof v.signed_headers) ||
        !url_query_param(rq->query, "X-Amz-Signature", v.signature, sizeof v.signature) ||
        !url_query_param(rq->query, "X-Amz-Date", v.amz_date, sizeof v.amz_date) ||
        parse_amz_date(v.amz_date) == -1 ||
        (s3 && !url_query_param(rq->query, "X-Amz-Expires", alg, sizeof alg))) {
        malformed(r, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                     "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
        return;
    }
    if (split_credential(&v)) {
        malformed(r, "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
                     "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
        return;
    }
    verify_v4(rq, s3, &v, r);
}

/* ---- SigV2 (S3) ---- */

static void verify_v2(const struct tp_request *rq, const char *akid, const char *sig, const char *date_line,
                      const char *bucket, struct auth_result *r)
{
    const char *secret = secret_of(akid);
    char mine[SIGV2_LEN + 1];

    snprintf(r->access_key, sizeof r->access_key, "%s", akid);
    snprintf(r->signature_provided, sizeof r->signature_provided, "%s", sig);
    if (!secret) {
        r->status = AUTH_UNKNOWN_KEY;
        return;
    }
    struct sigv4_header *h = calloc(rq->n_headers ? rq->n_headers : 1, sizeof *h);
    if (!h) {
        r->status = AUTH_MISMATCH;
        return;
    }
    for (size_t i = 0; i < rq->n_headers; i++)
        h[i] = (struct sigv4_header){rq->headers[i].name, rq->headers[i].value};
    struct sigv2_request v2 = {.method = rq->method, .headers = h, .n_headers = rq->n_headers,
                               .date_line = date_line, .bucket = bucket, .path = rq->path, .query = rq->query};
    char *sts = sigv2_string_to_sign(&v2);
    free(h);
    if (sigv2_sign(secret, sts, mine) || !sigv4_equal(mine, sig)) {
        r->status = AUTH_MISMATCH;
        r->string_to_sign = sts;
        return;
    }
    free(sts);
}

static void check_v2_header(const struct tp_request *rq, const char *auth, const char *bucket, time_t now,
                            struct auth_result *r)
{
    char akid[128];
    const char *colon = strrchr(auth, ':'), *amz = request_header(rq, "x-amz-date");
    const char *date = amz ? amz : request_header(rq, "date");
    size_t n = colon ? (size_t)(colon - auth - 4) : 0;
    r->v2 = 1;
    if (!colon || n == 0 || n >= sizeof akid) {
        malformed(r, "The authorization header that you provided is not valid.");
        return;
    }
    memcpy(akid, auth + 4, n);
    akid[n] = 0;
    time_t t = parse_http_date(date);
    if (t == -1) {
        malformed(r, "AWS authentication requires a valid Date or x-amz-date header");
        r->status = AUTH_NO_DATE;
        return;
    }
    if (check_skew(r, t, date, now))
        return;
    /* with x-amz-date, the Date line is empty: the header is signed among the x-amz-* */
    verify_v2(rq, akid, colon + 1, amz ? "" : date, bucket, r);
}

static void check_v2_query(const struct tp_request *rq, const char *bucket, time_t now, struct auth_result *r)
{
    char akid[128], sig[128], expires[32];
    r->v2 = r->query = 1;
    if (!url_query_param(rq->query, "Expires", expires, sizeof expires)) {
        if (auth_enabled())
            malformed(r, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
        return;
    }
    char *end;
    long long e = strtoll(expires, &end, 10);
    if (*end || (long long)now > e) {
        r->status = AUTH_EXPIRED;
        snprintf(r->expires, sizeof r->expires, "%s", expires);
        iso_time(now, r->server_time);
        return;
    }
    if (!auth_enabled())
        return;
    if (!url_query_param(rq->query, "AWSAccessKeyId", akid, sizeof akid) ||
        !url_query_param(rq->query, "Signature", sig, sizeof sig)) {
        malformed(r, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
        return;
    }
    verify_v2(rq, akid, sig, expires, bucket, r);
}

/* ---- entry ---- */

void auth_check(const struct tp_request *rq, int s3, const char *host_bucket, uint64_t now_ms,
                struct auth_result *r)
{
    const char *auth = request_header(rq, "authorization");
    time_t now = (time_t)(now_ms / 1000);

    memset(r, 0, sizeof *r);
    if (auth && !strncmp(auth, "AWS4-HMAC-SHA256 ", 17)) {
        if (auth_enabled())
            check_v4_header(rq, s3, auth, now, r);
    } else if (auth && s3 && !strncmp(auth, "AWS ", 4)) {
        if (auth_enabled())
            check_v2_header(rq, auth, host_bucket, now, r);
    } else if (auth) {
        if (auth_enabled())
            malformed(r, s3 ? "Unsupported Authorization Type" : "Authorization header requires 'Credential' parameter.");
    } else if (has_param(rq->query, "X-Amz-Algorithm") || has_param(rq->query, "X-Amz-Credential") ||
               has_param(rq->query, "X-Amz-Signature")) {
        check_v4_query(rq, s3, now, r);
    } else if (s3 && (has_param(rq->query, "AWSAccessKeyId") || has_param(rq->query, "Signature"))) {
        check_v2_query(rq, host_bucket, now, r);
    } else {
        r->status = AUTH_ANONYMOUS;
    }
}

void auth_result_free(struct auth_result *r)
{
    free(r->canonical_request);
    free(r->string_to_sign);
    memset(r, 0, sizeof *r);
}
