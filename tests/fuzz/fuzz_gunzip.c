/* libFuzzer target: `Content-Encoding: gzip` request bodies, with a small cap
 * so inflating past it is exercised too. */
#include "protocol/gunzip.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    unsigned char *out = gunzip(data, size, 1 << 16, &n);
    if (out && (n > 1 << 16 || out[n] != 0))
        __builtin_trap();
    free(out);
    return 0;
}
