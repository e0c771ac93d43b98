/* Unit tests of shard iterator tokens: round trips, the exact wire layout, and
 * that anything else is refused: altered characters or bits, truncation, the
 * wrong key, correctly signed but malformed contents, and random garbage.
 * Tokens are handed to the decoder in exactly sized heap copies, without a
 * NUL, so that under ASan an out-of-bounds read fails the test. */
#include "protocol/iterator.h"

#include <gnutls/crypto.h>

#include "protocol/base64.h"
#include "tests/unit/check.h"

#define MAC_LEN 16
#define HEADER_LEN 30 /* version, 3 x u64, u32, name length */

static const char alphabet_and_pad[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
/* every character a stream name may have */
static const char name_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

static unsigned char key[ITERATOR_KEY_LEN];

static int decode_with(const char *tok, size_t len, const unsigned char *k,
                       struct shard_iterator *out)
{
    char *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    memcpy(copy, tok, len);
    int rc = iterator_decode(copy, len, k, out);
    free(copy);
    return rc;
}

static int decode(const char *tok, size_t len)
{
    struct shard_iterator it;
    return decode_with(tok, len, key, &it);
}

static struct shard_iterator sample(void)
{
    struct shard_iterator it = {
        .created_ms = 1700000000123ULL,
        .stream_created_ms = 1690000000456ULL,
        .shard_ix = 3,
        .seq_ix = 42,
    };
    strcpy(it.stream_name, "orders-stream.v2");
    return it;
}

static size_t encode(const struct shard_iterator *it, char tok[ITERATOR_MAX_LEN + 1])
{
    size_t n = iterator_encode(it, key, tok);
    CHECK(n > 0 && n <= ITERATOR_MAX_LEN && n == strlen(tok));
    return n;
}

/* Signs raw[0..n) as the spec says (truncated HMAC-SHA256 appended) and
 * base64-encodes it into tok, NUL-terminated. Returns the token length. */
static size_t sign(unsigned char *raw, size_t n, char *tok)
{
    unsigned char mac[32];
    CHECK(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, sizeof key, raw, n, mac) == 0);
    memcpy(raw + n, mac, MAC_LEN);
    size_t len = base64_encode(raw, n + MAC_LEN, tok);
    tok[len] = '\0';
    return len;
}

/* Writes the unsigned header and name of sample() with the given version and
 * name into raw. Returns its length. */
static size_t build_raw(unsigned char *raw, unsigned version, const char *name, size_t name_len)
{
    static const unsigned char fields[HEADER_LEN - 2] = {
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, /* created_ms 1700000000123 */
        0, 0, 0x01, 0x89, 0x7b, 0xd9, 0x85, 0xc8, /* stream_created_ms 1690000000456 */
        0, 0, 0, 3,                               /* shard_ix */
        0, 0, 0, 0, 0, 0, 0, 42,                  /* seq_ix */
    };
    raw[0] = (unsigned char)version;
    memcpy(raw + 1, fields, sizeof fields);
    raw[HEADER_LEN - 1] = (unsigned char)name_len;
    memcpy(raw + HEADER_LEN, name, name_len);
    return HEADER_LEN + name_len;
}

static void check_same(const struct shard_iterator *a, const struct shard_iterator *b)
{
    CHECK(a->created_ms == b->created_ms);
    CHECK(a->stream_created_ms == b->stream_created_ms);
    CHECK(a->shard_ix == b->shard_ix);
    CHECK(a->seq_ix == b->seq_ix);
    CHECK_STREQ(a->stream_name, b->stream_name);
}

static void test_round_trip(void)
{
    struct shard_iterator its[4] = {sample(), sample(), sample(), sample()};
    strcpy(its[1].stream_name, "a");
    its[1].created_ms = its[1].stream_created_ms = its[1].seq_ix = 0;
    its[1].shard_ix = 0;
    its[2].created_ms = its[2].stream_created_ms = its[2].seq_ix = UINT64_MAX;
    its[2].shard_ix = UINT32_MAX;
    for (size_t i = 0; i < 128; i++) /* longest name, every allowed char */
        its[3].stream_name[i] = name_chars[i % (sizeof name_chars - 1)];
    its[3].stream_name[128] = '\0';

    for (size_t i = 0; i < sizeof its / sizeof its[0]; i++) {
        char tok[ITERATOR_MAX_LEN + 1];
        struct shard_iterator back;
        size_t n = encode(&its[i], tok);
        CHECK(decode_with(tok, n, key, &back) == 0);
        check_same(&back, &its[i]);
    }
}

/* The token is exactly the documented byte layout, signed and base64'd. */
static void test_layout(void)
{
    struct shard_iterator it = sample();
    unsigned char raw[HEADER_LEN + 128 + MAC_LEN];
    char want[ITERATOR_MAX_LEN + 1], got[ITERATOR_MAX_LEN + 1];

    size_t n = build_raw(raw, 1, it.stream_name, strlen(it.stream_name));
    sign(raw, n, want);
    encode(&it, got);
    CHECK_STREQ(got, want);
}

/* Every other character at every position: the decoder is canonical, so each
 * changes the bytes (or is invalid base64) and the token must fail. */
static void test_altered_chars(void)
{
    struct shard_iterator it = sample();
    char tok[ITERATOR_MAX_LEN + 1];
    size_t n = encode(&it, tok);

    for (size_t i = 0; i < n; i++) {
        char orig = tok[i];
        for (const char *c = alphabet_and_pad; *c; c++) {
            if (*c == orig)
                continue;
            tok[i] = *c;
            CHECK(decode(tok, n) == -1);
        }
        tok[i] = orig;
    }
    CHECK(decode(tok, n) == 0);
}

/* Every single-bit change of the decoded bytes, re-encoded as valid base64. */
static void test_altered_bits(void)
{
    struct shard_iterator it = sample();
    char tok[ITERATOR_MAX_LEN + 1];
    size_t n = encode(&it, tok);
    unsigned char raw[ITERATOR_MAX_LEN];
    size_t raw_len;

    CHECK(base64_decode(tok, n, raw, &raw_len, NULL) == BASE64_OK);
    for (size_t i = 0; i < raw_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            char bad[ITERATOR_MAX_LEN + 1];
            raw[i] ^= (unsigned char)(1u << bit);
            size_t len = base64_encode(raw, raw_len, bad);
            CHECK(decode(bad, len) == -1);
            raw[i] ^= (unsigned char)(1u << bit);
        }
    }
}

static void test_truncated_and_extended(void)
{
    struct shard_iterator it = sample();
    char tok[ITERATOR_MAX_LEN + 1 + 4];
    size_t n = encode(&it, tok);

    for (size_t len = 0; len < n; len++)
        CHECK(decode(tok, len) == -1);
    memcpy(tok + n, "AAAA", 4);
    CHECK(decode(tok, n + 4) == -1);
}

static void test_wrong_key(void)
{
    struct shard_iterator it = sample(), out;
    char tok[ITERATOR_MAX_LEN + 1];
    size_t n = encode(&it, tok);
    unsigned char other[ITERATOR_KEY_LEN];

    for (size_t bit = 0; bit < 8 * sizeof key; bit++) {
        memcpy(other, key, sizeof key);
        other[bit / 8] ^= (unsigned char)(1u << bit % 8);
        CHECK(decode_with(tok, n, other, &out) == -1);
    }
}

/* Correctly signed tokens whose contents break the format are refused too. */
static void test_signed_but_malformed(void)
{
    unsigned char raw[HEADER_LEN + 255 + MAC_LEN];
    char tok[(sizeof raw + 2) / 3 * 4 + 1], name[256];
    size_t n;

    /* the control: a well-formed one passes */
    n = sign(raw, build_raw(raw, 1, "ok", 2), tok);
    CHECK(decode(tok, n) == 0);

    n = sign(raw, build_raw(raw, 0, "ok", 2), tok);
    CHECK(decode(tok, n) == -1);
    n = sign(raw, build_raw(raw, 2, "ok", 2), tok);
    CHECK(decode(tok, n) == -1);

    static const char *const bad_names[] = {"", "has space", "slash/", "colon:", "nul\0x",
                                            "\xc3\xa9t\xc3\xa9"};
    static const size_t bad_lens[] = {0, 9, 6, 6, 5, 6};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        n = sign(raw, build_raw(raw, 1, bad_names[i], bad_lens[i]), tok);
        CHECK(decode(tok, n) == -1);
    }

    /* names of 129 and 255 chars, otherwise valid */
    memset(name, 'a', sizeof name);
    n = sign(raw, build_raw(raw, 1, name, 129), tok);
    CHECK(decode(tok, n) == -1);
    n = sign(raw, build_raw(raw, 1, name, 255), tok);
    CHECK(decode(tok, n) == -1);

    /* the length byte disagrees with the actual name length */
    size_t len = build_raw(raw, 1, "abcd", 4);
    raw[HEADER_LEN - 1] = 5;
    n = sign(raw, len, tok);
    CHECK(decode(tok, n) == -1);
    raw[HEADER_LEN - 1] = 3;
    n = sign(raw, len, tok);
    CHECK(decode(tok, n) == -1);
}

/* Random strings of every length up to past ITERATOR_MAX_LEN: some from the
 * base64 alphabet (they get past base64 to the structure and MAC checks),
 * some arbitrary bytes. */
static void test_garbage(void)
{
    char buf[700];

    for (size_t len = 0; len < sizeof buf; len++) {
        for (int rep = 0; rep < 30; rep++) {
            if (rep % 2 == 0) {
                for (size_t i = 0; i < len; i++)
                    buf[i] = alphabet_and_pad[test_rand() % 64];
            } else {
                test_rand_bytes((unsigned char *)buf, len);
            }
            CHECK(decode(buf, len) == -1);
        }
    }
}

/* Valid for exactly ITERATOR_TTL_MS (5 minutes) after it was issued. */
static void test_expiry(void)
{
    struct shard_iterator it = {.created_ms = 1700000000000ULL};
    CHECK(!iterator_expired(&it, it.created_ms));
    CHECK(!iterator_expired(&it, it.created_ms + 300000));
    CHECK(iterator_expired(&it, it.created_ms + 300001));
    CHECK(!iterator_expired(&it, it.created_ms - 5000)); /* a clock step back is not expiry */
}

int main(void)
{
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 7 + 1);

    test_round_trip();
    test_layout();
    test_altered_chars();
    test_altered_bits();
    test_truncated_and_extended();
    test_wrong_key();
    test_signed_but_malformed();
    test_garbage();
    test_expiry();
    puts("test_iterator: ok");
    return 0;
}
