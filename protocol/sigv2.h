/* AWS Signature Version 2, which S3 still takes ("Authorization: AWS
 * AKID:signature", and presigned URLs with AWSAccessKeyId, Expires and
 * Signature): the string to sign as the S3 REST authentication guide builds
 * it, and its base64 HMAC-SHA1 (GnuTLS). Used by server/auth.c to verify. */
#ifndef TP_SIGV2_H
#define TP_SIGV2_H

#include <stddef.h>

#include "protocol/sigv4.h"

#define SIGV2_LEN 28 /* base64 of the 20-byte HMAC-SHA1 */

struct sigv2_request {
    const char *method;
    const struct sigv4_header *headers; /* all of them: Content-MD5, Content-Type and x-amz-* are signed */
    size_t n_headers;
    const char *date_line;  /* the Date header; Expires when presigned; "" when x-amz-date is sent */
    const char *bucket;     /* the bucket a virtual-hosted Host names, else NULL (path-style) */
    const char *path;       /* as sent (URI-encoded) */
    const char *query;      /* raw, without '?'; its subresources are signed */
};

/* VERB \n Content-MD5 \n Content-Type \n Date \n x-amz-* headers (lower-case,
 * sorted, "name:value\n", repeated ones joined by ',') and the resource:
 * /bucket/key as sent ("/bucket/" for the bucket itself), then the query's
 * subresources, sorted, with their decoded values. malloc'd. */
char *sigv2_string_to_sign(const struct sigv2_request *r);
/* The signature of sts with secret; -1 when GnuTLS fails. */
int sigv2_sign(const char *secret, const char *sts, char out[SIGV2_LEN + 1]);

#endif
