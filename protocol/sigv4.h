/* AWS Signature Version 4, protocols.md §4: canonical request → string to
 * sign → the HMAC-SHA256 key chain (GnuTLS) → the signature. One builder
 * serves both sides: the requests tidepool sends (the replay client) and the
 * ones it verifies (server/auth.c), including the chained signatures of
 * streaming (aws-chunked) bodies. */
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
    int encode_path;                 /* 1: encode the path once more (every service but S3) */
    /* URI-encoded, without '?'; NULL or "" for none. Each name and value is
     * decoded and encoded again the SigV4 way; X-Amz-Signature is left out. */
    const char *query;
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
/* The signature alone (what a verifier compares), with the signing key in
 * key when not NULL (for a streaming body's chain); -1 when GnuTLS fails. */
int sigv4_signature(const struct sigv4_request *r, char sig[SIGV4_HEX_LEN + 1], unsigned char key[32],
                    struct sigv4_trace *trace);
void sigv4_trace_free(struct sigv4_trace *t);

/* The chained signatures of a signed aws-chunked body (protocols.md §3.2):
 * each chunk's signs its data's hash and the previous signature, starting
 * from the request's own ("seed"). O(1) state, however many chunks. */
struct sigv4_chain {
    unsigned char key[32];           /* the signing key */
    char amz_date[SIGV4_DATE_LEN + 1];
    char scope[128];                 /* yyyymmdd/region/service/aws4_request */
    char prev[SIGV4_HEX_LEN + 1];    /* the last signature */
};
/* The next signature: of a chunk whose data hashes to data_sha (hex), or of
 * the trailer lines hashing to data_sha when trailer. It becomes c->prev. */
int sigv4_chain_next(struct sigv4_chain *c, const char *data_sha, int trailer);
/* Constant-time equality of two NUL-terminated strings of the same length. */
int sigv4_equal(const char *a, const char *b);

/* Lower-case hex SHA-256 of data into out (NUL-terminated); -1 when GnuTLS fails. */
int sigv4_sha256_hex(const void *data, size_t n, char out[SIGV4_HEX_LEN + 1]);
/* n bytes as lower-case hex into out (2n + 1 bytes). */
void sigv4_hex(const unsigned char *d, size_t n, char *out);
/* The x-amz-date of t (UTC). */
void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1]);
/* Appends s percent-encoded as SigV4 wants: A-Z a-z 0-9 - _ . ~ as they
 * are, '/' too when keep_slash, everything else %XX in upper case. */
void sigv4_uri_encode(struct strbuf *b, const char *s, size_t n, int keep_slash);

#endif
