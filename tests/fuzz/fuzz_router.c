/* libFuzzer target: whole requests through the router, as the HTTP fronts hand
 * them over, against a throw-away database: the service routing, SigV4
 * Authorization headers and presigned query credentials, S3 paths, queries,
 * ranges and headers, awsQuery forms, gzip bodies, and every handler behind
 * them. Input: an HTTP/1.1 request ("METHOD target HTTP/1.1", "name: value"
 * lines, a blank line, the body; no chunked encoding, the HTTP/1.1 fuzz test
 * does that); the body goes to the stream the router opens, when it opens
 * one, in the pieces a front would pass on. */
#include "tests/fuzz/http_input.h"
#include "server/runtime/config.h"
#include "server/services.h"
#include "storage/db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void run(char *in, size_t size)
{
    struct tp_header headers[FUZZ_MAX_HEADERS];
    struct tp_request rq;
    struct tp_response rs = {0};
    char *p, *end = in + size;

    if (fuzz_parse_request(in, size, &rq, headers, &p))
        return;
    struct tp_request head = rq; /* the fronts offer the head before any body byte */
    head.body = NULL;
    head.body_len = 0;
    struct tp_stream *st = router_stream_open(&head);
    if (st) {
        int refused = 0;
        for (size_t off = 0; p + off < end && !refused; off += 4096) {
            size_t n = (size_t)(end - p) - off;
            refused = st->write(st, (const unsigned char *)p + off, n < 4096 ? n : 4096);
        }
        st->finish(st, !refused, &rs); /* a refused piece ends it as the fronts do */
    } else {
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
