/* Who sent a request: the credentials check every service shares. Without
 * --auth any credentials are welcome, but some must be there (an anonymous
 * S3 request is refused as AWS refuses it for a private bucket) and a
 * presigned URL still expires. With --auth FILE the signatures are verified:
 * SigV4 in the Authorization header or the query (every service), SigV2
 * likewise (S3 only), the request time within 15 minutes, and for a signed
 * aws-chunked body the seed of its chunk chain (checked as the chunks pass,
 * protocol/aws_chunked.c). The callers turn a verdict into their service's
 * error (router.c for the JSON services, s3_api.c for S3). */
#ifndef TP_AUTH_H
#define TP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/sigv4.h"
#include "server/net/request.h"

/* Loads the key file (README "Authentication"): {"credentials":
 * [{"accessKeyId": ..., "secretAccessKey": ...}, ...]}. Once, before serving;
 * -1 with err filled when the file is unreadable or malformed. */
int auth_load_file(const char *path, char *err, size_t errlen);
/* 1 once a key file is loaded: signatures are verified. */
int auth_enabled(void);

enum auth_status {
    AUTH_OK,
    AUTH_ANONYMOUS,      /* no credentials at all */
    AUTH_MALFORMED,      /* Authorization header or query parameters unusable: message */
    AUTH_NO_DATE,        /* header auth without a usable X-Amz-Date or Date: message */
    AUTH_UNKNOWN_KEY,    /* the access key is not in the file */
    AUTH_MISMATCH,       /* the signature is not ours */
    AUTH_SKEWED,         /* header auth: the request time is over 15 minutes off */
    AUTH_EXPIRED,        /* presigned: past its expiry */
    AUTH_BAD_EXPIRES,    /* presigned: X-Amz-Expires out of 1..604800: message */
    AUTH_NO_CONTENT_SHA, /* S3 SigV4 header auth without x-amz-content-sha256 */
};

struct auth_result {
    enum auth_status status;
    int query;                   /* the credentials came in the query (presigned) */
    int v2;                      /* SigV2 */
    char message[512];           /* MALFORMED, BAD_EXPIRES; SKEWED and EXPIRED: the JSON services' text */
    char access_key[128];
    char request_time[32];       /* SKEWED: the request's time as sent; EXPIRED: X-Amz-Date */
    char server_time[32];        /* SKEWED, EXPIRED: now, ISO 8601 */
    char expires[32];            /* EXPIRED: X-Amz-Expires (SigV4) or Expires (SigV2) */
    char signature_provided[128];
    char *canonical_request;     /* MISMATCH: what was computed (SigV4; malloc'd) */
    char *string_to_sign;        /* MISMATCH (malloc'd) */
    int streaming;               /* S3: a signed aws-chunked body follows; chain is seeded */
    struct sigv4_chain chain;
};

/* Checks rq's credentials as of now_ms. s3: S3's rules (SigV2 too, the
 * payload hash from x-amz-content-sha256, the path as sent, presigned
 * expiry; host_bucket is the bucket a virtual-hosted Host names, which SigV2
 * signs, else NULL); otherwise a JSON service's (the payload hashed from
 * rq's body, which must be the body as received, before any inflating). */
void auth_check(const struct tp_request *rq, int s3, const char *host_bucket, uint64_t now_ms,
                struct auth_result *r);
void auth_result_free(struct auth_result *r);

#endif
