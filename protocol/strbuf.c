/* The growable buffer under the response writers; see strbuf.h. */
#include "protocol/strbuf.h"

#include <stdlib.h>
#include <string.h>

char *strbuf_reserve(struct strbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            abort();
        b->buf = nb;
        b->cap = cap;
    }
    return b->buf + b->len;
}

void strbuf_put(struct strbuf *b, const void *s, size_t n)
{
    char *dst = strbuf_reserve(b, n);
    if (n) /* s may be NULL with nothing to copy: an empty strbuf's buffer */
        memcpy(dst, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

char *strbuf_take(struct strbuf *b, size_t *len)
{
    strbuf_reserve(b, 0);
    b->buf[b->len] = 0;
    char *out = b->buf;
    *len = b->len;
    memset(b, 0, sizeof *b);
    return out;
}

void strbuf_free(struct strbuf *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}
