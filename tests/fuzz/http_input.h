/* The fuzz targets' request format: an HTTP/1.1 request ("METHOD target
 * HTTP/1.1", "name: value" lines, a blank line, the body; no chunked
 * encoding), parsed in place into a tp_request as the fronts build one. */
#ifndef TP_FUZZ_HTTP_INPUT_H
#define TP_FUZZ_HTTP_INPUT_H

#include "server/net/request.h"

#include <ctype.h>
#include <string.h>

#define FUZZ_MAX_HEADERS 32

/* The next line of [*p, end) without its \r\n or \n, NUL-terminated in place. */
static inline char *fuzz_line(char **p, char *end)
{
    char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        return NULL;
    *nl = 0;
    if (nl > s && nl[-1] == '\r')
        nl[-1] = 0;
    *p = nl + 1;
    return s;
}

/* Fills rq (headers in headers[FUZZ_MAX_HEADERS]) from in, which must be
 * NUL-terminated past size; *body gets where the body starts. -1 when the
 * input is no request head. */
static inline int fuzz_parse_request(char *in, size_t size, struct tp_request *rq, struct tp_header *headers,
                                     char **body)
{
    char *p = in, *end = in + size, *h;
    char *start = fuzz_line(&p, end);

    *rq = (struct tp_request){.query = ""};
    if (!start || !(rq->path = strchr(start, ' ')))
        return -1;
    *(char *)rq->path++ = 0;
    rq->method = start;
    char *version = strchr(rq->path, ' ');
    if (version)
        *version = 0;
    char *q = strchr(rq->path, '?');
    if (q) {
        *q = 0;
        rq->query = q + 1;
    }
    while ((h = fuzz_line(&p, end)) && *h && rq->n_headers < FUZZ_MAX_HEADERS) {
        char *colon = strchr(h, ':');
        if (!colon)
            return -1;
        *colon = 0;
        for (char *c = h; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        headers[rq->n_headers++] = (struct tp_header){h, v};
    }
    if (!h)
        return -1;
    rq->headers = headers;
    rq->body = (const unsigned char *)p;
    rq->body_len = (size_t)(end - p);
    *body = p;
    return 0;
}

#endif
