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

void sigv4_hex(const unsigned char *d, size_t n, char *out)
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
    sigv4_hex(d, sizeof d, out);
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

static int hexdigit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Appends n bytes of an encoded query name or value, decoded and encoded
 * again: what a client sent loosely (an unencoded ':' or '/', a lower-case
 * escape) is signed as AWS canonicalises it. */
static void put_reencoded(struct strbuf *b, const char *s, size_t n)
{
    struct strbuf raw = {0};
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexdigit(s[i + 1])) >= 0 && (lo = hexdigit(s[i + 2])) >= 0) {
            char c = (char)(hi << 4 | lo);
            strbuf_put(&raw, &c, 1);
            i += 2;
        } else {
            strbuf_put(&raw, &s[i], 1);
        }
    }
    sigv4_uri_encode(b, raw.buf ? raw.buf : "", raw.len, 0);
    strbuf_free(&raw);
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
        size_t klen = (size_t)((eq ? eq : end) - p);
        /* a presigned URL's signature cannot sign itself */
        if (end > p && !(klen == 15 && !memcmp(p, "X-Amz-Signature", 15))) {
            ps[n].k = p;
            ps[n].klen = klen;
            ps[n].v = eq ? eq + 1 : end;
            ps[n].vlen = (size_t)(end - ps[n].v);
            n++;
        }
        p = *end ? end + 1 : end;
    }
    /* sorted by the encoded names and values, so encode first */
    struct strbuf *enc = calloc(2 * (n ? n : 1), sizeof *enc);
    if (!enc)
        abort();
    for (size_t i = 0; i < n; i++) {
        put_reencoded(&enc[2 * i], ps[i].k, ps[i].klen);
        put_reencoded(&enc[2 * i + 1], ps[i].v, ps[i].vlen);
        ps[i].k = enc[2 * i].buf ? enc[2 * i].buf : "";
        ps[i].klen = enc[2 * i].len;
        ps[i].v = enc[2 * i + 1].buf ? enc[2 * i + 1].buf : "";
        ps[i].vlen = enc[2 * i + 1].len;
    }
    qsort(ps, n, sizeof *ps, cmp_qparam);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_put(b, "&", 1);
        strbuf_put(b, ps[i].k, ps[i].klen);
        strbuf_put(b, "=", 1); /* a valueless key is signed as "key=" */
        strbuf_put(b, ps[i].v, ps[i].vlen);
    }
    for (size_t i = 0; i < 2 * n; i++)
        strbuf_free(&enc[i]);
    free(enc);
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

static void put_scope(struct strbuf *b, const char *date, const struct sigv4_request *r)
{
    put(b, date);
    strbuf_put(b, "/", 1);
    put(b, r->region);
    strbuf_put(b, "/", 1);
    put(b, r->service);
    put(b, "/aws4_request");
}

/* The signature over sts with key: hex into sig. */
static int sign_hex(const unsigned char key[SHA256_LEN], const char *sts, char sig[SIGV4_HEX_LEN + 1])
{
    unsigned char s[SHA256_LEN];
    if (hmac(key, SHA256_LEN, sts, s))
        return -1;
    sigv4_hex(s, sizeof s, sig);
    return 0;
}

/* Canonical request, string to sign, signature; the signed header list
 * goes to signed_list. */
static int signature(const struct sigv4_request *r, struct strbuf *signed_list, char sig[SIGV4_HEX_LEN + 1],
                     unsigned char key_out[SHA256_LEN], struct sigv4_trace *trace)
{
    struct strbuf creq = {0}, sts = {0}, key = {0};
    char date[9], creq_hash[SIGV4_HEX_LEN + 1];
    unsigned char k[SHA256_LEN];
    size_t len;
    int rc = -1;

    snprintf(date, sizeof date, "%.8s", r->amz_date);
    put(&creq, r->method);
    strbuf_put(&creq, "\n", 1);
    if (r->encode_path)
        sigv4_uri_encode(&creq, r->path, strlen(r->path), 1);
    else
        put(&creq, r->path);
    strbuf_put(&creq, "\n", 1);
    canonical_query(&creq, r->query ? r->query : "");
    strbuf_put(&creq, "\n", 1);
    canonical_headers(&creq, signed_list, r->headers, r->n_headers);
    strbuf_put(&creq, "\n", 1);
    strbuf_put(&creq, signed_list->buf, signed_list->len);
    strbuf_put(&creq, "\n", 1);
    put(&creq, r->payload_hash);

    if (sigv4_sha256_hex(creq.buf, creq.len, creq_hash))
        goto out;
    put(&sts, "AWS4-HMAC-SHA256\n");
    put(&sts, r->amz_date);
    strbuf_put(&sts, "\n", 1);
    put_scope(&sts, date, r);
    strbuf_put(&sts, "\n", 1);
    put(&sts, creq_hash);

    /* kDate = HMAC("AWS4" + secret, date), then region, service, "aws4_request" */
    put(&key, "AWS4");
    put(&key, r->secret_key);
    if (hmac(key.buf, key.len, date, k) || hmac(k, sizeof k, r->region, k) || hmac(k, sizeof k, r->service, k) ||
        hmac(k, sizeof k, "aws4_request", k) || sign_hex(k, sts.buf, sig))
        goto out;
    if (key_out)
        memcpy(key_out, k, sizeof k);
    if (trace) {
        trace->canonical_request = strbuf_take(&creq, &len);
        trace->string_to_sign = strbuf_take(&sts, &len);
    }
    rc = 0;
out:
    /* the secret-derived key material does not outlive the call */
    if (key.buf)
        memset(key.buf, 0, key.len);
    memset(k, 0, sizeof k);
    strbuf_free(&creq);
    strbuf_free(&sts);
    strbuf_free(&key);
    return rc;
}

int sigv4_signature(const struct sigv4_request *r, char sig[SIGV4_HEX_LEN + 1], unsigned char key[32],
                    struct sigv4_trace *trace)
{
    struct strbuf signed_list = {0};
    int rc = signature(r, &signed_list, sig, key, trace);
    strbuf_free(&signed_list);
    return rc;
}

char *sigv4_authorization(const struct sigv4_request *r, struct sigv4_trace *trace)
{
    struct strbuf signed_list = {0}, auth = {0};
    char date[9], sig[SIGV4_HEX_LEN + 1];
    size_t len;
    char *out = NULL;

    if (signature(r, &signed_list, sig, NULL, trace) == 0) {
        snprintf(date, sizeof date, "%.8s", r->amz_date);
        put(&auth, "AWS4-HMAC-SHA256 Credential=");
        put(&auth, r->access_key);
        strbuf_put(&auth, "/", 1);
        put_scope(&auth, date, r);
        put(&auth, ", SignedHeaders=");
        strbuf_put(&auth, signed_list.buf, signed_list.len);
        put(&auth, ", Signature=");
        put(&auth, sig);
        out = strbuf_take(&auth, &len);
    }
    strbuf_free(&signed_list);
    strbuf_free(&auth);
    return out;
}

int sigv4_chain_next(struct sigv4_chain *c, const char *data_sha, int trailer)
{
    /* sha256("") stands for the chunk headers S3 never defined */
    static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    struct strbuf sts = {0};
    put(&sts, trailer ? "AWS4-HMAC-SHA256-TRAILER\n" : "AWS4-HMAC-SHA256-PAYLOAD\n");
    put(&sts, c->amz_date);
    strbuf_put(&sts, "\n", 1);
    put(&sts, c->scope);
    strbuf_put(&sts, "\n", 1);
    put(&sts, c->prev);
    strbuf_put(&sts, "\n", 1);
    if (!trailer) {
        put(&sts, empty);
        strbuf_put(&sts, "\n", 1);
    }
    put(&sts, data_sha);
    int rc = sign_hex(c->key, sts.buf, c->prev);
    strbuf_free(&sts);
    return rc;
}

int sigv4_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    unsigned char diff = 0;
    if (n != strlen(b)) /* the length is no secret */
        return 0;
    for (size_t i = 0; i < n; i++) /* every byte, wherever the first difference is */
        diff |= (unsigned char)(a[i] ^ b[i]);
    return !diff;
}

void sigv4_trace_free(struct sigv4_trace *t)
{
    free(t->canonical_request);
    free(t->string_to_sign);
    t->canonical_request = t->string_to_sign = NULL;
}
