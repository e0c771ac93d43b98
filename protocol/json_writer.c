/* Streaming JSON/CBOR writer; see json_writer.h. The bytes go to a strbuf
 * (which aborts when out of memory); CBOR heads are encoded by libcbor. */
#include "protocol/json_writer.h"
#include "protocol/base64.h"

#include <cbor.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w) { memset(w, 0, sizeof *w); }

void jw_init_as(struct jw *w, const struct jw *like)
{
    jw_init(w);
    w->cbor = like->cbor;
    w->time_s = like->time_s;
}

void jw_free(struct jw *w)
{
    strbuf_free(&w->b);
    w->sep = 0;
}

static char *reserve(struct jw *w, size_t n) { return strbuf_reserve(&w->b, n); }

static void put(struct jw *w, const char *s, size_t n) { strbuf_put(&w->b, s, n); }

static void before_value(struct jw *w)
{
    if (w->sep)
        put(w, ",", 1);
    w->sep = 1;
}

char *jw_take(struct jw *w, size_t *len)
{
    w->sep = 0; /* the writer stays of its kind (JSON or CBOR) */
    return strbuf_take(&w->b, len);
}

/* CBOR: a head written by a libcbor encoder (at most 9 bytes). */
#define CBOR_HEAD_MAX 9
static void cbor_head(struct jw *w, size_t (*enc)(uint64_t, unsigned char *, size_t), uint64_t v)
{
    w->b.len += enc(v, (unsigned char *)reserve(w, CBOR_HEAD_MAX), CBOR_HEAD_MAX);
}

static void cbor_byte(struct jw *w, size_t (*enc)(unsigned char *, size_t))
{
    w->b.len += enc((unsigned char *)reserve(w, CBOR_HEAD_MAX), CBOR_HEAD_MAX);
}

static size_t enc_text_head(uint64_t n, unsigned char *b, size_t sz) { return cbor_encode_string_start(n, b, sz); }
static size_t enc_bytes_head(uint64_t n, unsigned char *b, size_t sz) { return cbor_encode_bytestring_start(n, b, sz); }
static size_t enc_true(unsigned char *b, size_t sz) { return cbor_encode_bool(true, b, sz); }
static size_t enc_false(unsigned char *b, size_t sz) { return cbor_encode_bool(false, b, sz); }

void jw_obj_begin(struct jw *w)
{
    if (w->cbor) {
        cbor_byte(w, cbor_encode_indef_map_start);
        return;
    }
    before_value(w);
    put(w, "{", 1);
    w->sep = 0;
}

void jw_obj_end(struct jw *w)
{
    if (w->cbor) {
        cbor_byte(w, cbor_encode_break);
        return;
    }
    put(w, "}", 1);
    w->sep = 1;
}

void jw_arr_begin(struct jw *w)
{
    if (w->cbor) {
        cbor_byte(w, cbor_encode_indef_array_start);
        return;
    }
    before_value(w);
    put(w, "[", 1);
    w->sep = 0;
}

void jw_arr_end(struct jw *w)
{
    if (w->cbor) {
        cbor_byte(w, cbor_encode_break);
        return;
    }
    put(w, "]", 1);
    w->sep = 1;
}

void jw_key(struct jw *w, const char *key)
{
    jw_str(w, key);
    if (w->cbor)
        return;
    put(w, ":", 1);
    w->sep = 0;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (w->cbor) {
        cbor_head(w, enc_text_head, n);
        put(w, s, n);
        return;
    }
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
    w->b.len += (size_t)(p - o);
    w->b.buf[w->b.len] = 0;
}

void jw_str(struct jw *w, const char *s) { jw_strn(w, s, strlen(s)); }

void jw_int(struct jw *w, long long v)
{
    char b[32];
    if (w->cbor) {
        if (v < 0)
            cbor_head(w, cbor_encode_negint, (uint64_t)(-1 - v));
        else
            cbor_head(w, cbor_encode_uint, (uint64_t)v);
        return;
    }
    before_value(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

void jw_bool(struct jw *w, int v)
{
    if (w->cbor) {
        cbor_byte(w, v ? enc_true : enc_false);
        return;
    }
    before_value(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

size_t jw_fmt_double(char *out, size_t outlen, double v)
{
    int n = snprintf(out, outlen, "%.15g", v);
    if (strtod(out, NULL) != v)
        n = snprintf(out, outlen, "%.17g", v);
    return (size_t)n;
}

/* A CBOR double: libcbor writes the 9 bytes. */
static void cbor_double(struct jw *w, double v)
{
    w->b.len += cbor_encode_double(v, (unsigned char *)reserve(w, CBOR_HEAD_MAX), CBOR_HEAD_MAX);
}

void jw_double(struct jw *w, double v)
{
    char b[32];
    if (w->cbor) {
        if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v)
            jw_int(w, (long long)v);
        else
            cbor_double(w, v);
        return;
    }
    before_value(w);
    put(w, b, jw_fmt_double(b, sizeof b, v));
}

void jw_time_ms(struct jw *w, uint64_t ms)
{
    char b[40];
    if (w->cbor) {
        cbor_head(w, cbor_encode_tag, 1);
        if (w->time_s)
            cbor_double(w, (double)ms / 1000.0);
        else
            cbor_head(w, cbor_encode_uint, ms);
        return;
    }
    before_value(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000)));
}

void jw_blob(struct jw *w, const void *data, size_t n)
{
    if (w->cbor) {
        cbor_head(w, enc_bytes_head, n);
        put(w, data, n);
        return;
    }
    before_value(w);
    size_t el = base64_encoded_len(n);
    char *o = reserve(w, el + 2);
    o[0] = '"';
    base64_encode(data, n, o + 1);
    o[el + 1] = '"';
    w->b.len += el + 2;
    w->b.buf[w->b.len] = 0;
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
    if (!w->cbor)
        before_value(w);
    put(w, json, n);
}
