/* Every request enters here (router_dispatch) from either HTTP front. The
 * pipeline for JSON services, in kinesalite's (and AWS's) order:
 *   admin paths → X-Amz-Target → method → body present → operation known →
 *   JSON parses → credentials present → rules → handler → encode.
 * Each stage answers with its own AWS error; handlers repeat none of them.
 * CloudWatch also speaks Smithy RPC v2 CBOR (POST /service/<Service>/
 * operation/<Op> with Smithy-Protocol: rpc-v2-cbor) and awsQuery (a form
 * with Action and Version); both join the same stages at svc_run. A Host
 * such as monitoring.<region>.amazonaws.com names the service (and the
 * region, when no SigV4 scope does), so it never falls through to S3. */
#include "server/runtime/config.h"
#include "server/net/auth.h"
#include "protocol/cbor.h"
#include "protocol/gunzip.h"
#include "protocol/urlcode.h"
#include "protocol/uuid.h"
#include "server/net/service.h"
#include "storage/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CBOR_CONTENT_TYPE "application/x-amz-cbor-1.1"
#define RPCV2_CONTENT_TYPE "application/cbor"

#define MAX_SERVICES 8
#define MAX_STATUS 4

/* What main.c plugged in (router_add_service, router_set_rest,
 * router_add_status): filled once before serving, read-only afterwards. */
static const struct svc_service *g_services[MAX_SERVICES];
static unsigned g_n_services;
static void (*g_rest_dispatch)(const struct tp_request *rq, struct tp_response *rs);
static struct tp_stream *(*g_rest_stream_open)(const struct tp_request *rq);
static struct {
    const char *path;
    void (*write)(struct jw *w);
} g_status[MAX_STATUS];
static unsigned g_n_status;

void router_add_service(const struct svc_service *s)
{
    if (g_n_services < MAX_SERVICES)
        g_services[g_n_services++] = s;
}

void router_set_rest(void (*dispatch)(const struct tp_request *rq, struct tp_response *rs),
                     struct tp_stream *(*stream_open)(const struct tp_request *rq))
{
    g_rest_dispatch = dispatch;
    g_rest_stream_open = stream_open;
}

void router_add_status(const char *path, void (*write)(struct jw *w))
{
    if (g_n_status < MAX_STATUS)
        g_status[g_n_status++] = (typeof(g_status[0])){path, write};
}

static void finish_json(struct svc_ctx *c, const char *content_type)
{
    size_t len;
    char *body = jw_take(&c->out, &len);
    response_add_header(c->rs, "Content-Type", content_type);
    response_set_body(c->rs, (unsigned char *)body, len);
}

static void json_reply(struct tp_response *rs, struct jw *w)
{
    size_t len;
    rs->status = 200;
    response_add_header(rs, "Content-Type", "application/json");
    char *b = jw_take(w, &len);
    response_set_body(rs, (unsigned char *)b, len);
}

static void health(struct tp_response *rs)
{
    struct jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "status"); jw_str(&w, "ok");
    jw_key(&w, "version"); jw_str(&w, TIDEPOOL_VERSION);
    jw_key(&w, "services");
    jw_obj_begin(&w);
    jw_key(&w, "kinesis"); jw_str(&w, "running");
    jw_key(&w, "firehose"); jw_str(&w, "running");
    jw_key(&w, "cloudwatch"); jw_str(&w, "running");
    jw_key(&w, "s3"); jw_str(&w, "running");
    jw_obj_end(&w);
    jw_obj_end(&w);
    json_reply(rs, &w);
}

/* Region of the SigV4 credential scope: Credential=AKID/DATE/REGION/SERVICE/aws4_request. */
static void scope_region(const char *cred, char *out, size_t outlen)
{
    const char *p = cred;
    for (int i = 0; i < 2 && p; i++) {
        p = strchr(p, '/');
        if (p)
            p++;
    }
    if (!p)
        return;
    size_t n = strcspn(p, "/,");
    if (n == 0 || n >= outlen || p[n] != '/')
        return;
    memcpy(out, p, n);
    out[n] = 0;
}

#define MISMATCH_TEXT                                                                                       \
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "   \
    "Access Key and signing method. Consult the service documentation for details."

/* A verdict of auth_check in the JSON services' words. CloudWatch, a
 * query-protocol service at heart, answers as those do: 403s with their codes. */
static int auth_reply(struct svc_ctx *c, const struct svc_service *s, const struct auth_result *r)
{
    int cw = s->query_auth_errors;
    switch (r->status) {
    case AUTH_OK:
        return 0;
    case AUTH_UNKNOWN_KEY:
        return reply_error(c, cw ? CW_INVALID_CLIENT_TOKEN_ID : ERR_UNRECOGNIZED_CLIENT,
                           "The security token included in the request is invalid.");
    case AUTH_SKEWED:
    case AUTH_EXPIRED:
        return reply_error(c, cw ? CW_SIGNATURE_DOES_NOT_MATCH : ERR_INVALID_SIGNATURE, "%s", r->message);
    case AUTH_MISMATCH:
        if (cw)
            return reply_error(c, CW_SIGNATURE_DOES_NOT_MATCH, MISMATCH_TEXT);
        return reply_error(c, ERR_INVALID_SIGNATURE,
                           MISMATCH_TEXT "\n\nThe Canonical String for this request should have been\n'%s'\n\n"
                                         "The String-to-Sign should have been\n'%s'\n",
                           r->canonical_request ? r->canonical_request : "",
                           r->string_to_sign ? r->string_to_sign : "");
    default: /* nothing else is left once the presence checks passed */
        return reply_error(c, ERR_INCOMPLETE_SIGNATURE, "%s", r->message);
    }
}

/* kinesalite's auth stage: credentials must be present and complete, as AWS
 * demands; with --auth their signature is verified too (auth.c), else any
 * are welcome. tidepool's own requests (init.c) are not verified. */
static int check_auth(struct svc_ctx *c, const struct svc_service *s)
{
    const char *auth = request_header(c->rq, "authorization");
    size_t vlen;
    const char *qalg = url_query_find(c->rq->query, "X-Amz-Algorithm", &vlen);
    char msg[2048] = "";
    size_t len = 0;

    if (auth && qalg)
        return reply_error(c, ERR_INVALID_SIGNATURE,
                           "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
    if (!auth && !qalg)
        return reply_error(c, ERR_MISSING_AUTH, "Missing Authentication Token");
    if (auth) {
        static const char *const need[] = {"Credential=", "Signature=", "SignedHeaders="};
        for (unsigned i = 0; i < 3; i++)
            if (!strstr(auth, need[i]))
                len += (size_t)snprintf(msg + len, sizeof msg - len,
                                        "Authorization header requires '%.*s' parameter. ",
                                        (int)strlen(need[i]) - 1, need[i]);
        if (!request_header(c->rq, "x-amz-date") && !request_header(c->rq, "date"))
            len += (size_t)snprintf(msg + len, sizeof msg - len,
                                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
        if (len) {
            snprintf(msg + len, sizeof msg - len, "Authorization=%s", auth);
            return reply_error(c, ERR_INCOMPLETE_SIGNATURE, "%s", msg);
        }
        const char *cred = strstr(auth, "Credential=");
        scope_region(cred + strlen("Credential="), c->region, sizeof c->region);
    } else {
        static const char *const need[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                           "X-Amz-SignedHeaders", "X-Amz-Date"};
        char v[256];
        for (unsigned i = 0; i < 5; i++)
            if (!url_query_find(c->rq->query, need[i], &vlen))
                len += (size_t)snprintf(msg + len, sizeof msg - len,
                                        "AWS query-string parameters must include '%s'. ", need[i]);
        if (len) {
            snprintf(msg + len, sizeof msg - len, "Re-examine the query-string parameters.");
            return reply_error(c, ERR_INCOMPLETE_SIGNATURE, "%s", msg);
        }
        if (url_query_param(c->rq->query, "X-Amz-Credential", v, sizeof v))
            scope_region(v, c->region, sizeof c->region);
    }
    if (!auth_enabled() || c->rq->internal)
        return 0;
    struct auth_result r;
    auth_check(c->wire, 0, NULL, c->now_ms, &r);
    int rc = auth_reply(c, s, &r);
    auth_result_free(&r);
    return rc;
}

/* The service a Host names, with its region in region[32]; NULL for others
 * (S3's own names among them: bucket.s3.<region>.amazonaws.com). */
static const struct svc_service *host_service(const struct tp_request *rq, char *region)
{
    const char *host = request_header(rq, "host");
    size_t n = host ? strcspn(host, ":") : 0;
    for (unsigned i = 0; n > 15 && i < g_n_services; i++) {
        const char *prefix = g_services[i]->host_prefix;
        size_t pl = prefix ? strlen(prefix) : 0, rl = n - pl - 15; /* ".<region>.amazonaws.com" */
        if (pl && n > pl + 16 && !strncasecmp(host, prefix, pl) && host[pl] == '.' &&
            !strncasecmp(host + n - 14, ".amazonaws.com", 14) && rl < 32 && !memchr(host + pl + 1, '.', rl)) {
            memcpy(region, host + pl + 1, rl);
            region[rl] = 0;
            return g_services[i];
        }
    }
    return NULL;
}

/* A Smithy RPC v2 CBOR request: its operation name (from the path's last
 * segment), with the service that speaks the protocol in *svc, else NULL.
 * The header is part of the test: /service/… alone is a legal S3 key. */
static const char *rpcv2_op(const struct tp_request *rq, const struct svc_service **svc)
{
    const char *proto = request_header(rq, "smithy-protocol");
    if (!proto || strcmp(proto, "rpc-v2-cbor"))
        return NULL;
    for (unsigned i = 0; i < g_n_services; i++)
        for (const char *const *p = g_services[i]->rpcv2_paths; p && *p; p++) {
            const char *at = strstr(rq->path, *p); /* after an optional prefix, as the spec allows */
            if (at && !strchr(at + strlen(*p), '/')) {
                *svc = g_services[i];
                return at + strlen(*p);
            }
        }
    return NULL;
}

/* The service whose awsQuery form rq is, or NULL. */
static const struct svc_service *query_service(const struct tp_request *rq)
{
    for (unsigned i = 0; i < g_n_services; i++)
        if (g_services[i]->query_match && g_services[i]->query_match(rq))
            return g_services[i];
    return NULL;
}

const struct svc_op *svc_find_op(const struct svc_service *s, const char *name, size_t n)
{
    unsigned lo = 0, hi = s->n_ops;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int cmp = strncmp(s->ops[mid].name, name, n);
        if (cmp == 0 && s->ops[mid].name[n])
            cmp = 1;
        if (cmp == 0)
            return &s->ops[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int svc_run(struct svc_ctx *c, const struct svc_service *s, const struct svc_op *op, cJSON *in, unsigned vflags)
{
    char *msg = NULL;
    int rc = check_auth(c, s);
    if (rc)
        return rc;
    switch (validate_request(in, op->rules, vflags, &msg)) {
    case V_SERIALIZATION:
        rc = reply_error(c, ERR_SERIALIZATION, "%s", msg);
        break;
    case V_VALIDATION:
        rc = reply_error(c, s->validation, "%s", msg);
        break;
    case V_OK:
        c->rs->status = 200;
        rc = op->handler(c, in);
    }
    free(msg);
    return rc;
}

static int json_service(struct svc_ctx *c, const struct svc_service *svc, const char *opname, size_t oplen)
{
    const struct svc_op *op = svc_find_op(svc, opname, oplen);
    cJSON *in = NULL;
    int rc;

    if (strcmp(c->rq->method, "POST"))
        return reply_error(c, ERR_ACCESS_DENIED, "Unable to determine service/operation name to be authorized");
    if (!c->rq->body_len)
        return reply_error(c, op ? ERR_SERIALIZATION : ERR_UNKNOWN_OPERATION, NULL);
    if (!op)
        return reply_error(c, ERR_UNKNOWN_OPERATION, NULL);
    in = c->out.cbor ? cbor_to_json(c->rq->body, c->rq->body_len, NULL)
                     : cJSON_ParseWithLength((const char *)c->rq->body, c->rq->body_len);
    rc = in && cJSON_IsObject(in) ? svc_run(c, svc, op, in, c->out.cbor ? V_TIMESTAMPS_MS : 0)
                                  : reply_error(c, ERR_SERIALIZATION, NULL);
    cJSON_Delete(in);
    return rc;
}

/* Smithy RPC v2 CBOR: CBOR both ways, timestamps in epoch seconds, an empty
 * body as an empty input, the protocol named in the answer's headers. */
static void rpcv2_service(struct svc_ctx *c, const struct svc_service *svc, const char *opname)
{
    const struct svc_op *op = svc_find_op(svc, opname, strlen(opname));
    cJSON *in = NULL;
    size_t len;

    c->out.cbor = c->out.time_s = 1;
    if (strcmp(c->rq->method, "POST") || request_header(c->rq, "x-amz-target")) /* the spec: malformed */
        reply_error(c, ERR_SERIALIZATION, "Smithy RPC v2 CBOR requests are POSTs without X-Amz-Target");
    else if (!op)
        reply_error(c, ERR_UNKNOWN_OPERATION, NULL);
    else if (!(in = c->rq->body_len ? cbor_to_json(c->rq->body, c->rq->body_len, NULL) : cJSON_CreateObject()))
        reply_error(c, ERR_SERIALIZATION, NULL);
    else
        svc_run(c, svc, op, in, 0);
    cJSON_Delete(in);
    response_add_header(c->rs, "Smithy-Protocol", "rpc-v2-cbor");
    char *body = jw_take(&c->out, &len);
    if (len == 2 && !memcmp(body, "\xbf\xff", 2)) { /* no output (PutMetricData): no body, as the spec says */
        free(body);
        return;
    }
    response_add_header(c->rs, "Content-Type", RPCV2_CONTENT_TYPE);
    response_set_body(c->rs, (unsigned char *)body, len);
}

/* Requests no other service claims belong to S3. */
static int is_s3(const struct tp_request *rq)
{
    const char *ct = request_header(rq, "content-type");
    char region[32];
    const struct svc_service *rpcv2;
    return g_rest_dispatch && !request_header(rq, "x-amz-target") && strncmp(rq->path, "/_tidepool/", 11) &&
           !(ct && (!strncmp(ct, "application/x-amz-json-", 23) || !strncmp(ct, CBOR_CONTENT_TYPE, strlen(CBOR_CONTENT_TYPE)))) &&
           !host_service(rq, region) && !rpcv2_op(rq, &rpcv2) && !query_service(rq);
}

/* A body the SDKs compressed (CloudWatch's requestCompression) is inflated
 * before anything reads it; S3 objects keep their Content-Encoding as sent.
 * 1 when *out is a copy of rq with the inflated body (free out->body), 0 when
 * rq stands as it is, -1 when the gzip is broken. */
static int inflate_body(const struct tp_request *rq, struct tp_request *out)
{
    static const char *const TYPES[] = {"application/x-www-form-urlencoded", "application/x-amz-json-",
                                        CBOR_CONTENT_TYPE, RPCV2_CONTENT_TYPE};
    const char *enc = request_header(rq, "content-encoding"), *ct = request_header(rq, "content-type");
    size_t len;
    int ours = 0;
    for (unsigned i = 0; ct && i < sizeof TYPES / sizeof *TYPES; i++)
        ours |= !strncasecmp(ct, TYPES[i], strlen(TYPES[i]));
    if (!enc || strcasecmp(enc, "gzip") || !ours || !rq->body_len)
        return 0;
    *out = *rq;
    out->body = gunzip(rq->body, rq->body_len, TP_MAX_BODY, &len);
    out->body_len = len;
    return out->body ? 1 : -1;
}

static void dispatch(const struct tp_request *rq, const struct tp_request *wire, struct tp_response *rs,
                     int gzip_broken);

void router_dispatch(const struct tp_request *rq, struct tp_response *rs)
{
    struct tp_request inflated;
    int rc = inflate_body(rq, &inflated);
    dispatch(rc == 1 ? &inflated : rq, rq, rs, rc < 0);
    if (rc == 1)
        free((void *)inflated.body);
}

static void dispatch(const struct tp_request *rq, const struct tp_request *wire, struct tp_response *rs,
                     int gzip_broken)
{
    char rid[37], host_region[32];
    struct svc_ctx c;
    const char *target = request_header(rq, "x-amz-target");
    const struct svc_service *host_svc = host_service(rq, host_region), *rpcv2_svc = NULL, *query_svc;
    const char *rpcv2 = rpcv2_op(rq, &rpcv2_svc);

    if (!strcmp(rq->method, "GET") && !strcmp(rq->path, "/_tidepool/health")) {
        health(rs);
        return;
    }
    for (unsigned i = 0; i < g_n_status; i++)
        if (!strcmp(rq->method, "GET") && !strcmp(rq->path, g_status[i].path)) {
            struct jw w;
            jw_init(&w);
            g_status[i].write(&w);
            json_reply(rs, &w);
            return;
        }
    if (!gzip_broken && is_s3(rq)) {
        g_rest_dispatch(rq, rs);
        return;
    }
    memset(&c, 0, sizeof c);
    c.rq = rq;
    c.wire = wire;
    c.rs = rs;
    c.now_ms = db_now_ms();
    /* the SigV4 credential scope, when there is one, has the last word */
    snprintf(c.region, sizeof c.region, "%s", host_svc ? host_region : g_cfg.region);
    jw_init(&c.out);
    /* the Java SDKs speak CBOR to Kinesis; answers (errors too) mirror the request */
    const char *ct = request_header(rq, "content-type");
    c.out.cbor = ct && !strncmp(ct, CBOR_CONTENT_TYPE, strlen(CBOR_CONTENT_TYPE));
    uuid_v4(rid);
    c.request_id = rid;
    response_add_header(rs, "x-amzn-RequestId", rid);

    const char *dot = target ? strchr(target, '.') : NULL;
    const struct svc_service *svc = NULL;
    for (unsigned i = 0; dot && i < g_n_services; i++)
        if (strlen(g_services[i]->target_prefix) == (size_t)(dot - target) &&
            !strncmp(g_services[i]->target_prefix, target, (size_t)(dot - target)))
            svc = g_services[i];
    if (gzip_broken) {
        reply_error(&c, ERR_SERIALIZATION, "The request body is not valid gzip");
        finish_json(&c, c.out.cbor ? CBOR_CONTENT_TYPE : "application/x-amz-json-1.1");
    } else if (rpcv2) {
        rpcv2_service(&c, rpcv2_svc, rpcv2);
    } else if (svc) {
        json_service(&c, svc, dot + 1, strlen(dot + 1));
        finish_json(&c, c.out.cbor ? CBOR_CONTENT_TYPE : svc->content_type);
    } else if (!target && ((query_svc = query_service(rq)) || (host_svc && (query_svc = host_svc)->query_serve))) {
        query_svc->query_serve(&c);
    } else {
        /* No service claims it: a JSON- or CBOR-protocol request whose target
         * names no service (or none at all). */
        reply_error(&c, ERR_UNKNOWN_OPERATION, NULL);
        finish_json(&c, c.out.cbor ? CBOR_CONTENT_TYPE : host_svc ? host_svc->content_type : "application/x-amz-json-1.1");
    }
    log_msg(LOG_DEBUG, "%s %s %s -> %d", rq->method, rq->path, target ? target : "-", rs->status);
}

struct tp_stream *router_stream_open(const struct tp_request *rq)
{
    return g_rest_stream_open && is_s3(rq) ? g_rest_stream_open(rq) : NULL; /* only S3 uploads stream */
}
