/* Unit tests of the base64 codec: RFC 4648 vectors, each strict-decoder fault
 * AWS reports, and random round trips. Inputs and outputs live in exactly
 * sized heap buffers so that, under ASan, any read or write past them fails. */
#include "protocol/base64.h"

#include "tests/unit/check.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes n chars of s. Returns the status; *out (to free) holds *outlen bytes. */
static enum base64_status decode(const char *s, size_t n, unsigned char **out, size_t *outlen,
                                 char *bad)
{
    char *in = malloc(n ? n : 1);
    CHECK(in != NULL);
    memcpy(in, s, n);
    *out = malloc(base64_decoded_max(n) ? base64_decoded_max(n) : 1);
    CHECK(*out != NULL);
    enum base64_status st = base64_decode(in, n, *out, outlen, bad);
    free(in);
    return st;
}

/* Checks that s (NUL-terminated) is rejected with status want, and, for
 * BASE64_ECHAR, that the culprit reported is want_bad. */
static void check_rejected(const char *s, size_t n, enum base64_status want, char want_bad)
{
    unsigned char *out;
    size_t outlen;
    char bad = 0;

    CHECK(decode(s, n, &out, &outlen, &bad) == want);
    if (want == BASE64_ECHAR)
        CHECK(bad == want_bad);
    free(out);
    /* bad is optional */
    CHECK(decode(s, n, &out, &outlen, NULL) == want);
    free(out);
}

static void test_rfc4648_vectors(void)
{
    static const struct { const char *plain, *enc; } v[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t plen = strlen(v[i].plain), elen = strlen(v[i].enc);
        char enc[16];
        CHECK(base64_encoded_len(plen) == elen);
        CHECK(base64_encode((const unsigned char *)v[i].plain, plen, enc) == elen);
        enc[elen] = '\0';
        CHECK_STREQ(enc, v[i].enc);

        unsigned char *out;
        size_t outlen = 99;
        CHECK(decode(v[i].enc, elen, &out, &outlen, NULL) == BASE64_OK);
        CHECK(outlen == plen);
        CHECK(memcmp(out, v[i].plain, plen) == 0);
        free(out);
    }
}

static void test_bad_length(void)
{
    check_rejected("Z", 1, BASE64_ELENGTH, 0);
    check_rejected("Zg=", 3, BASE64_ELENGTH, 0);
    check_rejected("Zm9vY", 5, BASE64_ELENGTH, 0);
    check_rejected("Zm9vYg=", 7, BASE64_ELENGTH, 0);
    /* length is judged before the characters */
    check_rejected("!!!", 3, BASE64_ELENGTH, 0);
}

static void test_bad_char(void)
{
    check_rejected("Zm9v!A==", 8, BASE64_ECHAR, '!');
    check_rejected("Zm-v", 4, BASE64_ECHAR, '-');   /* URL-safe alphabet is not ours */
    check_rejected("Zm_v", 4, BASE64_ECHAR, '_');
    check_rejected("Zm9 ", 4, BASE64_ECHAR, ' ');
    check_rejected("Zm9v\nZm9", 8, BASE64_ECHAR, '\n');
    check_rejected("Zm\0v", 4, BASE64_ECHAR, '\0');
    check_rejected("Zm\xc3v", 4, BASE64_ECHAR, '\xc3');
    /* '=' anywhere but the last one or two positions */
    check_rejected("Zg==Zm9v", 8, BASE64_ECHAR, '=');
    check_rejected("=Zm9", 4, BASE64_ECHAR, '=');
    check_rejected("Zg=a", 4, BASE64_ECHAR, '=');
    check_rejected("Z=g=", 4, BASE64_ECHAR, '=');
    check_rejected("Z===", 4, BASE64_ECHAR, '=');
    check_rejected("====", 4, BASE64_ECHAR, '=');
    /* the first bad character of the quantum is the one reported */
    check_rejected("Zm9vZ*?=", 8, BASE64_ECHAR, '*');
}

/* Every possible last character of "AA?=" and "A?==": accepted exactly when
 * its bits past the final byte are zero (2 and 4 of them respectively). */
static void test_last_char_bits(void)
{
    for (int i = 0; i < 64; i++) {
        char two[5] = {'A', 'A', alphabet[i], '=', 0};
        char one[5] = {'A', alphabet[i], '=', '=', 0};
        unsigned char *out;
        size_t outlen;

        enum base64_status want = (i & 0x3) ? BASE64_ELASTCHAR : BASE64_OK;
        CHECK(decode(two, 4, &out, &outlen, NULL) == want);
        if (want == BASE64_OK)
            CHECK(outlen == 2 && out[0] == 0 && out[1] == (unsigned char)(i >> 2));
        free(out);

        want = (i & 0xf) ? BASE64_ELASTCHAR : BASE64_OK;
        CHECK(decode(one, 4, &out, &outlen, NULL) == want);
        if (want == BASE64_OK)
            CHECK(outlen == 1 && out[0] == (unsigned char)(i >> 4));
        free(out);
    }
    check_rejected("Zh==", 4, BASE64_ELASTCHAR, 0);
    check_rejected("Zm9vZm9=", 8, BASE64_ELASTCHAR, 0);
}

static void test_random_round_trips(void)
{
    for (size_t n = 0; n <= 100; n++) {
        for (int rep = 0; rep < 20; rep++) {
            unsigned char *plain = malloc(n ? n : 1);
            size_t elen = base64_encoded_len(n);
            char *enc = malloc(elen ? elen : 1);
            CHECK(plain != NULL && enc != NULL);
            test_rand_bytes(plain, n);

            CHECK(elen % 4 == 0 && elen >= n * 4 / 3 && elen < n * 4 / 3 + 4);
            CHECK(base64_encode(plain, n, enc) == elen);
            size_t pad = (3 - n % 3) % 3;
            for (size_t i = 0; i < elen; i++)
                CHECK(i >= elen - pad ? enc[i] == '=' : strchr(alphabet, enc[i]) != NULL);

            unsigned char *out;
            size_t outlen;
            CHECK(decode(enc, elen, &out, &outlen, NULL) == BASE64_OK);
            CHECK(outlen == n && outlen <= base64_decoded_max(elen));
            CHECK(memcmp(out, plain, n) == 0);
            free(out);
            free(enc);
            free(plain);
        }
    }
}

int main(void)
{
    test_rfc4648_vectors();
    test_bad_length();
    test_bad_char();
    test_last_char_bits();
    test_random_round_trips();
    puts("test_base64: ok");
    return 0;
}
