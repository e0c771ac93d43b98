/* libFuzzer target: what a Firehose transformation Lambda answers, judged
 * against the record ids that were sent. The first byte says how many of the
 * ids "1".."8" were sent; the rest is the response. */
#include "server/firehose/lambda.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const IDS[] = {"1", "2", "3", "4", "5", "6", "7", "8"};
    struct lambda_record out[8];
    struct lambda_failure fail;
    if (size < 1)
        return 0;
    size_t n = data[0] % 9;
    data++, size--;
    char *resp = malloc(size + 1); /* NUL-terminated, as lambda_invoke returns it */
    if (!resp)
        return 0;
    memcpy(resp, data, size);
    resp[size] = 0;
    if (lambda_check_response(resp, size, IDS, n, out, &fail) == 0) {
        for (size_t i = 0; i < n; i++)
            if (out[i].result == LAMBDA_FAILED && (!out[i].code || !out[i].message))
                __builtin_trap();
        lambda_records_free(out, n);
    } else if (!fail.code || !fail.message) {
        __builtin_trap();
    }
    free(resp);
    return 0;
}
