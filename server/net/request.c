/* Helpers on the protocol-neutral request and response (server/request.h):
 * header lookup for services, and ownership of response headers, body and
 * source. */
#include "server/net/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *request_header(const struct tp_request *rq, const char *lname)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (strcasecmp(rq->headers[i].name, lname) == 0)
            return rq->headers[i].value;
    return NULL;
}

void response_add_header(struct tp_response *rs, const char *name, const char *value)
{
    char *n, *v;

    if (rs->n_headers >= TP_MAX_RESPONSE_HEADERS)
        return;
    n = strdup(name);
    v = strdup(value);
    /* Out of memory drops the header rather than failing the response: the
     * router's contract is that dispatch never fails. */
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return;
    }
    rs->headers[rs->n_headers].name = n;
    rs->headers[rs->n_headers].value = v;
    rs->n_headers++;
}

void response_set_body(struct tp_response *rs, unsigned char *body, size_t len)
{
    free(rs->body);
    rs->body = body;
    rs->body_len = body != NULL ? len : 0;
}

void response_free(struct tp_response *rs)
{
    for (size_t i = 0; i < rs->n_headers; i++) {
        free(rs->headers[i].name);
        free(rs->headers[i].value);
    }
    rs->n_headers = 0;
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
    /* A source a front never took over (HEAD, a failure before sending) is
     * still open; one it took is no longer here. */
    if (rs->source != NULL) {
        rs->source->close(rs->source);
        rs->source = NULL;
    }
}

/* Bytes held by every tp_body of the process (their capacity). */
static size_t g_buffered;

size_t body_buffered_total(void)
{
    return __atomic_load_n(&g_buffered, __ATOMIC_RELAXED);
}

int body_budget_exhausted(void)
{
    return body_buffered_total() >= TP_MAX_BUFFERED;
}

int body_append(struct tp_body *b, const void *data, size_t len)
{
    if (len > TP_MAX_BODY - b->len) {
        body_free(b);
        return 1;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + len)
            cap *= 2;
        if (cap > TP_MAX_BODY)
            cap = TP_MAX_BODY;
        unsigned char *p = realloc(b->buf, cap);
        if (!p)
            return -1;
        __atomic_add_fetch(&g_buffered, cap - b->cap, __ATOMIC_RELAXED);
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return 0;
}

void body_free(struct tp_body *b)
{
    __atomic_sub_fetch(&g_buffered, b->cap, __ATOMIC_RELAXED);
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}
