/* What a JSON-protocol handler sees: the request, the caller's region, the
 * response writer, and the one way out for errors (reply_error). */
#ifndef TP_SERVICE_H
#define TP_SERVICE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/json_writer.h"
#include "server/net/request.h"
#include "server/net/validate.h"

struct svc_ctx {
    const struct tp_request *rq;
    const struct tp_request *wire; /* rq as received (a gzip body still compressed): what was signed */
    struct tp_response *rs;
    char region[32];     /* from the SigV4 credential scope, else the default */
    uint64_t now_ms;     /* wall clock at the start of the request */
    struct jw out;       /* the success body */
    enum tp_err err;     /* set by reply_error */
    const char *request_id; /* also in x-amzn-RequestId; awsQuery bodies repeat it */
};

/* A handler decodes nothing and validates nothing its rules cover: it gets the
 * parsed, validated body. It returns 0 with ctx->out filled, or the value of
 * reply_error(). */
typedef int (*svc_handler)(struct svc_ctx *c, const cJSON *in);

struct svc_op {
    const char *name;              /* wire name, the X-Amz-Target suffix */
    svc_handler handler;
    const struct v_rule *rules;    /* {0}-terminated member rules */
};

struct svc_service {
    const char *target_prefix;     /* e.g. "Kinesis_20131202" */
    const char *content_type;      /* JSON content type it answers with */
    const struct svc_op *ops;      /* sorted by name */
    unsigned n_ops;
    enum tp_err validation;        /* what constraint failures are reported as */
    /* How else the router recognises the service's requests (NULL when not): */
    const char *host_prefix;       /* Host: <prefix>.<region>.amazonaws.com */
    const char *const *rpcv2_paths;/* Smithy RPC v2 CBOR: "/service/<shape>/operation/" prefixes */
    int (*query_match)(const struct tp_request *rq); /* an awsQuery form */
    void (*query_serve)(struct svc_ctx *c);
    int query_auth_errors;         /* refuses credentials as query-protocol services do (403s) */
};

/* ---- what main.c plugs into the router before serving ---- */

/* A JSON-protocol service (X-Amz-Target, and the routes svc_service names). */
void router_add_service(const struct svc_service *s);
/* The REST service that takes every request no JSON service claims (S3):
 * dispatch answers buffered requests; stream_open may take an upload's body
 * as it arrives (see router_stream_open). */
void router_set_rest(void (*dispatch)(const struct tp_request *rq, struct tp_response *rs),
                     struct tp_stream *(*stream_open)(const struct tp_request *rq));
/* GET path answers the JSON document write() makes (/_tidepool/ status pages). */
void router_add_status(const char *path, void (*write)(struct jw *w));

/* The operation called name (n bytes), or NULL. */
const struct svc_op *svc_find_op(const struct svc_service *s, const char *name, size_t n);
/* The stages every protocol shares once the input is a cJSON tree: the
 * credentials check, the rules (validate_request with vflags), the handler.
 * Returns the handler's result or reply_error's. */
int svc_run(struct svc_ctx *c, const struct svc_service *s, const struct svc_op *op, cJSON *in, unsigned vflags);

/* Records the error on the response (JSON body, status, headers); returns -1. */
int reply_error(struct svc_ctx *c, enum tp_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
