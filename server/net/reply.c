#define _GNU_SOURCE /* vasprintf */
/* The one way errors leave a JSON service: reply_error picks the AWS type and
 * status from protocol/errors.c and writes {"__type":…,"message":…} (which the
 * awsQuery front turns into an <ErrorResponse>). */
#include "server/net/service.h"
#include "server/runtime/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int reply_error(struct svc_ctx *c, enum tp_err e, const char *fmt, ...)
{
    const struct tp_err_info *info = errors_info(e);
    char *msg = NULL;
    struct jw w;
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
    }
    jw_init_as(&w, &c->out);
    jw_obj_begin(&w);
    jw_key(&w, "__type");
    jw_str(&w, info->shape ? info->shape : info->type);
    if (info->shape) { /* botocore maps the awsQuery code back to the modeled error */
        char q[96];
        snprintf(q, sizeof q, "%s;%s", info->type, info->status >= 500 ? "Receiver" : "Sender");
        response_add_header(c->rs, "x-amzn-query-error", q);
    }
    if (msg) {
        jw_key(&w, info->capital_message ? "Message" : "message");
        jw_str(&w, msg);
    }
    jw_obj_end(&w);
    jw_free(&c->out);
    c->out = w;
    c->err = e;
    c->rs->status = info->status;
    log_msg(info->status >= 500 ? LOG_ERROR : LOG_DEBUG, "%s: %.300s", info->type, msg ? msg : "");
    free(msg);
    return -1;
}
