/* libFuzzer target: whole requests through the router, as the HTTP fronts hand
 * them over, against a throw-away database: the service routing, SigV4
 * Authorization headers and presigned query credentials, S3 paths, queries,
 * ranges and headers, awsQuery forms, gzip bodies, and every handler behind
 * them. Input: an HTTP/1.1 request ("METHOD target HTTP/1.1", "name: value"
 * lines, a blank line, the body; no chunked encoding, the HTTP/1.1 fuzz test
 * does that); the body goes to the stream the router opens, when it opens
 * one, in the pieces a front would pass on. */
#include "server/net/request.h"
#include "server/runtime/config.h"
#include "server/services.h"
#include "storage/db.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 32

static void stop(void)
{
    db_close();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    setenv("TZ", "UTC", 1);
    g_cfg.log_level = LOG_ERROR; /* a fuzzer's output is for its findings */
    services_plug();
    if (db_open(NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_router: %s\n", err);
        exit(1);
    }
    atexit(stop);
    return 0;
}

/* The next line of [*p, end) without its \r\n or \n, NUL-terminated in place. */
static char *line(char **p, char *end)
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

static void run(char *in, size_t size)
{
    char *p = in, *end = in + size;
    struct tp_header headers[MAX_HEADERS];
    struct tp_request rq = {.query = ""};
    struct tp_response rs = {0};
    char *start = line(&p, end), *h;

    if (!start || !(rq.path = strchr(start, ' ')))
        return;
    *(char *)rq.path++ = 0;
    rq.method = start;
    char *version = strchr(rq.path, ' ');
    if (version)
        *version = 0;
    char *q = strchr(rq.path, '?');
    if (q) {
        *q = 0;
        rq.query = q + 1;
    }
    while ((h = line(&p, end)) && *h && rq.n_headers < MAX_HEADERS) {
        char *colon = strchr(h, ':');
        if (!colon)
            return;
        *colon = 0;
        for (char *c = h; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        headers[rq.n_headers++] = (struct tp_header){h, v};
    }
    if (!h)
        return;
    rq.headers = headers;
    struct tp_stream *st = router_stream_open(&rq);
    if (st) {
        int refused = 0;
        for (size_t off = 0; p + off < end && !refused; off += 4096) {
            size_t n = (size_t)(end - p) - off;
            refused = st->write(st, (const unsigned char *)p + off, n < 4096 ? n : 4096);
        }
        st->finish(st, !refused, &rs); /* a refused piece ends it as the fronts do */
    } else {
        rq.body = (const unsigned char *)p;
        rq.body_len = (size_t)(end - p);
        router_dispatch(&rq, &rs);
    }
    if (rs.status < 100 || rs.status > 599)
        __builtin_trap(); /* every request gets an answer */
    response_free(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1); /* writable, and NUL-terminated past the body */
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = 0;
    run(in, size);
    free(in);
    return 0;
}
