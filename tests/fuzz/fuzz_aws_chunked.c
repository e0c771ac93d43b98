/* libFuzzer target: the aws-chunked body decoder of S3 uploads. The first
 * byte picks how the body is cut into feeds (the decoder must not care where
 * pieces end; its low 7 bits) and whether chunk signatures are verified
 * against a SigV4 chain (its top bit, as --auth does); the rest is the body. */
#include "protocol/aws_chunked.h"

#include <stdint.h>
#include <string.h>

static int sink(void *ctx, const unsigned char *data, size_t n)
{
    unsigned long long *total = ctx;
    if (n && !data)
        __builtin_trap();
    *total += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long long total = 0;
    if (size < 1)
        return 0;
    size_t piece = (size_t)(data[0] & 0x7f) + 1; /* 1..128 bytes per feed */
    int verify = data[0] & 0x80;
    data++, size--;
    struct aws_chunked *d = aws_chunked_new(sink, &total);
    if (!d)
        return 0;
    if (verify) {
        struct sigv4_chain chain = {.amz_date = "20130524T000000Z", .scope = "20130524/us-east-1/s3/aws4_request"};
        memset(chain.key, 0x5a, sizeof chain.key);
        memset(chain.prev, 'a', SIGV4_HEX_LEN);
        aws_chunked_verify(d, &chain);
    }
    enum aws_chunked_status st = AWSC_OK;
    for (size_t off = 0; off < size && st == AWSC_OK; off += piece)
        st = aws_chunked_feed(d, data + off, size - off < piece ? size - off : piece);
    if (aws_chunked_end(d) == AWSC_DONE) {
        size_t n = 0;
        const struct aws_chunked_trailer *t = aws_chunked_trailers(d, &n);
        for (size_t i = 0; i < n; i++)
            if (strlen(t[i].name) >= sizeof t[i].name || strlen(t[i].value) >= sizeof t[i].value)
                __builtin_trap();
        if (aws_chunked_decoded_length(d) != total)
            __builtin_trap();
        (void)aws_chunked_trailer(d, "x-amz-checksum-crc32");
    }
    aws_chunked_free(d);
    return 0;
}
