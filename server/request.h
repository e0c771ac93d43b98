/* The protocol-neutral request and response that the HTTP/1.1 and HTTP/2 fronts
 * build and the router consumes: no service code knows which protocol carried it. */
#ifndef TP_REQUEST_H
#define TP_REQUEST_H

#include <stddef.h>

/* Largest request body accepted; beyond it the front answers 413 without buffering.
 * A 10 MiB PutRecords in base64 JSON is about 14 MiB. */
#define TP_MAX_BODY (32u * 1024u * 1024u)
#define TP_MAX_RESPONSE_HEADERS 16

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
};

struct tp_response {
    int status;
    struct tp_header headers[TP_MAX_RESPONSE_HEADERS]; /* owned (malloc'd) */
    size_t n_headers;
    unsigned char *body; /* owned (malloc'd), may be NULL */
    size_t body_len;
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

/* Case-insensitive lookup; returns NULL when absent. */
const char *request_header(const struct tp_request *rq, const char *lname);
/* Copies name and value. Silently ignores headers past TP_MAX_RESPONSE_HEADERS. */
void response_add_header(struct tp_response *rs, const char *name, const char *value);
/* Takes ownership of body (malloc'd). */
void response_set_body(struct tp_response *rs, unsigned char *body, size_t len);
void response_free(struct tp_response *rs);

/* The single entry point of all services (server/router.c). Fills rs; never fails. */
void router_dispatch(const struct tp_request *rq, struct tp_response *rs);

#endif
