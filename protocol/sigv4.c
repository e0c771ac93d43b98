/* SigV4 signing; see sigv4.h. Strings are built in strbufs, which abort when
 * memory runs out, so the only failure left to report is GnuTLS's. */
#include "protocol/sigv4.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_LEN 32

static void put(struct strbuf *b, const char *s)
{
    strbuf_put(b, s, strlen(s));
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

int sigv4_sha256_hex(const void *data, size_t n, char out[SIGV4_HEX_LEN + 1])
{
    unsigned char d[SHA256_LEN];

    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, d) != 0)
        return -1;
    hex(d, sizeof d, out);
    return 0;
}

void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_uri_encode(struct strbuf *b, const char *s, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            strbuf_put(b, &s[i], 1);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            strbuf_put(b, e, 3);
        }
    }
}

/* ---- canonical query: k=v pairs sorted by key, then value ---- */

struct qparam {
    const char *k, *v;
    size_t klen, vlen;
};

static int cmp_span(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_qparam(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = cmp_span(x->k, x->klen, y->k, y->klen);
    return c ? c : cmp_span(x->v, x->vlen, y->v, y->vlen);
}

static void canonical_query(struct strbuf *b, const char *q)
{
    size_t n = 0, cap = 1;

    for (const char *p = q; *p; p++)
        cap += *p == '&';
    struct qparam *ps = calloc(cap, sizeof *ps);
    if (!ps)
        abort(); /* as strbuf does */
    for (const char *p = q; *p;) {
        const char *end = p + strcspn(p, "&"), *eq = memchr(p, '=', (size_t)(end - p));
        if (end > p) {
            ps[n].k = p;
            ps[n].klen = (size_t)((eq ? eq : end) - p);
            ps[n].v = eq ? eq + 1 : end;
            ps[n].vlen = (size_t)(end - ps[n].v);
            n++;
        }
        p = *end ? end + 1 : end;
    }
    qsort(ps, n, sizeof *ps, cmp_qparam);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_put(b, "&", 1);
        strbuf_put(b, ps[i].k, ps[i].klen);
        strbuf_put(b, "=", 1); /* a valueless key is signed as "key=" */
        strbuf_put(b, ps[i].v, ps[i].vlen);
    }
    free(ps);
}

/* ---- canonical headers: lower-case names, sorted; values trimmed with
 * inner runs of spaces collapsed; a repeated name joins its values with ',' ---- */

struct hdr {
    char *name;
    const char *value;
    size_t order; /* keeps repeated headers in the order given */
};

static int cmp_hdr(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void put_trimmed(struct strbuf *b, const char *v)
{
    int space = 0, started = 0;

    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = started;
            continue;
        }
        if (space)
            strbuf_put(b, " ", 1);
        strbuf_put(b, v, 1);
        space = 0;
        started = 1;
    }
}

/* Appends the canonical header block to creq and the signed header list to signed_list. */
static void canonical_headers(struct strbuf *creq, struct strbuf *signed_list, const struct sigv4_header *h,
                              size_t n)
{
    struct hdr *hs = calloc(n ? n : 1, sizeof *hs);

    if (!hs)
        abort();
    for (size_t i = 0; i < n; i++) {
        hs[i].name = strdup(h[i].name);
        if (!hs[i].name)
            abort();
        for (char *c = hs[i].name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        hs[i].value = h[i].value;
        hs[i].order = i;
    }
    qsort(hs, n, sizeof *hs, cmp_hdr);
    for (size_t i = 0; i < n; i++) {
        int repeat = i > 0 && !strcmp(hs[i].name, hs[i - 1].name);
        if (repeat) {
            strbuf_put(creq, ",", 1);
        } else {
            if (i > 0) {
                strbuf_put(creq, "\n", 1);
                strbuf_put(signed_list, ";", 1);
            }
            put(creq, hs[i].name);
            strbuf_put(creq, ":", 1);
            put(signed_list, hs[i].name);
        }
        put_trimmed(creq, hs[i].value);
    }
    strbuf_put(creq, "\n", 1);
    for (size_t i = 0; i < n; i++)
        free(hs[i].name);
    free(hs);
}

static int hmac(const void *key, size_t klen, const char *msg, unsigned char out[SHA256_LEN])
{
    return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, msg, strlen(msg), out);
}

char *sigv4_authorization(const struct sigv4_request *r, struct sigv4_trace *trace)
{
    struct strbuf creq = {0}, sts = {0}, signed_list = {0}, key = {0}, auth = {0};
    char date[9], scope_hash[SIGV4_HEX_LEN + 1], sig[SIGV4_HEX_LEN + 1];
    unsigned char k[SHA256_LEN], s[SHA256_LEN];
    char *out = NULL;
    size_t len;

    snprintf(date, sizeof date, "%.8s", r->amz_date);
    put(&creq, r->method);
    strbuf_put(&creq, "\n", 1);
    put(&creq, r->path);
    strbuf_put(&creq, "\n", 1);
    canonical_query(&creq, r->query ? r->query : "");
    strbuf_put(&creq, "\n", 1);
    canonical_headers(&creq, &signed_list, r->headers, r->n_headers);
    strbuf_put(&creq, "\n", 1);
    strbuf_put(&creq, signed_list.buf, signed_list.len);
    strbuf_put(&creq, "\n", 1);
    put(&creq, r->payload_hash);

    if (sigv4_sha256_hex(creq.buf, creq.len, scope_hash))
        goto out;
    put(&sts, "AWS4-HMAC-SHA256\n");
    put(&sts, r->amz_date);
    strbuf_put(&sts, "\n", 1);
    put(&sts, date);
    strbuf_put(&sts, "/", 1);
    put(&sts, r->region);
    strbuf_put(&sts, "/", 1);
    put(&sts, r->service);
    put(&sts, "/aws4_request\n");
    put(&sts, scope_hash);

    /* kDate = HMAC("AWS4" + secret, date), then region, service, "aws4_request" */
    put(&key, "AWS4");
    put(&key, r->secret_key);
    if (hmac(key.buf, key.len, date, k) || hmac(k, sizeof k, r->region, k) || hmac(k, sizeof k, r->service, k) ||
        hmac(k, sizeof k, "aws4_request", k) || hmac(k, sizeof k, sts.buf, s))
        goto out;
    hex(s, sizeof s, sig);

    put(&auth, "AWS4-HMAC-SHA256 Credential=");
    put(&auth, r->access_key);
    strbuf_put(&auth, "/", 1);
    put(&auth, date);
    strbuf_put(&auth, "/", 1);
    put(&auth, r->region);
    strbuf_put(&auth, "/", 1);
    put(&auth, r->service);
    put(&auth, "/aws4_request, SignedHeaders=");
    strbuf_put(&auth, signed_list.buf, signed_list.len);
    put(&auth, ", Signature=");
    put(&auth, sig);
    out = strbuf_take(&auth, &len);
    if (trace) {
        trace->canonical_request = strbuf_take(&creq, &len);
        trace->string_to_sign = strbuf_take(&sts, &len);
    }
out:
    /* the secret-derived key material does not outlive the call */
    if (key.buf)
        memset(key.buf, 0, key.len);
    memset(k, 0, sizeof k);
    strbuf_free(&creq);
    strbuf_free(&sts);
    strbuf_free(&signed_list);
    strbuf_free(&key);
    strbuf_free(&auth);
    return out;
}

void sigv4_trace_free(struct sigv4_trace *t)
{
    free(t->canonical_request);
    free(t->string_to_sign);
    t->canonical_request = t->string_to_sign = NULL;
}
