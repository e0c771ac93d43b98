/* JavaScript's JSON, byte for byte as V8 (Node) does it, for the builtin
 * Lambda hooks that must answer exactly as the real Node.js function would
 * (see lambda_builtin.c):
 * - the bytes are decoded as Buffer.toString does: ill-formed UTF-8 becomes U+FFFD;
 * - the grammar is JSON.parse's, strictly (no leading zeros, '+', trailing
 *   commas, control characters in strings; whitespace is space, tab, CR, LF),
 *   and where JS would throw, the error carries Node 12's SyntaxError text;
 * - an object keeps a repeated key at its first place with its last value, and
 *   lists array-index keys ("0".."4294967294") first, in numeric order;
 * - numbers go through a double and come out as Number.prototype.toString
 *   prints them (5.0 -> 5, 1e21 -> 1e+21, -0 -> 0, 1e400 -> null), strings
 *   escaped as JSON.stringify does (\u00XX lowercase, lone surrogates \udXXX);
 * - Object.assign: a top-level "__proto__" member goes to the prototype setter
 *   (not printed); an array or string payload gives its indexes as keys; any
 *   other non-object payload adds nothing.
 * cJSON is still what reads events; it cannot keep these rules (duplicate keys,
 * number printing), which is why this exists. Known difference: nesting deeper
 * than JS_MAX_DEPTH fails (V8 goes deeper). */
#define _GNU_SOURCE /* qsort_r */
#include "protocol/js_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JS_MAX_DEPTH 1000

/* ------------------------------------------------------------------------ */
/* Text as Node decodes it                                                  */
/* ------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes left), or 0 with
 * *bad the length of the ill-formed prefix that the WHATWG decoder (V8's)
 * turns into one U+FFFD. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        need = 1;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 2;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = s[0] == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 3;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i; /* the byte that broke the sequence starts the next one */
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* s as Buffer.prototype.toString() sees it. s itself when well-formed, else
 * the repaired copy in tmp; *out_n gets the length. */
const char *js_utf8_repair(const char *s, size_t n, struct strbuf *tmp, size_t *out_n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, done = 0, bad, l;

    while (i < n) {
        if ((l = utf8_len(u + i, n - i, &bad))) {
            i += l;
            continue;
        }
        strbuf_put(tmp, s + done, i - done);
        strbuf_put(tmp, "\xEF\xBF\xBD", 3);
        i += bad;
        done = i;
    }
    if (!tmp->buf) {
        *out_n = n;
        return s;
    }
    strbuf_put(tmp, s + done, n - done);
    *out_n = tmp->len;
    return tmp->buf;
}

/* Appends code point cp as UTF-8; a surrogate gets the same 3-byte form
 * (WTF-8), so a lone one survives until printing. */
static void put_utf8(struct strbuf *b, unsigned cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    strbuf_put(b, u, n);
}

/* ------------------------------------------------------------------------ */
/* JSON.stringify's output                                                  */
/* ------------------------------------------------------------------------ */

/* A string (WTF-8) as JSON.stringify quotes it. */
static void put_js_string(struct strbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes not yet copied */

    strbuf_put(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        size_t el = 2, width = 1; /* escape length; bytes it replaces */

        if (u[i] == '"' || u[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)u[i];
        } else if (u[i] < 0x20) {
            static const char short_esc[] = "btn\0fr"; /* \b \t \n \v(none) \f \r */
            esc[0] = '\\';
            if (u[i] >= 8 && u[i] <= 13 && short_esc[u[i] - 8]) {
                esc[1] = short_esc[u[i] - 8];
            } else {
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[u[i] >> 4];
                esc[5] = hex[u[i] & 15];
                el = 6;
            }
        } else if (u[i] == 0xED && i + 2 < n && u[i + 1] >= 0xA0) { /* a lone surrogate */
            snprintf(esc, sizeof esc, "\\u%04x", 0xD000u | (u[i + 1] & 0x3Fu) << 6 | (u[i + 2] & 0x3Fu));
            el = 6;
            width = 3;
        } else {
            continue;
        }
        strbuf_put(out, s + run, i - run);
        strbuf_put(out, esc, el);
        i += width - 1;
        run = i + 1;
    }
    strbuf_put(out, s + run, n - run);
    strbuf_put(out, "\"", 1);
}

/* A number as Number.prototype.toString prints it (ECMA-262 Number::toString):
 * the shortest digits that read back as v, placed by the exponent. */
static void put_js_number(struct strbuf *out, double v)
{
    char e[40], digits[20], res[64];
    int k, n, len = 0, neg = v < 0;

    if (!isfinite(v)) {
        strbuf_put(out, "null", 4); /* JSON.stringify(Infinity) */
        return;
    }
    if (v == 0) {
        strbuf_put(out, "0", 1); /* -0 too */
        return;
    }
    for (k = 1; k < 17; k++) {
        snprintf(e, sizeof e, "%.*e", k - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof e, "%.*e", k - 1, v); /* [-]d[.ddd]e±x */
    digits[0] = e[neg];
    if (k > 1)
        memcpy(digits + 1, e + neg + 2, (size_t)k - 1);
    n = atoi(strchr(e, 'e') + 1) + 1; /* v = 0.digits x 10^n */
    if (neg)
        res[len++] = '-';
    if (k <= n && n <= 21) {
        memcpy(res + len, digits, (size_t)k);
        memset(res + len + k, '0', (size_t)(n - k));
        len += n;
    } else if (0 < n && n <= 21) {
        memcpy(res + len, digits, (size_t)n);
        res[len + n] = '.';
        memcpy(res + len + n + 1, digits + n, (size_t)(k - n));
        len += k + 1;
    } else if (-6 < n && n <= 0) {
        memcpy(res + len, "0.", 2);
        memset(res + len + 2, '0', (size_t)-n);
        memcpy(res + len + 2 - n, digits, (size_t)k);
        len += 2 - n + k;
    } else {
        res[len++] = digits[0];
        if (k > 1) {
            res[len++] = '.';
            memcpy(res + len, digits + 1, (size_t)k - 1);
            len += k - 1;
        }
        len += snprintf(res + len, sizeof res - (size_t)len, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    strbuf_put(out, res, (size_t)len);
}

/* ------------------------------------------------------------------------ */
/* JSON.parse, serialising as it goes                                       */
/* ------------------------------------------------------------------------ */

struct js {
    const char *s; /* the text, well-formed UTF-8 */
    size_t n, i;   /* its length, the parse position */
    int depth;
    struct js_error *err;
};

/* An object's members, kept until its key order is known. */
struct member {
    size_t koff, klen; /* the key, in members.keys */
    size_t voff, vlen; /* the serialised value, in members.vals */
    size_t pos;        /* where the key first appeared */
    uint32_t index;    /* the key's value when it is an array index */
    int is_index;
};

struct members {
    struct member *v;
    size_t n, cap;
    struct strbuf keys, vals;
};

static int parse_value(struct js *p, struct strbuf *out);

/* The SyntaxError V8 (Node 12) throws at the current position, whose number
 * counts UTF-16 units. Returns -1. */
static int unexpected(struct js *p)
{
    const unsigned char *u = (const unsigned char *)p->s;
    size_t pos = 0, bad;

    for (size_t k = 0; k < p->i && k < p->n; k++)
        if ((u[k] & 0xC0) != 0x80)
            pos += u[k] >= 0xF0 ? 2 : 1;
    p->err->type = "SyntaxError";
    if (p->i >= p->n)
        snprintf(p->err->msg, sizeof p->err->msg, "Unexpected end of JSON input");
    else if (u[p->i] == '"')
        snprintf(p->err->msg, sizeof p->err->msg, "Unexpected string in JSON at position %zu", pos);
    else if (u[p->i] == '-' || (u[p->i] >= '0' && u[p->i] <= '9'))
        snprintf(p->err->msg, sizeof p->err->msg, "Unexpected number in JSON at position %zu", pos);
    else
        snprintf(p->err->msg, sizeof p->err->msg, "Unexpected token %.*s in JSON at position %zu",
                 (int)utf8_len(u + p->i, p->n - p->i, &bad), p->s + p->i, pos);
    return -1;
}

static void skip_ws(struct js *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* The 4 hex digits after "\u" (p->i at the 'u'), or -1 with the SyntaxError. */
static long hex4(struct js *p)
{
    long v = 0;

    for (int k = 1; k <= 4; k++) {
        char c = p->i + (size_t)k < p->n ? p->s[p->i + (size_t)k] : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) {
            p->i += (size_t)k;
            return unexpected(p);
        }
        v = v * 16 + d;
    }
    return v;
}

/* The string at p->i (a '"') decoded into dst as WTF-8. */
static int parse_string(struct js *p, struct strbuf *dst)
{
    static const char ESC_IN[] = "\"\\/bfnrt", ESC_OUT[] = "\"\\/\b\f\n\r\t";

    strbuf_reserve(dst, 0); /* an empty string still has a buffer */
    p->i++;
    for (;;) {
        size_t run = p->i;
        const char *e;
        long u, lo;

        while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && (unsigned char)p->s[p->i] >= 0x20)
            p->i++;
        strbuf_put(dst, p->s + run, p->i - run);
        if (p->i >= p->n || (unsigned char)p->s[p->i] < 0x20)
            return unexpected(p);
        if (p->s[p->i++] == '"')
            return 0;
        if (p->i >= p->n)
            return unexpected(p);
        if (p->s[p->i] != 'u') {
            if (!p->s[p->i] || !(e = strchr(ESC_IN, p->s[p->i])))
                return unexpected(p);
            strbuf_put(dst, &ESC_OUT[e - ESC_IN], 1);
            p->i++;
            continue;
        }
        if ((u = hex4(p)) < 0)
            return -1;
        p->i += 5;
        /* A high surrogate escape followed by a low one is one character. */
        if (u >= 0xD800 && u <= 0xDBFF && p->i + 1 < p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
            size_t back = p->i;
            struct js_error saved = *p->err;

            p->i++; /* at the second 'u' */
            lo = hex4(p);
            *p->err = saved; /* a bad second escape is reported when parsed on its own */
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p->i = back + 6;
            } else {
                p->i = back;
            }
        }
        put_utf8(dst, (unsigned)u);
    }
}

/* A number per JSON's grammar, read as a double the way JSON.parse does. */
static int parse_number(struct js *p, double *v)
{
    size_t start = p->i;
    char small[64], *text = small;

#define DIGIT(i) ((i) < p->n && p->s[i] >= '0' && p->s[i] <= '9')
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (DIGIT(p->i))
        while (DIGIT(p->i))
            p->i++;
    else
        return unexpected(p);
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!DIGIT(p->i))
            return unexpected(p);
        while (DIGIT(p->i))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!DIGIT(p->i))
            return unexpected(p);
        while (DIGIT(p->i))
            p->i++;
    }
#undef DIGIT
    if (p->i - start >= sizeof small && !(text = malloc(p->i - start + 1)))
        abort();
    memcpy(text, p->s + start, p->i - start);
    text[p->i - start] = 0;
    *v = strtod(text, NULL); /* correctly rounded, as V8's; overflow gives inf */
    if (text != small)
        free(text);
    return 0;
}

static int parse_literal(struct js *p, const char *word, struct strbuf *out)
{
    for (const char *w = word; *w; w++, p->i++)
        if (p->i >= p->n || p->s[p->i] != *w)
            return unexpected(p);
    strbuf_put(out, word, strlen(word));
    return 0;
}

static int enter(struct js *p)
{
    if (++p->depth <= JS_MAX_DEPTH)
        return 0;
    p->err->type = "RangeError";
    snprintf(p->err->msg, sizeof p->err->msg, "Maximum call stack size exceeded");
    return -1;
}

/* Adds a member whose key is the klen bytes at m->keys.buf + koff and whose
 * value was serialised at m->vals.buf + voff. */
static void add_member(struct members *m, size_t koff, size_t klen, size_t voff)
{
    struct member *x;
    const char *k = m->keys.buf + koff;
    unsigned long long idx = 0;

    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        if (!(m->v = realloc(m->v, m->cap * sizeof *m->v)))
            abort();
    }
    x = &m->v[m->n];
    *x = (struct member){koff, klen, voff, m->vals.len - voff, m->n, 0, 0};
    m->n++;
    /* An array index: "0", or up to 10 digits without a leading zero, at most 2^32 - 2. */
    if (klen == 0 || klen > 10 || (klen > 1 && k[0] == '0'))
        return;
    for (size_t i = 0; i < klen; i++) {
        if (k[i] < '0' || k[i] > '9')
            return;
        idx = idx * 10 + (unsigned)(k[i] - '0');
    }
    if (idx <= 4294967294ULL) {
        x->index = (uint32_t)idx;
        x->is_index = 1;
    }
}

static void add_key(struct members *m, const char *k, size_t klen, size_t *koff)
{
    *koff = m->keys.len;
    strbuf_put(&m->keys, k, klen);
}

static int same_key(const struct members *m, const struct member *x, const struct member *y)
{
    return x->klen == y->klen && !memcmp(m->keys.buf + x->koff, m->keys.buf + y->koff, x->klen);
}

static int cmp_key_then_pos(const void *a, const void *b, void *arg)
{
    const struct members *m = arg;
    const struct member *x = a, *y = b;
    size_t l = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(m->keys.buf + x->koff, m->keys.buf + y->koff, l);

    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* OrdinaryOwnPropertyKeys: array indexes ascending, then the other keys in
 * the order they were created. */
static int cmp_js_order(const void *a, const void *b)
{
    const struct member *x = a, *y = b;

    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index)
        return x->index < y->index ? -1 : x->index > y->index;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Writes the object as JSON.stringify would, given how its members were
 * defined: a key defined twice keeps its first place and its last value.
 * top: the Object.assign target, where "__proto__" went to the setter. */
static void emit_members(struct members *m, struct strbuf *out, int top)
{
    size_t live = 0;

    if (m->n == 0) {
        strbuf_put(out, "{}", 2);
        return;
    }
    qsort_r(m->v, m->n, sizeof *m->v, cmp_key_then_pos, m);
    for (size_t i = 0; i < m->n;) {
        size_t j = i + 1;
        while (j < m->n && same_key(m, &m->v[i], &m->v[j]))
            j++;
        m->v[live] = m->v[i];
        m->v[live].voff = m->v[j - 1].voff;
        m->v[live].vlen = m->v[j - 1].vlen;
        if (!top || m->v[live].klen != 9 || memcmp(m->keys.buf + m->v[live].koff, "__proto__", 9))
            live++;
        i = j;
    }
    qsort(m->v, live, sizeof *m->v, cmp_js_order);
    strbuf_put(out, "{", 1);
    for (size_t i = 0; i < live; i++) {
        if (i)
            strbuf_put(out, ",", 1);
        put_js_string(out, m->keys.buf + m->v[i].koff, m->v[i].klen);
        strbuf_put(out, ":", 1);
        strbuf_put(out, m->vals.buf + m->v[i].voff, m->v[i].vlen);
    }
    strbuf_put(out, "}", 1);
}

static void members_free(struct members *m)
{
    free(m->v);
    strbuf_free(&m->keys);
    strbuf_free(&m->vals);
}

/* The object at p->i (a '{') into m. */
static int parse_object(struct js *p, struct members *m)
{
    if (enter(p))
        return -1;
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        size_t koff = m->keys.len, voff;

        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"')
            return unexpected(p);
        if (parse_string(p, &m->keys))
            return -1;
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != ':')
            return unexpected(p);
        p->i++;
        voff = m->vals.len;
        if (parse_value(p, &m->vals))
            return -1;
        add_member(m, koff, m->keys.len - koff, voff);
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}')
            break;
        return unexpected(p);
    }
    p->i++;
    p->depth--;
    return 0;
}

/* The array at p->i (a '[') into out, or, given m, as members "0", "1"... */
static int parse_array(struct js *p, struct strbuf *out, struct members *m)
{
    if (enter(p))
        return -1;
    p->i++;
    if (!m)
        strbuf_put(out, "[", 1);
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
    } else {
        for (size_t k = 0;; k++) {
            char key[24];
            size_t koff, voff = m ? m->vals.len : 0;

            if (!m && k)
                strbuf_put(out, ",", 1);
            if (parse_value(p, m ? &m->vals : out))
                return -1;
            if (m) {
                add_key(m, key, (size_t)snprintf(key, sizeof key, "%zu", k), &koff);
                add_member(m, koff, m->keys.len - koff, voff);
            }
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == ']')
                break;
            return unexpected(p);
        }
        p->i++;
    }
    if (!m)
        strbuf_put(out, "]", 1);
    p->depth--;
    return 0;
}

/* Parses the value at p->i and appends JSON.stringify(value) to out. */
static int parse_value(struct js *p, struct strbuf *out)
{
    struct members m = {0};
    struct strbuf str = {0};
    double v = 0;
    int rc;

    skip_ws(p);
    switch (p->i < p->n ? p->s[p->i] : 0) {
    case '{':
        if ((rc = parse_object(p, &m)) == 0)
            emit_members(&m, out, 0);
        members_free(&m);
        return rc;
    case '[':
        return parse_array(p, out, NULL);
    case '"':
        if ((rc = parse_string(p, &str)) == 0)
            put_js_string(out, str.buf, str.len);
        strbuf_free(&str);
        return rc;
    case 't':
        return parse_literal(p, "true", out);
    case 'f':
        return parse_literal(p, "false", out);
    case 'n':
        return parse_literal(p, "null", out);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (parse_number(p, &v))
            return -1;
        put_js_number(out, v);
        return 0;
    default:
        return unexpected(p);
    }
}

/* Adds one member per UTF-16 unit of the string s (WTF-8), as Object.assign
 * copies a string's indexes. */
static void add_string_units(struct members *m, const char *s, size_t n)
{
    size_t unit = 0;

    const unsigned char *u8 = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        unsigned char c = u8[i];
        size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        unsigned units[2] = {0, 0};
        struct strbuf one = {0};

        if (l == 4) { /* a pair: two units, each a lone surrogate on its own */
            unsigned cp = (c & 7u) << 18 | (u8[i + 1] & 0x3Fu) << 12 | (u8[i + 2] & 0x3Fu) << 6 | (u8[i + 3] & 0x3Fu);
            units[0] = 0xD800 + ((cp - 0x10000) >> 10);
            units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
        }
        for (int u = 0; u < (l == 4 ? 2 : 1); u++) {
            char key[24];
            size_t koff, voff = m->vals.len;

            one.len = 0;
            if (l == 4)
                put_utf8(&one, units[u]);
            else
                strbuf_put(&one, s + i, l);
            put_js_string(&m->vals, one.buf, one.len);
            add_key(m, key, (size_t)snprintf(key, sizeof key, "%zu", unit++), &koff);
            add_member(m, koff, m->keys.len - koff, voff);
        }
        strbuf_free(&one);
        i += l;
    }
}

int js_assign_first(const char *text, size_t n, const char *key, const char *value, struct strbuf *out,
                    struct js_error *err)
{
    struct js p = {.s = text, .n = n, .err = err};
    struct members m = {0};
    struct strbuf scratch = {0};
    size_t koff;
    int rc;

    add_key(&m, key, strlen(key), &koff);
    put_js_string(&m.vals, value, strlen(value));
    add_member(&m, koff, strlen(key), 0);
    skip_ws(&p);
    switch (p.i < p.n ? p.s[p.i] : 0) {
    case '{':
        rc = parse_object(&p, &m);
        break;
    case '[':
        rc = parse_array(&p, NULL, &m);
        break;
    case '"':
        if ((rc = parse_string(&p, &scratch)) == 0)
            add_string_units(&m, scratch.buf, scratch.len);
        break;
    default: /* numbers, booleans and null have no own properties to copy */
        rc = parse_value(&p, &scratch);
    }
    skip_ws(&p);
    if (rc == 0 && p.i < p.n)
        rc = unexpected(&p);
    if (rc == 0)
        emit_members(&m, out, 1);
    members_free(&m);
    strbuf_free(&scratch);
    return rc;
}
