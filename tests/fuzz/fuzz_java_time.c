/* libFuzzer target: Java DateTimeFormatter patterns (the !{timestamp:...}
 * expressions of Firehose prefixes) formatted at an instant the first eight
 * bytes pick, in UTC. */
#include "protocol/java_time.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[512];
    uint64_t ms = 0;
    struct jt_when w;
    if (size < sizeof ms)
        return 0;
    memcpy(&ms, data, sizeof ms);
    if (jt_when_at(ms % (JT_INSTANT_MAX_MS + 1), "UTC", &w) != 0)
        return 0;
    struct jt_out o = {buf, 0, sizeof buf, 0};
    const char *bad = NULL;
    size_t bad_len = 0;
    const char *pat = (const char *)data + sizeof ms;
    size_t len = size - sizeof ms;
    if (jt_format(pat, len, &w, &o, &bad, &bad_len) != JT_OK &&
        bad && (bad < pat || bad + bad_len > pat + len))
        __builtin_trap();
    if (o.len > o.cap)
        __builtin_trap();
    return 0;
}
