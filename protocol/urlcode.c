/* See urlcode.h. */
#include "protocol/urlcode.h"

#include <string.h>

int url_hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t url_decode(const char *s, size_t n, int plus, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = url_hexval(s[i + 1])) >= 0 && (lo = url_hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = 0;
    return o;
}

const char *url_query_find(const char *query, const char *name, size_t *n)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        size_t len = strcspn(p, "&");
        if (len >= nl && !strncmp(p, name, nl) && (len == nl || p[nl] == '=')) {
            *n = len > nl ? len - nl - 1 : 0;
            return p + len - *n;
        }
    }
    return NULL;
}

const char *url_query_param(const char *query, const char *name, char *out, size_t outlen)
{
    size_t n;
    const char *v = url_query_find(query, name, &n);
    if (!v || n >= outlen)
        return NULL;
    url_decode(v, n, 0, out);
    return out;
}
