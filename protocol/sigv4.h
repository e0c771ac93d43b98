/* AWS Signature Version 4 for the requests tidepool itself sends (the replay
 * client), protocols.md §4: canonical request → string to sign → the
 * HMAC-SHA256 key chain (GnuTLS) → the Authorization header. */
#ifndef TP_SIGV4_H
#define TP_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "protocol/strbuf.h"

#define SIGV4_HEX_LEN 64
#define SIGV4_DATE_LEN 16 /* yyyymmddThhmmssZ */

struct sigv4_header {
    const char *name; /* any case */
    const char *value;
};

struct sigv4_request {
    const char *method;
    /* URI-encoded once, exactly as sent. S3 signs this very path; the other
     * services would encode it a second time, which only matters for paths
     * other than their "/". */
    const char *path;
    const char *query;               /* URI-encoded, without '?'; NULL or "" for none */
    const struct sigv4_header *headers; /* every header to sign; host and x-amz-date among them */
    size_t n_headers;
    const char *payload_hash;        /* hex SHA-256 of the body */
    const char *amz_date;            /* the x-amz-date value */
    const char *region, *service;
    const char *access_key, *secret_key;
};

/* What was signed, for tests and for debugging a SignatureDoesNotMatch. */
struct sigv4_trace {
    char *canonical_request;
    char *string_to_sign;
};

/* The Authorization header value, malloc'd. trace, when not NULL, receives
 * malloc'd copies of the intermediate strings. NULL when GnuTLS fails. */
char *sigv4_authorization(const struct sigv4_request *r, struct sigv4_trace *trace);
void sigv4_trace_free(struct sigv4_trace *t);

/* Lower-case hex SHA-256 of data into out (NUL-terminated); -1 when GnuTLS fails. */
int sigv4_sha256_hex(const void *data, size_t n, char out[SIGV4_HEX_LEN + 1]);
/* The x-amz-date of t (UTC). */
void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1]);
/* Appends s percent-encoded as SigV4 wants: A-Z a-z 0-9 - _ . ~ as they
 * are, '/' too when keep_slash, everything else %XX in upper case. */
void sigv4_uri_encode(struct strbuf *b, const char *s, size_t n, int keep_slash);

#endif
