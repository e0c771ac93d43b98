/* Unit tests of the aws-chunked decoder. Bodies are encoded here the way
 * botocore (unsigned, trailer) and the Java SDK (signed, with and without a
 * trailer) send them, then decoded whole, one byte at a time and in random
 * splits, which must all give the same payload and trailers. Signed bodies
 * are checked against a real SigV4 chain too: a changed byte, a wrong
 * trailer signature and an unsigned body must fail.
 * Every piece fed is copied to its own exactly sized heap buffer, so under
 * ASan any read past the bytes handed in fails. Malformed variants of each
 * field, truncation at every offset, trailing garbage, over-long lines and a
 * failing sink check the error paths. */
#include "protocol/aws_chunked.h"
#include "protocol/base64.h"
#include "protocol/checksum.h"

#include "tests/unit/check.h"

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        CHECK(b->p != NULL);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* A fake but well-formed signature, different for each i. */
static void fake_sig(unsigned i, char out[65])
{
    for (int k = 0; k < 64; k++)
        out[k] = "0123456789abcdef"[(i * 7 + (unsigned)k * 13) % 16];
    out[64] = '\0';
}

/* ---- encoding ---- */

struct enc_opts {
    size_t chunk;           /* payload bytes per chunk */
    int is_signed;          /* chunk signatures */
    const char *trailers;   /* raw trailer lines, each ending in \r\n, or NULL */
    int upper_hex;
    struct sigv4_chain *chain; /* real signatures from this chain, else fake ones */
};

static void encode(struct buf *out, const unsigned char *payload, size_t n, const struct enc_opts *o)
{
    size_t pos = 0;
    unsigned i = 0;
    char line[128], sig[65];

    for (;;) {
        size_t k = n - pos < o->chunk ? n - pos : o->chunk;
        snprintf(line, sizeof line, o->upper_hex ? "%zX" : "%zx", k);
        buf_puts(out, line);
        if (o->is_signed) {
            char sha[65];
            if (o->chain) {
                CHECK(sigv4_sha256_hex(payload + pos, k, sha) == 0 && sigv4_chain_next(o->chain, sha, 0) == 0);
                memcpy(sig, o->chain->prev, 65);
            } else {
                fake_sig(i, sig);
            }
            buf_puts(out, ";chunk-signature=");
            buf_puts(out, sig);
        }
        buf_puts(out, "\r\n");
        i++;
        if (k == 0)
            break;
        buf_put(out, payload + pos, k);
        buf_puts(out, "\r\n");
        pos += k;
    }
    if (o->trailers)
        buf_puts(out, o->trailers);
    buf_puts(out, "\r\n");
}

/* ---- decoding ---- */

struct result {
    enum aws_chunked_status feed_st; /* the last status a feed returned */
    enum aws_chunked_status end_st;
    struct buf payload;
    size_t ntrailers;
    struct aws_chunked_trailer trailers[16];
    unsigned long long decoded;
    size_t fail_after;     /* the sink fails once this many bytes came; 0: never */
};

/* When set, decoding verifies the chunk signatures against this chain. */
static const struct sigv4_chain *g_verify;

static int sink(void *ctx, const unsigned char *data, size_t n)
{
    struct result *r = ctx;
    CHECK(n > 0);
    buf_put(&r->payload, data, n);
    return r->fail_after && r->payload.len >= r->fail_after;
}

enum split { WHOLE, BYTES, RANDOM };

/* Feeds body in pieces chosen by how; stops at the first error. The sink
 * fails once fail_after bytes came (0: never). */
static void decode_ex(const unsigned char *body, size_t n, enum split how, size_t fail_after,
                      struct result *r)
{
    memset(r, 0, sizeof *r);
    r->fail_after = fail_after;
    struct aws_chunked *d = aws_chunked_new(sink, r);
    CHECK(d != NULL);
    if (g_verify)
        aws_chunked_verify(d, g_verify);

    size_t pos = 0;
    r->feed_st = AWSC_OK;
    do {
        size_t k = n - pos;
        if (how == BYTES && k > 1)
            k = 1;
        else if (how == RANDOM && k > 0)
            k = test_rand() % 4 == 0 ? test_rand() % (k + 1) : test_rand() % (k < 40 ? k + 1 : 40);
        unsigned char *piece = malloc(k ? k : 1);
        CHECK(piece != NULL);
        memcpy(piece, body + pos, k);
        r->feed_st = aws_chunked_feed(d, piece, k);
        free(piece);
        pos += k;
        /* DONE before the end: the next piece must then be an error */
        if (r->feed_st != AWSC_OK && r->feed_st != AWSC_DONE)
            break;
    } while (pos < n);
    r->end_st = aws_chunked_end(d);

    const struct aws_chunked_trailer *t = aws_chunked_trailers(d, &r->ntrailers);
    CHECK(r->ntrailers <= 16);
    memcpy(r->trailers, t, r->ntrailers * sizeof *t);
    r->decoded = aws_chunked_decoded_length(d);
    aws_chunked_free(d);
}

static void decode(const unsigned char *body, size_t n, enum split how, struct result *r)
{
    decode_ex(body, n, how, 0, r);
}

static void result_free(struct result *r) { free(r->payload.p); }

static void check_same(const struct result *a, const struct result *b)
{
    CHECK(a->feed_st == b->feed_st);
    CHECK(a->end_st == b->end_st);
    CHECK(a->payload.len == b->payload.len);
    CHECK(a->payload.len == 0 || memcmp(a->payload.p, b->payload.p, a->payload.len) == 0);
    CHECK(a->ntrailers == b->ntrailers);
    CHECK(memcmp(a->trailers, b->trailers, a->ntrailers * sizeof a->trailers[0]) == 0);
    CHECK(a->decoded == b->decoded);
}

/* Decodes a valid body whole, byte by byte and in random splits; all three
 * must complete and agree. *r gets the whole-body result (free it). */
static void decode_all_ways(const unsigned char *body, size_t n, struct result *r)
{
    struct result other;

    decode(body, n, WHOLE, r);
    CHECK(r->feed_st == AWSC_DONE);
    CHECK(r->end_st == AWSC_DONE);
    CHECK(r->decoded == r->payload.len);
    decode(body, n, BYTES, &other);
    check_same(r, &other);
    result_free(&other);
    for (int i = 0; i < 5; i++) {
        decode(body, n, RANDOM, &other);
        check_same(r, &other);
        result_free(&other);
    }
}

/* The status a body gets, fed whole; byte by byte and in random splits must
 * give the same. */
static enum aws_chunked_status status_of(const void *body, size_t n)
{
    struct result a, b;
    decode(body, n, WHOLE, &a);
    enum aws_chunked_status st = a.feed_st == AWSC_OK ? a.end_st : a.feed_st;
    decode(body, n, BYTES, &b);
    CHECK(b.feed_st == a.feed_st && b.end_st == a.end_st);
    result_free(&b);
    decode(body, n, RANDOM, &b);
    CHECK(b.feed_st == a.feed_st && b.end_st == a.end_st);
    result_free(&b);
    /* errors are sticky: end repeats the feed's error */
    if (a.feed_st != AWSC_OK && a.feed_st != AWSC_DONE)
        CHECK(a.end_st == a.feed_st);
    result_free(&a);
    return st;
}

static enum aws_chunked_status status_s(const char *body) { return status_of(body, strlen(body)); }

/* ---- valid bodies ---- */

static const char *trailer_value(const struct result *r, const char *name)
{
    for (size_t i = 0; i < r->ntrailers; i++)
        if (strcmp(r->trailers[i].name, name) == 0)
            return r->trailers[i].value;
    return NULL;
}

static void test_botocore_unsigned(void)
{
    size_t n = (1 << 20) + 1000;
    unsigned char *payload = malloc(n);
    CHECK(payload != NULL);
    test_rand_bytes(payload, n);

    unsigned char crc[CHECKSUM_MAX_DIGEST];
    char b64[CHECKSUM_MAX_B64], trailers[128];
    b64[base64_encode(crc, checksum_of(CK_CRC32, payload, n, crc), b64)] = '\0';
    snprintf(trailers, sizeof trailers, "x-amz-checksum-crc32:%s\r\n", b64);

    struct buf body = {0};
    struct enc_opts o = {.chunk = 1 << 20, .trailers = trailers};
    encode(&body, payload, n, &o);
    /* exactly botocore's framing */
    CHECK(memcmp(body.p, "100000\r\n", 8) == 0);
    CHECK(memcmp(body.p + 8 + (1 << 20), "\r\n3e8\r\n", 7) == 0);

    struct result r;
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == n && memcmp(r.payload.p, payload, n) == 0);
    CHECK(r.ntrailers == 1);
    CHECK_STREQ(r.trailers[0].name, "x-amz-checksum-crc32");
    CHECK_STREQ(r.trailers[0].value, b64);
    result_free(&r);

    /* the accessor, case-insensitively */
    struct aws_chunked *d = aws_chunked_new(NULL, NULL);
    CHECK(d != NULL);
    CHECK(aws_chunked_feed(d, body.p, body.len) == AWSC_DONE);
    CHECK_STREQ(aws_chunked_trailer(d, "x-amz-checksum-crc32"), b64);
    CHECK_STREQ(aws_chunked_trailer(d, "X-Amz-Checksum-Crc32"), b64);
    CHECK(aws_chunked_trailer(d, "x-amz-checksum-crc32c") == NULL);
    CHECK(aws_chunked_decoded_length(d) == n);
    CHECK(aws_chunked_end(d) == AWSC_DONE);
    aws_chunked_free(d);

    free(body.p);
    free(payload);
}

static void test_literal_bodies(void)
{
    struct result r;
    static const char hello[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    decode_all_ways((const unsigned char *)hello, strlen(hello), &r);
    CHECK(r.payload.len == 11 && memcmp(r.payload.p, "hello world", 11) == 0);
    CHECK(r.ntrailers == 0);
    result_free(&r);

    /* the empty body */
    decode_all_ways((const unsigned char *)"0\r\n\r\n", 5, &r);
    CHECK(r.payload.len == 0 && r.decoded == 0);
    result_free(&r);

    /* upper-case hex, leading zeros up to 16 digits */
    static const char hex[] = "A\r\n0123456789\r\n000000000000000B\r\nabcdefghijk\r\n0\r\n\r\n";
    decode_all_ways((const unsigned char *)hex, strlen(hex), &r);
    CHECK(r.payload.len == 21);
    result_free(&r);

    /* trailer names lower-cased, values trimmed of spaces and tabs, inner ones kept */
    static const char tr[] = "3\r\nabc\r\n0\r\nX-Amz-Checksum-CRC32:  NSRBwg==\t \r\n"
                             "X-Custom:a b\tc\r\nx-empty:\r\n\r\n";
    decode_all_ways((const unsigned char *)tr, strlen(tr), &r);
    CHECK(r.ntrailers == 3);
    CHECK_STREQ(trailer_value(&r, "x-amz-checksum-crc32"), "NSRBwg==");
    CHECK_STREQ(trailer_value(&r, "x-custom"), "a b\tc");
    CHECK_STREQ(trailer_value(&r, "x-empty"), "");
    result_free(&r);

    /* data may contain CR, LF and NUL: only the length counts */
    static const unsigned char bin[] = "4\r\n\r\n\0\n\r\n0\r\n\r\n";
    decode_all_ways(bin, sizeof bin - 1, &r);
    CHECK(r.payload.len == 4 && memcmp(r.payload.p, "\r\n\0\n", 4) == 0);
    result_free(&r);
}

static void test_signed(void)
{
    size_t n = 200000;
    unsigned char *payload = malloc(n);
    CHECK(payload != NULL);
    test_rand_bytes(payload, n);
    char sig[65];

    /* no trailer: Java's STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks */
    struct buf body = {0};
    struct enc_opts o = {.chunk = 65536, .is_signed = 1};
    encode(&body, payload, n, &o);
    struct result r;
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == n && memcmp(r.payload.p, payload, n) == 0);
    CHECK(r.ntrailers == 0);
    result_free(&r);

    /* the trailer variant: checksum, then the trailer signature */
    char trailers[256];
    fake_sig(99, sig);
    snprintf(trailers, sizeof trailers,
             "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:%s\r\n", sig);
    body.len = 0;
    o.trailers = trailers;
    encode(&body, payload, 1000, &o);
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == 1000 && r.ntrailers == 2);
    CHECK_STREQ(trailer_value(&r, "x-amz-checksum-crc32"), "AAAAAA==");
    CHECK_STREQ(trailer_value(&r, "x-amz-trailer-signature"), sig);
    result_free(&r);

    /* and with no payload at all */
    body.len = 0;
    encode(&body, payload, 0, &o);
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == 0 && r.ntrailers == 2);
    result_free(&r);

    free(body.p);
    free(payload);
}

/* Real chains: the decoder accepts exactly the signatures the chain gives. */
static void test_verified(void)
{
    size_t n = 100000;
    unsigned char *payload = malloc(n);
    CHECK(payload != NULL);
    test_rand_bytes(payload, n);
    struct sigv4_chain seed = {.amz_date = "20130524T000000Z", .scope = "20130524/us-east-1/s3/aws4_request",
                               .prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
    memset(seed.key, 7, sizeof seed.key);
    struct sigv4_chain enc = seed;
    struct buf body = {0};
    struct enc_opts o = {.chunk = 8192, .is_signed = 1, .chain = &enc};
    struct result r;

    /* no trailer */
    encode(&body, payload, n, &o);
    g_verify = &seed;
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == n && memcmp(r.payload.p, payload, n) == 0);
    result_free(&r);
    /* one changed data byte, anywhere: the chain breaks there */
    body.p[body.len / 2] ^= 1;
    CHECK(status_of(body.p, body.len) == AWSC_ESIGNATURE);
    body.p[body.len / 2] ^= 1;
    /* another seed (another request's signature): the first chunk fails */
    struct sigv4_chain other = seed;
    other.prev[0] = '5';
    g_verify = &other;
    CHECK(status_of(body.p, body.len) == AWSC_ESIGNATURE);

    /* a signed trailer: right, then wrong */
    enc = seed;
    body.len = 0;
    o.trailers = NULL;
    o.chunk = 1;
    encode(&body, payload, 10, &o);
    body.len -= 2; /* the final empty line: trailers come first */
    char sha[65], line[200];
    const char *crc = "x-amz-checksum-crc32:AAAAAA==";
    snprintf(line, sizeof line, "%s\n", crc);
    CHECK(sigv4_sha256_hex(line, strlen(line), sha) == 0 && sigv4_chain_next(&enc, sha, 1) == 0);
    snprintf(line, sizeof line, "%s\r\nx-amz-trailer-signature:%s\r\n\r\n", crc, enc.prev);
    buf_puts(&body, line);
    g_verify = &seed;
    decode_all_ways(body.p, body.len, &r);
    CHECK(r.payload.len == 10 && r.ntrailers == 2);
    result_free(&r);
    body.p[body.len - 5] = body.p[body.len - 5] == 'a' ? 'b' : 'a'; /* in the trailer signature */
    CHECK(status_of(body.p, body.len) == AWSC_ESIGNATURE);

    /* an unsigned body where signatures are due */
    static const char plain[] = "5\r\nhello\r\n0\r\n\r\n";
    CHECK(status_of(plain, sizeof plain - 1) == AWSC_ESIGNATURE);
    g_verify = NULL;
    free(body.p);
    free(payload);
}

/* ---- errors ---- */

#define SIG "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_bad_chunk_headers(void)
{
    static const char *bad[] = {
        "\r\n",                  /* empty size */
        "g\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",  /* leading junk */
        "+5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "-1\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",  /* trailing junk */
        "5\t\r\n",
        "00000000000000005\r\nhello\r\n0\r\n\r\n", /* 17 digits */
        "10000000000000000\r\n",
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;chunk-signature\r\n",
        "5;chunk-signature=\r\n",
        "5;chunk-signature=" SIG "0\r\n",                     /* 65 hex */
        "5;chunk-signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n",
        "5;chunk-signature=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\r\n",
        "5;chunk-signature=0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef\r\n",
        "5;chunk-signature=" SIG ";x=y\r\n",
        "5;chunk-signature =" SIG "\r\n",
        "5 ;chunk-signature=" SIG "\r\n",
        "5;Chunk-Signature=" SIG "\r\n",
        "5;foo=bar\r\n",
        "5;chunk-signature=" SIG "\r\nhello\r\n0\r\n\r\n",   /* signed, then final unsigned */
        "5\r\nhello\r\n0;chunk-signature=" SIG "\r\n\r\n",   /* unsigned, then signed */
        "1\r\nx\r\nffffffffffffffff\r\n",                 /* decoded length overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (status_s(bad[i]) != AWSC_EMALFORMED) {
            fprintf(stderr, "case %zu: \"%s\"\n", i, bad[i]);
            CHECK(0);
        }
    }
    /* a NUL in a header line */
    CHECK(status_of("5\0\r\nhello\r\n0\r\n\r\n", 17) == AWSC_EMALFORMED);
    CHECK(status_of("\0", 1) == AWSC_ETRUNCATED); /* part of a line: not yet judged */
    /* the largest size is well-formed: the body is just short */
    CHECK(status_s("ffffffffffffffff\r\n") == AWSC_ETRUNCATED);
    CHECK(status_s("FFFFFFFFFFFFFFFF;chunk-signature=" SIG "\r\nabc") == AWSC_ETRUNCATED);
}

static void test_bad_crlf(void)
{
    static const char *bad[] = {
        "5\nhello\r\n0\r\n\r\n",       /* bare LF after a header */
        "5\r\rhello\r\n0\r\n\r\n",
        "5\rXhello\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",       /* data not followed by CRLF */
        "5\r\nhello\r0\r\n\r\n",
        "5\r\nhelloX\r\n0\r\n\r\n",    /* one byte too many */
        "5\r\nhell\r\n0\r\n\r\n",      /* one too few: \r taken as data, then \n is not CR */
        "5\r\nhello\n\r0\r\n\r\n",
        "5\r\nhello\r\n0\n\n",
        "5\r\nhello\r\n0\r\n\n",       /* final line: bare LF */
        "5\r\nhello\r\n0\r\n\r\r",
        "5\r\nhello\r\n0\r\nx-a:b\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (status_s(bad[i]) != AWSC_EMALFORMED) {
            fprintf(stderr, "case %zu\n", i);
            CHECK(0);
        }
}

static void test_bad_trailers(void)
{
    static const char *bad[] = {
        "0\r\nnocolon\r\n\r\n",
        "0\r\n:value\r\n\r\n",
        "0\r\nna me:v\r\n\r\n",
        "0\r\nname :v\r\n\r\n",
        "0\r\n name:v\r\n\r\n",
        "0\r\nna\"me:v\r\n\r\n",
        "0\r\nx-amz-checksum-crc32:a\x01" "b\r\n\r\n",     /* control character */
        "0\r\nx-amz-checksum-crc32:a\x7f\r\n\r\n",
        "0\r\nx-a:1\r\nX-A:2\r\n\r\n",                      /* the same name twice */
        /* a trailer signature on an unsigned body */
        "0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" SIG "\r\n\r\n",
        /* signed: trailers without their signature */
        "0;chunk-signature=" SIG "\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
        /* signed: something after the trailer signature */
        "0;chunk-signature=" SIG "\r\nx-amz-trailer-signature:" SIG "\r\nx-a:b\r\n\r\n",
        /* signed: a malformed trailer signature */
        "0;chunk-signature=" SIG "\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
        "x-amz-trailer-signature:" SIG "0\r\n\r\n",
        "0;chunk-signature=" SIG "\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
        "x-amz-trailer-signature:xyz\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (status_s(bad[i]) != AWSC_EMALFORMED) {
            fprintf(stderr, "case %zu\n", i);
            CHECK(0);
        }
    /* the signature's value may be surrounded by spaces like any other */
    CHECK(status_s("0;chunk-signature=" SIG "\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
                   "x-amz-trailer-signature: " SIG " \r\n\r\n") == AWSC_DONE);
    /* a signed body with the signature as its only trailer */
    CHECK(status_s("0;chunk-signature=" SIG "\r\nx-amz-trailer-signature:" SIG "\r\n\r\n") ==
          AWSC_DONE);
}

static void test_limits(void)
{
    struct buf b = {0};
    char name[200], value[300];

    /* a header line of 4096 bytes is judged (and found malformed); 4097 is too long */
    for (size_t len = 4095; len <= 4097; len++) {
        b.len = 0;
        for (size_t i = 0; i < len; i++)
            buf_put(&b, "0", 1);
        buf_puts(&b, "\r\n");
        CHECK(status_of(b.p, b.len) == (len > 4096 ? AWSC_ETOOLONG : AWSC_EMALFORMED));
    }
    /* the same for trailer lines; without its CRLF a long line still fails */
    for (size_t len = 4096; len <= 4097; len++) {
        b.len = 0;
        buf_puts(&b, "0\r\nx:");
        for (size_t i = 2; i < len; i++)
            buf_put(&b, " ", 1);
        CHECK(status_of(b.p, b.len) == (len > 4096 ? AWSC_ETOOLONG : AWSC_ETRUNCATED));
        buf_puts(&b, "\r\n\r\n");
        CHECK(status_of(b.p, b.len) == (len > 4096 ? AWSC_ETOOLONG : AWSC_DONE));
    }
    /* 16 trailers fit, 17 do not */
    for (int count = 16; count <= 17; count++) {
        b.len = 0;
        buf_puts(&b, "0\r\n");
        for (int i = 0; i < count; i++) {
            snprintf(name, sizeof name, "x-t%d:v\r\n", i);
            buf_puts(&b, name);
        }
        buf_puts(&b, "\r\n");
        CHECK(status_of(b.p, b.len) == (count > 16 ? AWSC_ETOOLONG : AWSC_DONE));
    }
    /* a name of 127 characters fits struct aws_chunked_trailer, 128 does not;
     * likewise a value of 255 and 256 */
    for (size_t len = 127; len <= 128; len++) {
        memset(name, 'n', len);
        name[len] = '\0';
        b.len = 0;
        buf_puts(&b, "0\r\n");
        buf_puts(&b, name);
        buf_puts(&b, ":v\r\n\r\n");
        CHECK(status_of(b.p, b.len) == (len > 127 ? AWSC_ETOOLONG : AWSC_DONE));
    }
    for (size_t len = 255; len <= 256; len++) {
        memset(value, 'v', len);
        value[len] = '\0';
        b.len = 0;
        buf_puts(&b, "0\r\nx-v:  ");
        buf_puts(&b, value);
        buf_puts(&b, "  \r\n\r\n"); /* surrounding spaces do not count */
        CHECK(status_of(b.p, b.len) == (len > 255 ? AWSC_ETOOLONG : AWSC_DONE));
    }
    free(b.p);
}

/* Every proper prefix of a valid body is incomplete (feed says OK, end says
 * ETRUNCATED); the whole body is DONE; anything after it is malformed. */
static void test_truncation_and_extra(void)
{
    unsigned char payload[300];
    test_rand_bytes(payload, sizeof payload);
    char trailers[256];
    snprintf(trailers, sizeof trailers,
             "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:%s\r\n", SIG);
    const struct enc_opts opts[] = {
        {.chunk = 128},
        {.chunk = 100, .trailers = "x-amz-checksum-crc32:AAAAAA==\r\n"},
        {.chunk = 64, .is_signed = 1},
        {.chunk = 200, .is_signed = 1, .trailers = trailers, .upper_hex = 1},
    };
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        struct buf body = {0};
        encode(&body, payload, sizeof payload, &opts[k]);
        for (size_t len = 0; len < body.len; len++) {
            struct result r;
            decode(body.p, len, WHOLE, &r);
            CHECK(r.feed_st == AWSC_OK);
            CHECK(r.end_st == AWSC_ETRUNCATED);
            result_free(&r);
        }
        CHECK(status_of(body.p, body.len) == AWSC_DONE);

        /* extra bytes: in the same feed, or in a later one */
        static const char *extra[] = {"x", "\r\n", "0\r\n\r\n", "\0"};
        for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
            size_t el = strlen(extra[e]) ? strlen(extra[e]) : 1;
            size_t base = body.len;
            buf_put(&body, extra[e], el);
            CHECK(status_of(body.p, body.len) == AWSC_EMALFORMED);
            body.len = base;

            struct aws_chunked *d = aws_chunked_new(NULL, NULL);
            CHECK(d != NULL);
            CHECK(aws_chunked_feed(d, body.p, body.len) == AWSC_DONE);
            CHECK(aws_chunked_feed(d, NULL, 0) == AWSC_DONE); /* nothing more is fine */
            CHECK(aws_chunked_feed(d, (const unsigned char *)extra[e], el) == AWSC_EMALFORMED);
            CHECK(aws_chunked_end(d) == AWSC_EMALFORMED);
            aws_chunked_free(d);
        }
        free(body.p);
    }
}

static void test_sink_failure(void)
{
    static const char body[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    struct result r;

    for (enum split how = WHOLE; how <= RANDOM; how++) {
        decode_ex((const unsigned char *)body, strlen(body), how, 7, &r); /* in chunk 2 */
        CHECK(r.feed_st == AWSC_EABORTED);
        CHECK(r.end_st == AWSC_EABORTED);
        CHECK(r.payload.len >= 7 && r.payload.len <= 11);
        result_free(&r);
    }

    /* sticky: once aborted, nothing more is taken */
    struct result ctx = {.fail_after = 1};
    struct aws_chunked *d = aws_chunked_new(sink, &ctx);
    CHECK(aws_chunked_feed(d, (const unsigned char *)body, 4) == AWSC_EABORTED);
    size_t seen = ctx.payload.len;
    CHECK(aws_chunked_feed(d, (const unsigned char *)body + 4, strlen(body) - 4) == AWSC_EABORTED);
    CHECK(ctx.payload.len == seen);
    CHECK(aws_chunked_end(d) == AWSC_EABORTED);
    aws_chunked_free(d);
    result_free(&ctx);
}

/* Random mutations of a valid body: whatever the status, no crash, and the
 * split does not change it (ASan watches the reads). */
static void test_mutations(void)
{
    unsigned char payload[100];
    test_rand_bytes(payload, sizeof payload);
    struct buf body = {0};
    struct enc_opts o = {.chunk = 30, .is_signed = 1, .trailers = "x-amz-checksum-crc32:AAAAAA==\r\n"
                                                                 "x-amz-trailer-signature:" SIG "\r\n"};
    encode(&body, payload, sizeof payload, &o);
    unsigned char *m = malloc(body.len);
    CHECK(m != NULL);
    for (int round = 0; round < 3000; round++) {
        memcpy(m, body.p, body.len);
        int edits = 1 + (int)(test_rand() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = test_rand() % body.len;
            static const char pick[] = "0aF;\r\n: -=x";
            m[at] = test_rand() % 2 ? (unsigned char)pick[test_rand() % (sizeof pick - 1)]
                                    : (unsigned char)(test_rand() >> 56);
        }
        status_of(m, body.len);
    }
    free(m);
    free(body.p);
}

int main(void)
{
    test_botocore_unsigned();
    test_literal_bodies();
    test_signed();
    test_verified();
    test_bad_chunk_headers();
    test_bad_crlf();
    test_bad_trailers();
    test_limits();
    test_truncation_and_extra();
    test_sink_failure();
    test_mutations();
    puts("test_aws_chunked: ok");
    return 0;
}
