/* Unit tests of the SigV4 signer against AWS's published vectors: the
 * Signature Version 4 test suite (aws-c-auth's tests/aws-signing-test-suite/v4:
 * get-vanilla, get-vanilla-query-order-key-case, get-vanilla-empty-query-key,
 * get-unreserved, get-header-value-trim, post-vanilla,
 * get-vanilla-with-session-token; all with AKIDEXAMPLE at 20150830T123600Z,
 * us-east-1, service "service") and the S3 API Reference's "GET Object"
 * example (sig-v4-header-based-auth), whose path S3 signs as sent; its
 * presigned-URL example (sigv4-query-string-auth) and its chunked-upload
 * example (sigv4-streaming: the seed and the three chunk signatures). The
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

#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* S3 API Reference, "Authenticating Requests: Using Query Parameters",
 * Example: presigned GET Object. The query arrives with X-Amz-Signature in it,
 * in another order and with a loosely encoded credential: what a verifier sees. */
static void test_s3_presigned(void)
{
    const struct sigv4_header h[] = {{"host", "examplebucket.s3.amazonaws.com"}};
    struct sigv4_request r = {
        .method = "GET", .path = "/test.txt",
        .query = "X-Amz-Signature=00&X-Amz-Expires=86400&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                 "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE/20130524%2fus-east-1%2Fs3%2Faws4_request&"
                 "X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host",
        .headers = h, .n_headers = 1, .payload_hash = "UNSIGNED-PAYLOAD",
        .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3",
        .access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = S3_SECRET,
    };
    char sig[SIGV4_HEX_LEN + 1];

    CHECK(sigv4_signature(&r, sig, NULL, NULL) == 0);
    CHECK_STREQ(sig, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

/* S3 API Reference, "Transferring Payload in Multiple Chunks", Example: PUT
 * Object: 65 KiB + 1 KiB of 'a' and the final empty chunk. */
static void test_s3_chunk_chain(void)
{
    const struct sigv4_header h[] = {
        {"content-encoding", "aws-chunked"}, {"content-length", "66824"}, {"host", "s3.amazonaws.com"},
        {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, {"x-amz-date", "20130524T000000Z"},
        {"x-amz-decoded-content-length", "66560"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
    };
    struct sigv4_request r = {
        .method = "PUT", .path = "/examplebucket/chunkObject.txt", .headers = h, .n_headers = 7,
        .payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", .amz_date = "20130524T000000Z",
        .region = "us-east-1", .service = "s3", .access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = S3_SECRET,
    };
    struct sigv4_chain c = {.amz_date = "20130524T000000Z", .scope = "20130524/us-east-1/s3/aws4_request"};
    static unsigned char data[65536];
    char sha[SIGV4_HEX_LEN + 1];

    CHECK(sigv4_signature(&r, c.prev, c.key, NULL) == 0);
    CHECK_STREQ(c.prev, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    memset(data, 'a', sizeof data);
    CHECK(sigv4_sha256_hex(data, 65536, sha) == 0 && sigv4_chain_next(&c, sha, 0) == 0);
    CHECK_STREQ(c.prev, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    CHECK(sigv4_sha256_hex(data, 1024, sha) == 0 && sigv4_chain_next(&c, sha, 0) == 0);
    CHECK_STREQ(c.prev, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    CHECK(sigv4_chain_next(&c, EMPTY_SHA256, 0) == 0);
    CHECK_STREQ(c.prev, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    CHECK(sigv4_equal(c.prev, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"));
    CHECK(!sigv4_equal(c.prev, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df8"));
    CHECK(!sigv4_equal(c.prev, "b6c6"));
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
    test_s3_presigned();
    test_s3_chunk_chain();
    test_helpers();
    puts("sigv4: ok");
    return 0;
}
