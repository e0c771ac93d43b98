/* aws-chunked decoder; see aws_chunked.h. A byte-driven state machine, so the
 * input may be split anywhere: chunk headers and trailer lines are collected
 * in a fixed line buffer, chunk data goes straight to the sink in whatever
 * runs it arrives in. The grammar is applied strictly, because every leniency
 * here is a way for two parsers (ours and a proxy's, or the signer's) to see
 * different bodies:
 *   chunk header  1-16 hex digits (either case), optionally followed by
 *                 ";chunk-signature=" and 64 lowercase hex digits, then CRLF;
 *                 either every chunk is signed or none is
 *   chunk data    exactly that many bytes, then CRLF
 *   last chunk    size 0, no data and no CRLF of its own
 *   trailers      "name:value" CRLF, name an HTTP token (lower-cased here),
 *                 value trimmed of spaces and tabs, at most 16 of them, no
 *                 name twice; x-amz-trailer-signature only on signed bodies,
 *                 only last, and required there when other trailers came
 *   end           an empty line; any byte after it is an error
 * Every error is sticky: once reported, the decoder reports it again. */
#include "protocol/aws_chunked.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_LEN 4096
#define MAX_TRAILERS 16
#define MAX_HEX_DIGITS 16
#define SIG_LEN 64

static const char sig_ext[] = ";chunk-signature=";
#define SIG_EXT_LEN (sizeof sig_ext - 1)
static const char trailer_sig_name[] = "x-amz-trailer-signature";

enum state {
    ST_HEADER,  /* in a chunk header line */
    ST_DATA,    /* in a chunk's data */
    ST_DATA_CR, /* after the data, expecting CR */
    ST_DATA_LF, /* expecting LF */
    ST_TRAILER, /* in a trailer line or the final empty line */
    ST_DONE,
    ST_ERROR,
};

struct aws_chunked {
    aws_chunked_sink sink;
    void *ctx;
    enum state state;
    enum aws_chunked_status error; /* in ST_ERROR */
    uint64_t remaining;            /* data bytes left in the current chunk */
    unsigned long long decoded;
    int signed_mode;               /* -1 before the first chunk, then 0 or 1 */
    int trailer_sig_seen;

    char line[LINE_MAX_LEN];
    size_t line_len;
    int line_cr; /* the line's CR was read, its LF is due */

    struct aws_chunked_trailer trailers[MAX_TRAILERS];
    size_t ntrailers;

    char sig[SIG_LEN + 1];          /* the current chunk's signature */
    int verify;                     /* chain holds the previous signature */
    struct sigv4_chain chain;
    gnutls_hash_hd_t hash;          /* the current chunk's data, when verifying */
};

struct aws_chunked *aws_chunked_new(aws_chunked_sink sink, void *ctx)
{
    struct aws_chunked *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    d->sink = sink;
    d->ctx = ctx;
    d->state = ST_HEADER;
    d->signed_mode = -1;
    return d;
}

void aws_chunked_free(struct aws_chunked *d)
{
    if (!d)
        return;
    if (d->hash)
        gnutls_hash_deinit(d->hash, NULL);
    memset(&d->chain, 0, sizeof d->chain); /* key material */
    free(d);
}

static enum aws_chunked_status fail(struct aws_chunked *d, enum aws_chunked_status st)
{
    d->state = ST_ERROR;
    d->error = st;
    return st;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* SigV4 signatures are hex-encoded in lowercase; anything else cannot match. */
static int is_sig(const char *s, size_t n)
{
    if (n != SIG_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* RFC 9110 tchar: what an HTTP field name is made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

void aws_chunked_verify(struct aws_chunked *d, const struct sigv4_chain *chain)
{
    d->chain = *chain;
    d->verify = 1;
}

/* Ends hash h into sha (hex). */
static void hash_hex(gnutls_hash_hd_t h, char sha[SIGV4_HEX_LEN + 1])
{
    unsigned char digest[32];
    gnutls_hash_deinit(h, digest);
    sigv4_hex(digest, sizeof digest, sha);
}

/* The current chunk's data is complete: its signature must be the chain's next. */
static enum aws_chunked_status chunk_signed(struct aws_chunked *d)
{
    char sha[SIGV4_HEX_LEN + 1];

    if (!d->verify)
        return AWSC_OK;
    hash_hex(d->hash, sha);
    d->hash = NULL;
    if (sigv4_chain_next(&d->chain, sha, 0) || !sigv4_equal(d->chain.prev, d->sig))
        return fail(d, AWSC_ESIGNATURE);
    return AWSC_OK;
}

/* The trailer signature covers the trailer lines as "name:value\n". */
static enum aws_chunked_status trailer_signed(struct aws_chunked *d)
{
    char sha[SIGV4_HEX_LEN + 1];
    gnutls_hash_hd_t h;

    if (!d->verify || !d->trailer_sig_seen)
        return AWSC_OK;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256))
        return fail(d, AWSC_ESIGNATURE);
    for (size_t i = 0; i + 1 < d->ntrailers; i++) { /* the signature is last */
        gnutls_hash(h, d->trailers[i].name, strlen(d->trailers[i].name));
        gnutls_hash(h, ":", 1);
        gnutls_hash(h, d->trailers[i].value, strlen(d->trailers[i].value));
        gnutls_hash(h, "\n", 1);
    }
    hash_hex(h, sha);
    if (sigv4_chain_next(&d->chain, sha, 1) ||
        !sigv4_equal(d->chain.prev, d->trailers[d->ntrailers - 1].value))
        return fail(d, AWSC_ESIGNATURE);
    return AWSC_OK;
}

static enum aws_chunked_status chunk_header(struct aws_chunked *d)
{
    const char *s = d->line;
    size_t n = d->line_len, i = 0;
    uint64_t size = 0;
    int h;

    /* At most 16 digits, so the value cannot overflow 64 bits. */
    while (i < n && (h = hexval((unsigned char)s[i])) >= 0) {
        if (i == MAX_HEX_DIGITS)
            return fail(d, AWSC_EMALFORMED);
        size = size << 4 | (uint64_t)h;
        i++;
    }
    if (i == 0)
        return fail(d, AWSC_EMALFORMED);

    int is_signed = i < n;
    if (is_signed && (n - i != SIG_EXT_LEN + SIG_LEN || memcmp(s + i, sig_ext, SIG_EXT_LEN) != 0 ||
                      !is_sig(s + i + SIG_EXT_LEN, SIG_LEN)))
        return fail(d, AWSC_EMALFORMED);
    if (d->signed_mode >= 0 && d->signed_mode != is_signed)
        return fail(d, AWSC_EMALFORMED);
    d->signed_mode = is_signed;
    if (size > ~0ull - d->decoded)
        return fail(d, AWSC_EMALFORMED);
    if (d->verify && !is_signed)
        return fail(d, AWSC_ESIGNATURE);
    if (is_signed) {
        memcpy(d->sig, s + i + SIG_EXT_LEN, SIG_LEN);
        d->sig[SIG_LEN] = 0;
    }
    if (d->verify && gnutls_hash_init(&d->hash, GNUTLS_DIG_SHA256)) {
        d->hash = NULL;
        return fail(d, AWSC_ESIGNATURE);
    }

    d->remaining = size;
    d->state = size ? ST_DATA : ST_TRAILER;
    return size ? AWSC_OK : chunk_signed(d); /* the final chunk has no data to wait for */
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static enum aws_chunked_status trailer_line(struct aws_chunked *d)
{
    const char *s = d->line;
    size_t n = d->line_len;

    if (n == 0) {
        /* A signed body that carries trailers must sign them too. */
        if (d->signed_mode == 1 && d->ntrailers > 0 && !d->trailer_sig_seen)
            return fail(d, AWSC_EMALFORMED);
        if (trailer_signed(d) != AWSC_OK)
            return d->error;
        d->state = ST_DONE;
        return AWSC_DONE;
    }
    if (d->trailer_sig_seen) /* it signs what came before it: nothing may follow */
        return fail(d, AWSC_EMALFORMED);
    if (d->ntrailers == MAX_TRAILERS)
        return fail(d, AWSC_ETOOLONG);

    size_t colon = 0;
    while (colon < n && is_tchar((unsigned char)s[colon]))
        colon++;
    if (colon == 0 || colon == n || s[colon] != ':')
        return fail(d, AWSC_EMALFORMED);

    size_t vb = colon + 1, ve = n;
    while (vb < ve && is_ows(s[vb]))
        vb++;
    while (ve > vb && is_ows(s[ve - 1]))
        ve--;
    /* Field values: visible characters, obs-text, inner spaces and tabs. */
    for (size_t i = vb; i < ve; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(d, AWSC_EMALFORMED);
    }

    struct aws_chunked_trailer *t = &d->trailers[d->ntrailers];
    if (colon >= sizeof t->name || ve - vb >= sizeof t->value)
        return fail(d, AWSC_ETOOLONG);
    for (size_t i = 0; i < colon; i++) {
        char c = s[i];
        t->name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    t->name[colon] = '\0';
    memcpy(t->value, s + vb, ve - vb);
    t->value[ve - vb] = '\0';

    for (size_t i = 0; i < d->ntrailers; i++)
        if (strcmp(d->trailers[i].name, t->name) == 0)
            return fail(d, AWSC_EMALFORMED);
    if (strcmp(t->name, trailer_sig_name) == 0) {
        if (d->signed_mode != 1 || !is_sig(t->value, ve - vb))
            return fail(d, AWSC_EMALFORMED);
        d->trailer_sig_seen = 1;
    }
    d->ntrailers++;
    return AWSC_OK;
}

/* Takes one byte of a header or trailer line. Returns 1 when it completed
 * the line, 0 when more is needed, -1 after recording an error. CR must be
 * followed by LF, and neither may appear alone. */
static int line_byte(struct aws_chunked *d, unsigned char c)
{
    if (d->line_cr) {
        if (c != '\n') {
            fail(d, AWSC_EMALFORMED);
            return -1;
        }
        d->line_cr = 0;
        return 1;
    }
    if (c == '\r') {
        d->line_cr = 1;
        return 0;
    }
    if (c == '\n') {
        fail(d, AWSC_EMALFORMED);
        return -1;
    }
    if (d->line_len == LINE_MAX_LEN) {
        fail(d, AWSC_ETOOLONG);
        return -1;
    }
    d->line[d->line_len++] = (char)c;
    return 0;
}

enum aws_chunked_status aws_chunked_feed(struct aws_chunked *d, const unsigned char *in, size_t n)
{
    size_t i = 0;

    if (d->state == ST_ERROR)
        return d->error;
    while (i < n) {
        switch (d->state) {
        case ST_HEADER:
        case ST_TRAILER: {
            int r = line_byte(d, in[i++]);
            if (r < 0)
                return d->error;
            if (r == 0)
                break;
            enum aws_chunked_status st =
                d->state == ST_HEADER ? chunk_header(d) : trailer_line(d);
            d->line_len = 0;
            if (st != AWSC_OK && st != AWSC_DONE)
                return st;
            break;
        }
        case ST_DATA: {
            size_t take = n - i;
            if ((uint64_t)take > d->remaining)
                take = (size_t)d->remaining;
            if (d->hash)
                gnutls_hash(d->hash, in + i, take);
            if (d->sink && d->sink(d->ctx, in + i, take) != 0)
                return fail(d, AWSC_EABORTED);
            d->decoded += take;
            d->remaining -= take;
            i += take;
            if (d->remaining == 0)
                d->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
            if (in[i++] != '\r')
                return fail(d, AWSC_EMALFORMED);
            d->state = ST_DATA_LF;
            break;
        case ST_DATA_LF:
            if (in[i++] != '\n')
                return fail(d, AWSC_EMALFORMED);
            d->state = ST_HEADER;
            if (chunk_signed(d) != AWSC_OK)
                return d->error;
            break;
        case ST_DONE:
            return fail(d, AWSC_EMALFORMED);
        case ST_ERROR:
            return d->error;
        }
    }
    return d->state == ST_DONE ? AWSC_DONE : AWSC_OK;
}

enum aws_chunked_status aws_chunked_end(struct aws_chunked *d)
{
    if (d->state == ST_ERROR)
        return d->error;
    if (d->state == ST_DONE)
        return AWSC_DONE;
    return fail(d, AWSC_ETRUNCATED);
}

unsigned long long aws_chunked_decoded_length(const struct aws_chunked *d) { return d->decoded; }

const struct aws_chunked_trailer *aws_chunked_trailers(const struct aws_chunked *d, size_t *n)
{
    *n = d->ntrailers;
    return d->trailers;
}

const char *aws_chunked_trailer(const struct aws_chunked *d, const char *lname)
{
    for (size_t i = 0; i < d->ntrailers; i++)
        if (strcasecmp(d->trailers[i].name, lname) == 0)
            return d->trailers[i].value;
    return NULL;
}

