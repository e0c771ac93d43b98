/* Unit tests of the SigV2 string to sign and signature against the examples
 * of the Amazon S3 guide "Signing and authenticating REST requests" (bucket
 * awsexamplebucket1, AKIAIOSFODNN7EXAMPLE): GET and PUT Object, List (the
 * bucket's own resource, query parameters that are not subresources) and
 * Fetch (?acl), virtual-hosted as there and path-style; plus x-amz-* header
 * canonicalisation and a decoded subresource value. */
#include "protocol/sigv2.h"

#include "tests/unit/check.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

struct vector {
    const char *name, *method, *bucket, *path, *query, *date;
    struct sigv4_header headers[3];
    size_t n_headers;
    const char *sts, *signature;
};

static const struct vector vectors[] = {
    {"object GET", "GET", "awsexamplebucket1", "/photos/puppy.jpg", "", "Tue, 27 Mar 2007 19:36:42 +0000",
     {{"Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"}}, 1,
     "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg", "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="},
    {"object GET, path-style", "GET", NULL, "/awsexamplebucket1/photos/puppy.jpg", "",
     "Tue, 27 Mar 2007 19:36:42 +0000", {{"Host", "s3.us-west-1.amazonaws.com"}}, 1,
     "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg", "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="},
    {"object PUT", "PUT", "awsexamplebucket1", "/photos/puppy.jpg", "", "Tue, 27 Mar 2007 21:15:45 +0000",
     {{"Content-Type", "image/jpeg"}, {"Content-Length", "94328"}, {"Host", "awsexamplebucket1.s3.amazonaws.com"}}, 3,
     "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg",
     "iqRzw+ileNPu1fhspnRs8nOjjIA="},
    {"list", "GET", "awsexamplebucket1", "/", "prefix=photos&max-keys=50&marker=puppy",
     "Tue, 27 Mar 2007 19:42:41 +0000", {{"User-Agent", "Mozilla/5.0"}}, 1,
     "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/", "m0WP8eCtspQl5Ahe6L1SozdX9YA="},
    {"list, path-style", "GET", NULL, "/awsexamplebucket1", "prefix=photos&max-keys=50&marker=puppy",
     "Tue, 27 Mar 2007 19:42:41 +0000", {{0}}, 0,
     "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/", "m0WP8eCtspQl5Ahe6L1SozdX9YA="},
    {"fetch acl", "GET", "awsexamplebucket1", "/", "acl", "Tue, 27 Mar 2007 19:44:46 +0000", {{0}}, 0,
     "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl", "82ZHiFIjc+WbcwFKGUVEQspPn+0="},
};

static void test_guide_examples(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const struct vector *v = &vectors[i];
        struct sigv2_request r = {.method = v->method, .headers = v->headers, .n_headers = v->n_headers,
                                  .date_line = v->date, .bucket = v->bucket, .path = v->path, .query = v->query};
        char *sts = sigv2_string_to_sign(&r), sig[SIGV2_LEN + 1];
        if (strcmp(sts, v->sts))
            fprintf(stderr, "vector %s\n", v->name);
        CHECK_STREQ(sts, v->sts);
        CHECK(sigv2_sign(SECRET, sts, sig) == 0);
        CHECK_STREQ(sig, v->signature);
        free(sts);
    }
}

/* x-amz-* headers: lower-cased, sorted, repeats joined by ','; subresources
 * sorted, values decoded; Content-MD5 in its line; other parameters ignored. */
static void test_canonicalisation(void)
{
    const struct sigv4_header h[] = {
        {"X-Amz-Meta-B", "2"}, {"Content-MD5", "bWQ1"}, {"x-amz-meta-a", "1"}, {"x-amz-meta-b", "3"},
        {"Host", "h"},
    };
    struct sigv2_request r = {.method = "PUT", .headers = h, .n_headers = 5, .date_line = "",
                              .path = "/b/k%20ey", .query = "uploadId=a%2Fb&partNumber=2&x-id=PutObject"};
    char *sts = sigv2_string_to_sign(&r);
    CHECK_STREQ(sts, "PUT\nbWQ1\n\n\nx-amz-meta-a:1\nx-amz-meta-b:2,3\n/b/k%20ey?partNumber=2&uploadId=a/b");
    free(sts);
}

int main(void)
{
    test_guide_examples();
    test_canonicalisation();
    puts("sigv2: ok");
    return 0;
}
