/* Streaming decoder of the aws-chunked content encoding (protocols.md §3.2):
 *   unsigned:  <hex>\r\n<bytes>\r\n ... 0\r\n[trailer lines\r\n]\r\n
 *   signed:    <hex>;chunk-signature=<64 hex>\r\n<bytes>\r\n ... 0;chunk-signature=<sig>\r\n
 *              [trailer lines\r\n][x-amz-trailer-signature:<64 hex>\r\n]\r\n
 * Bytes may arrive split anywhere; payload bytes are handed on as they come,
 * nothing but a line is buffered. Chunk signatures are checked for syntax,
 * and against their SigV4 chain when one is given (aws_chunked_verify); the
 * state stays O(1) however many chunks come. */
#ifndef TP_AWS_CHUNKED_H
#define TP_AWS_CHUNKED_H

#include <stddef.h>

#include "protocol/sigv4.h"

enum aws_chunked_status {
    AWSC_OK = 0,         /* more input expected */
    AWSC_DONE,           /* the final chunk and trailers were read; further input is an error */
    AWSC_EMALFORMED,     /* bad chunk header, missing CRLF, bad trailer line */
    AWSC_ETOOLONG,       /* a header or trailer line over 4 KiB, more than 16 trailers, or a
                            trailer name/value too long for struct aws_chunked_trailer */
    AWSC_ETRUNCATED,     /* aws_chunked_end before the final chunk */
    AWSC_EABORTED,       /* the sink returned non-zero: our failure (a write), not a bad body */
    AWSC_ESIGNATURE,     /* with a chain: a chunk or trailer signature does not match, or the
                            chunks are unsigned */
};

struct aws_chunked_trailer {
    char name[128];      /* lower-cased */
    char value[256];
};

struct aws_chunked;

/* The payload sink: called with each run of decoded bytes; non-zero aborts. */
typedef int (*aws_chunked_sink)(void *ctx, const unsigned char *data, size_t n);

struct aws_chunked *aws_chunked_new(aws_chunked_sink sink, void *ctx);
void aws_chunked_free(struct aws_chunked *d);
/* From now on every chunk must be signed and its signature must be the next
 * of chain (copied; its prev is the seed signature), the trailer's too. A
 * chunk's bytes reach the sink before its signature can be checked (it
 * covers them all): the caller discards the body on AWSC_ESIGNATURE. */
void aws_chunked_verify(struct aws_chunked *d, const struct sigv4_chain *chain);
/* Feeds n encoded bytes. Errors are sticky: after one, every call returns it. */
enum aws_chunked_status aws_chunked_feed(struct aws_chunked *d, const unsigned char *in, size_t n);
/* The body ended: AWSC_DONE when it was complete, the earlier error if there
 * was one, else AWSC_ETRUNCATED. */
enum aws_chunked_status aws_chunked_end(struct aws_chunked *d);

/* After AWSC_DONE: decoded payload length, the trailers (x-amz-checksum-*
 * and x-amz-trailer-signature). */
unsigned long long aws_chunked_decoded_length(const struct aws_chunked *d);
const struct aws_chunked_trailer *aws_chunked_trailers(const struct aws_chunked *d, size_t *n);
const char *aws_chunked_trailer(const struct aws_chunked *d, const char *lname);

#endif
