/* libFuzzer target: the credentials check of --auth (server/net/auth.c over
 * protocol/sigv4.c and sigv2.c) on whole requests: Authorization headers
 * (SigV4, SigV2), presigned queries of both kinds, dates, expiries, the
 * canonical request of S3 and of the JSON services, the seed of a signed
 * aws-chunked body. Input: a byte whose bit 0 says S3's rules, then an
 * HTTP/1.1 request as http_input.h reads it. The key file holds AWS's
 * documentation key, and "now" is the day of AWS's signing examples, so the
 * seeds taken from those examples verify and the fuzzer starts past the
 * signature. */
#include "tests/fuzz/http_input.h"
#include "server/net/auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLES_DAY_MS 1369353600000ULL /* 2013-05-24T00:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/tidepool-fuzz-auth-XXXXXX", err[256];
    (void)argc, (void)argv;
    int fd = mkstemp(path);
    static const char KEYS[] = "{\"credentials\":[{\"accessKeyId\":\"AKIAIOSFODNN7EXAMPLE\","
                               "\"secretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}]}";
    if (fd < 0 || write(fd, KEYS, sizeof KEYS - 1) != (ssize_t)(sizeof KEYS - 1) ||
        auth_load_file(path, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_auth: cannot load the key file\n");
        exit(1);
    }
    close(fd);
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_header headers[FUZZ_MAX_HEADERS];
    struct tp_request rq;
    struct auth_result r;
    char *body;

    if (size < 1)
        return 0;
    char *in = malloc(size); /* writable, and NUL-terminated past the request */
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = 0;
    if (fuzz_parse_request(in, size - 1, &rq, headers, &body) == 0) {
        auth_check(&rq, data[0] & 1, NULL, EXAMPLES_DAY_MS, &r);
        if ((unsigned)r.status > AUTH_NO_CONTENT_SHA)
            __builtin_trap();
        auth_result_free(&r);
    }
    free(in);
    return 0;
}
