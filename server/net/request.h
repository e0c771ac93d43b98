/* The protocol-neutral request and response that the HTTP/1.1 and HTTP/2 fronts
 * build and the router consumes: no service code knows which protocol carried it. */
#ifndef TP_REQUEST_H
#define TP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* Largest request body accepted; beyond it the front answers 413 without buffering.
 * A 10 MiB PutRecords in base64 JSON is about 14 MiB. */
#define TP_MAX_BODY (32u * 1024u * 1024u)
/* Request bodies buffered by the whole process (both fronts) past which new
 * requests with a body are refused with 503 until some are done. */
#define TP_MAX_BUFFERED ((size_t)512 * 1024 * 1024)
#define TP_MAX_RESPONSE_HEADERS 64

struct tp_header {
    char *name;  /* lower-case */
    char *value;
};

struct tp_request {
    const char *method;
    const char *path;   /* decoded-not, without the query string */
    const char *query;  /* raw query string without '?', or "" */
    const struct tp_header *headers; /* names lower-case */
    size_t n_headers;
    const unsigned char *body;
    size_t body_len;
    int http2;
    int internal; /* sent by tidepool itself (init.c): no credentials are checked */
};

/* A response body produced while it is sent (an S3 object of any size),
 * instead of a buffer. The front pulls it as the peer reads, then closes it,
 * on every path (sent, peer gone, shutdown). */
struct tp_source {
    uint64_t length;   /* the Content-Length */
    /* Copies up to max bytes from offset pos (pos grows by what was returned)
     * into buf: the count, or -1 when the body cannot be produced (the front
     * then aborts the connection/stream; headers are already out). */
    long (*read)(struct tp_source *src, uint64_t pos, void *buf, size_t max);
    void (*close)(struct tp_source *src);
};

struct tp_response {
    int status;
    struct tp_header headers[TP_MAX_RESPONSE_HEADERS]; /* owned (malloc'd) */
    size_t n_headers;
    unsigned char *body; /* owned (malloc'd), may be NULL */
    size_t body_len;
    struct tp_source *source; /* owned; when set, the body (body must be NULL) */
};

/* A request body consumed while it arrives (an S3 upload of any size), instead
 * of being buffered. See router_stream_open. */
struct tp_stream {
    /* The next piece of the body, in order. Non-zero: accept no more; the
     * front stops reading the body (or discards the rest) and calls finish. */
    int (*write)(struct tp_stream *st, const unsigned char *data, size_t n);
    /* The body ended (complete = 1) or the peer went away / write refused
     * (complete = 0). Fills rs (ignored when the peer is gone) and frees st. */
    void (*finish)(struct tp_stream *st, int complete, struct tp_response *rs);
};

/* A request body as it arrives: grows by doubling, never past TP_MAX_BODY. */
struct tp_body {
    unsigned char *buf;
    size_t len, cap;
};

/* 0; 1 when the body would pass TP_MAX_BODY (then it is emptied and nothing
 * more is kept); -1 when out of memory. */
int body_append(struct tp_body *b, const void *data, size_t len);
void body_free(struct tp_body *b);
/* What every tp_body of the process holds, in bytes; whether that is past
 * TP_MAX_BUFFERED. */
size_t body_buffered_total(void);
int body_budget_exhausted(void);

/* Case-insensitive lookup; returns NULL when absent. */
const char *request_header(const struct tp_request *rq, const char *lname);
/* Copies name and value. Silently ignores headers past TP_MAX_RESPONSE_HEADERS. */
void response_add_header(struct tp_response *rs, const char *name, const char *value);
/* Takes ownership of body (malloc'd). */
void response_set_body(struct tp_response *rs, unsigned char *body, size_t len);
/* Frees headers and body, and closes a source that was never sent. */
void response_free(struct tp_response *rs);

/* The single entry point of all services (server/router.c). Fills rs; never fails. */
void router_dispatch(const struct tp_request *rq, struct tp_response *rs);

/* Called by a front once a request's head is in, before any body byte (rq has
 * no body). NULL: buffer the body (up to TP_MAX_BODY) and call
 * router_dispatch as usual. Otherwise the body streams into the returned
 * tp_stream, without the TP_MAX_BODY cap, and its finish() makes the
 * response. rq is valid only during the call: the fronts free its headers
 * once a stream is returned, so the stream copies what it keeps.
 * `Expect: 100-continue` is answered as for any request. */
struct tp_stream *router_stream_open(const struct tp_request *rq);

#endif
