/* libFuzzer target: Firehose Prefix / ErrorOutputPrefix expressions and
 * CustomTimeZone as CreateDeliveryStream takes them, validated and, when
 * valid, evaluated into an object key. Input: a flags byte (bit 0: dynamic
 * partitioning, bit 1: an error key), then prefix NUL error-prefix NUL zone.
 * Lengths and the zone's characters are held to what the shape rules let
 * through ([a-zA-Z/_], 0..50; prefixes 0..1024). */
#include "protocol/fh_prefix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The next NUL-terminated field of at most max bytes, or NULL past the end. */
static char *field(const char **p, const char *end, size_t max)
{
    if (*p >= end)
        return NULL;
    const char *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = (size_t)((nul ? nul : end) - *p);
    char *s = n <= max ? strndup(*p, n) : NULL;
    *p += n + 1;
    return s;
}

static int zone_shape_ok(const char *z)
{
    for (const char *c = z; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '/' || *c == '_'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[FH_MSG_MAX], key[FH_KEY_MAX];
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    char *prefix = field(&p, end, 1024), *error_prefix = field(&p, end, 1024), *zone = field(&p, end, 50);
    if (zone && !zone_shape_ok(zone)) {
        free(zone);
        zone = NULL;
    }
    if (fh_prefix_validate(prefix, error_prefix, flags & 1, zone, msg, sizeof msg) == 0) {
        int n = fh_object_key(prefix, error_prefix, flags & 2 ? "processing-failed" : NULL, "stream", 1,
                              1783951507089ULL, zone, ".gz", key, sizeof key);
        if (n >= 0 && (size_t)n != strlen(key))
            __builtin_trap();
    } else if (!memchr(msg, 0, sizeof msg)) {
        __builtin_trap();
    }
    free(prefix);
    free(error_prefix);
    free(zone);
    return 0;
}
