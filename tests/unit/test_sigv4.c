/* Unit tests of the SigV4 signer against AWS's published vectors: the
 * Signature Version 4 test suite (aws-c-auth's tests/aws-signing-test-suite/v4:
 * get-vanilla, get-vanilla-query-order-key-case, get-vanilla-empty-query-key,
 * get-unreserved, get-header-value-trim, post-vanilla,
 * get-vanilla-with-session-token; all with AKIDEXAMPLE at 20150830T123600Z,
 * us-east-1, service "service") and the S3 API Reference's "GET Object"
 * example (sig-v4-header-based-auth), whose path S3 signs as sent. The
 * intermediate strings of get-vanilla are checked too, and the encoder. */
#include "protocol/sigv4.h"

#include "tests/unit/check.h"

#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

struct vector {
    const char *name, *method, *path, *query;
    struct sigv4_header extra[2];
    size_t n_extra;
    const char *expected; /* the whole Authorization value after SUITE_PREFIX */
};

static const struct vector suite[] = {
    {"get-vanilla", "GET", "/", NULL, {{0}}, 0,
     "SignedHeaders=host;x-amz-date, "
     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", {{0}}, 0,
     "SignedHeaders=host;x-amz-date, "
     "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", {{0}}, 0,
     "SignedHeaders=host;x-amz-date, "
     "Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL, {{0}}, 0,
     "SignedHeaders=host;x-amz-date, "
     "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-header-value-trim", "GET", "/", NULL, {{"My-Header1", " value1 "}, {"My-Header2", "\"a   b   c\""}}, 2,
     "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
     "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-vanilla", "POST", "/", NULL, {{0}}, 0,
     "SignedHeaders=host;x-amz-date, "
     "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"get-vanilla-with-session-token", "GET", "/", NULL,
     {{"X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}}, 1,
     "SignedHeaders=host;x-amz-date;x-amz-security-token, "
     "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
};

static char *sign_suite(const struct vector *v, struct sigv4_trace *trace)
{
    /* the extra headers go first: the signer must sort them */
    struct sigv4_header h[4];
    size_t n = 0;

    for (size_t i = 0; i < v->n_extra; i++)
        h[n++] = v->extra[i];
    h[n++] = (struct sigv4_header){"X-Amz-Date", SUITE_DATE};
    h[n++] = (struct sigv4_header){"Host", SUITE_HOST};
    struct sigv4_request r = {
        .method = v->method, .path = v->path, .query = v->query, .headers = h, .n_headers = n,
        .payload_hash = EMPTY_SHA256, .amz_date = SUITE_DATE, .region = "us-east-1", .service = "service",
        .access_key = "AKIDEXAMPLE", .secret_key = SUITE_SECRET,
    };
    return sigv4_authorization(&r, trace);
}

static void test_suite(void)
{
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        char *auth = sign_suite(&suite[i], NULL), want[512];
        CHECK(auth != NULL);
        snprintf(want, sizeof want, "%s%s", SUITE_PREFIX, suite[i].expected);
        if (strcmp(auth, want))
            fprintf(stderr, "vector %s\n", suite[i].name);
        CHECK_STREQ(auth, want);
        free(auth);
    }
}

static void test_vanilla_intermediates(void)
{
    struct sigv4_trace t = {0};
    char *auth = sign_suite(&suite[0], &t);

    CHECK(auth != NULL);
    CHECK_STREQ(t.canonical_request, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                                     "host;x-amz-date\n" EMPTY_SHA256);
    CHECK_STREQ(t.string_to_sign, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                                  "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    sigv4_trace_free(&t);
    free(auth);
}

/* Amazon S3 API Reference, "Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk", Example: GET Object. */
static void test_s3_get_object(void)
{
    const struct sigv4_header h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY_SHA256},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct sigv4_request r = {
        .method = "GET", .path = "/test.txt", .headers = h, .n_headers = 4, .payload_hash = EMPTY_SHA256,
        .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3",
        .access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char *auth = sigv4_authorization(&r, NULL);

    CHECK(auth != NULL);
    CHECK_STREQ(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(auth);
}

/* A header given twice is signed once, its values joined by ',' in order. */
static void test_repeated_header(void)
{
    const struct sigv4_header h[] = {
        {"x-amz-date", SUITE_DATE}, {"My-Header1", "b"}, {"host", SUITE_HOST}, {"my-header1", " a  c "},
    };
    struct sigv4_request r = {
        .method = "GET", .path = "/", .headers = h, .n_headers = 4, .payload_hash = EMPTY_SHA256,
        .amz_date = SUITE_DATE, .region = "us-east-1", .service = "service",
        .access_key = "AKIDEXAMPLE", .secret_key = SUITE_SECRET,
    };
    struct sigv4_trace t = {0};
    char *auth = sigv4_authorization(&r, &t);

    CHECK(auth != NULL);
    CHECK(strstr(t.canonical_request, "\nmy-header1:b,a c\n") != NULL);
    CHECK(strstr(auth, "SignedHeaders=host;my-header1;x-amz-date,") != NULL);
    sigv4_trace_free(&t);
    free(auth);
}

static void test_helpers(void)
{
    struct strbuf b = {0};
    char hexd[SIGV4_HEX_LEN + 1], date[SIGV4_DATE_LEN + 1];
    size_t len;

    sigv4_uri_encode(&b, "a b/c~d+é", strlen("a b/c~d+é"), 1);
    sigv4_uri_encode(&b, "|x/y", 4, 0);
    char *s = strbuf_take(&b, &len);
    CHECK_STREQ(s, "a%20b/c~d%2B%C3%A9%7Cx%2Fy");
    free(s);
    CHECK(sigv4_sha256_hex("", 0, hexd) == 0);
    CHECK_STREQ(hexd, EMPTY_SHA256);
    sigv4_amz_date(1440938160, date); /* 2015-08-30T12:36:00Z */
    CHECK_STREQ(date, SUITE_DATE);
}

int main(void)
{
    test_suite();
    test_vanilla_intermediates();
    test_s3_get_object();
    test_repeated_header();
    test_helpers();
    puts("sigv4: ok");
    return 0;
}
