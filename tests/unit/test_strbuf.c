/* The growing string buffer: appends, NUL termination, and appending an
 * empty buffer (NULL data, no bytes), which fuzz_auth found to be undefined
 * behaviour (memcpy from NULL) when a presigned URL signed no headers. */
#include "protocol/strbuf.h"
#include "tests/unit/check.h"

int main(void)
{
    struct strbuf a = {0}, b = {0};
    strbuf_put(&b, a.buf, a.len); /* NULL, 0 */
    CHECK(b.len == 0 && b.buf && b.buf[0] == 0);
    strbuf_put(&b, "abc", 3);
    strbuf_put(&b, a.buf, 0);
    strbuf_put(&b, "de", 2);
    CHECK_STREQ(b.buf, "abcde");
    CHECK(b.len == 5);
    size_t n;
    char *s = strbuf_take(&b, &n);
    CHECK(n == 5 && !strcmp(s, "abcde"));
    free(s);
    puts("strbuf: ok");
    return 0;
}
