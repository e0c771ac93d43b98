/* Streaming JSON writer; see json_writer.h. Allocation failure aborts: a server
 * that cannot allocate a response buffer has no sensible way to answer. */
#include "protocol/json_writer.h"
#include "protocol/base64.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w) { memset(w, 0, sizeof *w); }

void jw_free(struct jw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static char *reserve(struct jw *w, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *nb = realloc(w->buf, cap);
        if (!nb)
            abort();
        w->buf = nb;
        w->cap = cap;
    }
    return w->buf + w->len;
}

static void put(struct jw *w, const char *s, size_t n)
{
    memcpy(reserve(w, n), s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void before_value(struct jw *w)
{
    if (w->sep)
        put(w, ",", 1);
    w->sep = 1;
}

char *jw_take(struct jw *w, size_t *len)
{
    reserve(w, 0);
    w->buf[w->len] = 0;
    char *b = w->buf;
    *len = w->len;
    memset(w, 0, sizeof *w);
    return b;
}

void jw_obj_begin(struct jw *w) { before_value(w); put(w, "{", 1); w->sep = 0; }
void jw_obj_end(struct jw *w) { put(w, "}", 1); w->sep = 1; }
void jw_arr_begin(struct jw *w) { before_value(w); put(w, "[", 1); w->sep = 0; }
void jw_arr_end(struct jw *w) { put(w, "]", 1); w->sep = 1; }

void jw_key(struct jw *w, const char *key)
{
    jw_str(w, key);
    put(w, ":", 1);
    w->sep = 0;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    before_value(w);
    char *o = reserve(w, n * 6 + 2); /* worst case: every byte as \u00XX */
    char *p = o;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            *p++ = '\\';
            switch (c) {
            case '\n': *p++ = 'n'; break;
            case '\r': *p++ = 'r'; break;
            case '\t': *p++ = 't'; break;
            default:
                *p++ = 'u'; *p++ = '0'; *p++ = '0';
                *p++ = hex[c >> 4]; *p++ = hex[c & 15];
            }
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    w->len += (size_t)(p - o);
    w->buf[w->len] = 0;
}

void jw_str(struct jw *w, const char *s) { jw_strn(w, s, strlen(s)); }

void jw_int(struct jw *w, long long v)
{
    char b[32];
    before_value(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

void jw_bool(struct jw *w, int v)
{
    before_value(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void jw_time_ms(struct jw *w, uint64_t ms)
{
    char b[40];
    before_value(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000)));
}

void jw_blob(struct jw *w, const void *data, size_t n)
{
    before_value(w);
    size_t el = base64_encoded_len(n);
    char *o = reserve(w, el + 2);
    o[0] = '"';
    base64_encode(data, n, o + 1);
    o[el + 1] = '"';
    w->len += el + 2;
    w->buf[w->len] = 0;
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
    before_value(w);
    put(w, json, n);
}
