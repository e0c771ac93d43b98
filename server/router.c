/* Every request enters here (router_dispatch) from either HTTP front. The
 * pipeline for JSON services, in kinesalite's (and AWS's) order:
 *   admin paths → X-Amz-Target → method → body present → operation known →
 *   JSON parses → credentials present → rules → handler → encode.
 * Each stage answers with its own AWS error; handlers repeat none of them. */
#include "server/config.h"
#include "server/firehose_engine.h"
#include "protocol/cbor.h"
#include "protocol/uuid.h"
#include "server/s3.h"
#include "server/service.h"
#include "storage/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CBOR_CONTENT_TYPE "application/x-amz-cbor-1.1"

extern const struct svc_service kinesis_service, firehose_service;

static const struct svc_service *const SERVICES[] = {&kinesis_service, &firehose_service};

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

static const char *query_param(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            size_t n = strcspn(p + nl + 1, "&");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, p + nl + 1, n);
            out[n] = 0;
            return out;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return NULL;
}

/* kinesalite's auth stage: signatures are not verified (any credentials are
 * welcome) but must be present and complete, as AWS demands. */
static int check_auth(struct svc_ctx *c)
{
    const char *auth = request_header(c->rq, "authorization");
    char qcred[256];
    const char *qalg = query_param(c->rq->query, "X-Amz-Algorithm", qcred, sizeof qcred);
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
            if (!query_param(c->rq->query, need[i], v, sizeof v))
                len += (size_t)snprintf(msg + len, sizeof msg - len,
                                        "AWS query-string parameters must include '%s'. ", need[i]);
        if (len) {
            snprintf(msg + len, sizeof msg - len, "Re-examine the query-string parameters.");
            return reply_error(c, ERR_INCOMPLETE_SIGNATURE, "%s", msg);
        }
        if (query_param(c->rq->query, "X-Amz-Credential", v, sizeof v)) {
            /* the scope's slashes arrive percent-encoded */
            for (char *p; (p = strstr(v, "%2F")) || (p = strstr(v, "%2f"));) {
                *p = '/';
                memmove(p + 1, p + 3, strlen(p + 3) + 1);
            }
            scope_region(v, c->region, sizeof c->region);
        }
    }
    return 0;
}

static const struct svc_op *find_op(const struct svc_service *s, const char *name, size_t n)
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

static int json_service(struct svc_ctx *c, const struct svc_service *svc, const char *opname, size_t oplen)
{
    const struct svc_op *op = find_op(svc, opname, oplen);
    cJSON *in = NULL;
    char *msg = NULL;
    int rc;

    if (strcmp(c->rq->method, "POST"))
        return reply_error(c, ERR_ACCESS_DENIED, "Unable to determine service/operation name to be authorized");
    if (!c->rq->body_len)
        return reply_error(c, op ? ERR_SERIALIZATION : ERR_UNKNOWN_OPERATION, NULL);
    if (!op)
        return reply_error(c, ERR_UNKNOWN_OPERATION, NULL);
    in = c->out.cbor ? cbor_to_json(c->rq->body, c->rq->body_len, NULL)
                     : cJSON_ParseWithLength((const char *)c->rq->body, c->rq->body_len);
    if (!in || !cJSON_IsObject(in)) {
        rc = reply_error(c, ERR_SERIALIZATION, NULL);
        goto out;
    }
    if ((rc = check_auth(c)))
        goto out;
    switch (validate_request(in, op->rules, c->out.cbor ? V_TIMESTAMPS_MS : 0, &msg)) {
    case V_SERIALIZATION:
        rc = reply_error(c, ERR_SERIALIZATION, "%s", msg);
        goto out;
    case V_VALIDATION:
        rc = reply_error(c, ERR_VALIDATION, "%s", msg);
        goto out;
    case V_OK:
        break;
    }
    c->rs->status = 200;
    rc = op->handler(c, in);
out:
    free(msg);
    cJSON_Delete(in);
    return rc;
}

/* Requests no JSON/CBOR service claims belong to S3. */
static int is_s3(const struct tp_request *rq)
{
    const char *ct = request_header(rq, "content-type");
    return !request_header(rq, "x-amz-target") && strncmp(rq->path, "/_tidepool/", 11) &&
           !(ct && (!strncmp(ct, "application/x-amz-json-", 23) || !strncmp(ct, CBOR_CONTENT_TYPE, strlen(CBOR_CONTENT_TYPE))));
}

void router_dispatch(const struct tp_request *rq, struct tp_response *rs)
{
    char rid[37];
    struct svc_ctx c;
    const char *target = request_header(rq, "x-amz-target");

    if (!strcmp(rq->method, "GET") && !strcmp(rq->path, "/_tidepool/health")) {
        health(rs);
        return;
    }
    if (!strcmp(rq->method, "GET") && !strcmp(rq->path, "/_tidepool/firehose")) {
        struct jw w;
        jw_init(&w);
        firehose_engine_status(&w);
        json_reply(rs, &w);
        return;
    }
    if (is_s3(rq)) {
        s3_dispatch(rq, rs);
        return;
    }
    memset(&c, 0, sizeof c);
    c.rq = rq;
    c.rs = rs;
    c.now_ms = db_now_ms();
    snprintf(c.region, sizeof c.region, "%s", g_cfg.region);
    jw_init(&c.out);
    /* the Java SDKs speak CBOR to Kinesis; answers (errors too) mirror the request */
    const char *ct = request_header(rq, "content-type");
    c.out.cbor = ct && !strncmp(ct, CBOR_CONTENT_TYPE, strlen(CBOR_CONTENT_TYPE));
    uuid_v4(rid);
    response_add_header(rs, "x-amzn-RequestId", rid);

    const char *dot = target ? strchr(target, '.') : NULL;
    const struct svc_service *svc = NULL;
    for (unsigned i = 0; dot && i < sizeof SERVICES / sizeof *SERVICES; i++)
        if (strlen(SERVICES[i]->target_prefix) == (size_t)(dot - target) &&
            !strncmp(SERVICES[i]->target_prefix, target, (size_t)(dot - target)))
            svc = SERVICES[i];
    if (svc) {
        json_service(&c, svc, dot + 1, strlen(dot + 1));
        finish_json(&c, c.out.cbor ? CBOR_CONTENT_TYPE : svc->content_type);
    } else {
        /* No service claims it: a JSON- or CBOR-protocol request whose target
         * names no service (or none at all). */
        reply_error(&c, ERR_UNKNOWN_OPERATION, NULL);
        finish_json(&c, c.out.cbor ? CBOR_CONTENT_TYPE : "application/x-amz-json-1.1");
    }
    log_msg(LOG_DEBUG, "%s %s %s -> %d", rq->method, rq->path, target ? target : "-", rs->status);
}

struct tp_stream *router_stream_open(const struct tp_request *rq)
{
    return is_s3(rq) ? s3_stream_open(rq) : NULL; /* only S3 uploads stream */
}
