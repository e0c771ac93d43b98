/* S3 (REST-XML): what the S3 handlers share. A request is addressed
 * path-style (/bucket/key) or virtual-hosted (Host: bucket.localhost,
 * bucket.s3.amazonaws.com, bucket.s3.<region>.amazonaws.com), resolved once
 * by s3_parse; the operation is chosen from the method, whether there is a
 * bucket and a key, and the subresource in the query (s3_api.c's table).
 * Files: s3_api.c (addressing, table, errors), s3_buckets.c (bucket
 * operations and listings), s3_objects.c (object reads, writes, deletes),
 * s3_multipart.c (multipart uploads), s3_copy.c (CopyObject,
 * UploadPartCopy, DeleteObjects), s3_tagging.c (object tags). */
#ifndef TP_S3_H
#define TP_S3_H

#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/sigv4.h"
#include "protocol/xml.h"
#include "server/net/request.h"
#include "storage/objects.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

struct s3_param {
    char *name;
    char *value; /* "" for a valueless parameter (?uploads) */
};

struct s3_req {
    struct tp_response *rs;
    char method[8];
    char region[32];
    char request_id[17];
    uint64_t now_ms;
    char *bucket;            /* NULL for the service level (ListBuckets) */
    char *key;               /* URL-decoded; NULL for the bucket level */
    struct s3_param *params; /* URL-decoded query */
    unsigned n_params;
    struct tp_header *headers; /* a copy of the request headers (names lower-case) */
    size_t n_headers;
    const unsigned char *body; /* buffered operations only */
    size_t body_len;
    struct sigv4_chain *chain; /* a signed aws-chunked body's chunks verify against it (malloc'd) */
    const char *error_fields[12]; /* name, value pairs the next <Error> adds after <Message>; NULL ends */
};

/* Fills q from rq (copies what it keeps; rq may go away afterwards). On a
 * malformed request answers the error into rs and returns -1. */
int s3_parse(struct s3_req *q, const struct tp_request *rq, struct tp_response *rs);
void s3_free(struct s3_req *q);
const char *s3_param(const struct s3_req *q, const char *name);
const char *s3_header(const struct s3_req *q, const char *lname);

/* The XML <Error> answer (no body for HEAD). fmt NULL: AWS's usual message.
 * Returns -1. */
int s3_error(struct s3_req *q, enum tp_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A 200 answer with the XML document in w. */
void s3_reply_xml(struct s3_req *q, struct xw *w);
/* The bucket, or NoSuchBucket answered and -1. */
int s3_bucket_or_reply(struct s3_req *q, struct db_bucket *b);
/* S3's bucket naming rules (protocols.md §3.5). */
int s3_bucket_name_valid(const char *name);
/* With --auth, the SHA-256 (hex) x-amz-content-sha256 says the body has,
 * which it must then have (XAmzContentSHA256Mismatch); NULL: nothing to check. */
const char *s3_signed_body_hash(const struct s3_req *q);
/* URL-encodes s for encoding-type=url listings (unreserved and '/' kept). */
char *s3_url_encode(const char *s);
/* %XX-decodes n chars of s ('+' into ' ' when plus); a malformed escape stays
 * as it is. NULL when out of memory. Sets *bad (never clears it) when the
 * result is no name AWS takes: a NUL byte or ill-formed UTF-8. */
char *s3_url_decode(const char *s, size_t n, int plus, int *bad);

/* RFC 7232 conditions (If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since; with prefix "x-amz-copy-source-" those of a copy's
 * source) against o, with S3's precedence: 412, 304 or 0. */
int s3_preconditions(const struct s3_req *q, const struct db_object *o, const char *prefix);

/* Handlers of buffered requests. */
typedef int (*s3_handler)(struct s3_req *q);
int s3_list_buckets(struct s3_req *q);
int s3_create_bucket(struct s3_req *q);
int s3_head_bucket(struct s3_req *q);
int s3_delete_bucket(struct s3_req *q);
int s3_get_bucket_location(struct s3_req *q);
int s3_list_objects(struct s3_req *q);     /* v1 and v2 (list-type=2) */
int s3_get_object(struct s3_req *q);       /* GET and HEAD */
int s3_delete_object(struct s3_req *q);
int s3_create_multipart_upload(struct s3_req *q);
int s3_complete_multipart_upload(struct s3_req *q);
int s3_abort_multipart_upload(struct s3_req *q);
int s3_list_parts(struct s3_req *q);
int s3_list_multipart_uploads(struct s3_req *q);
int s3_copy_object(struct s3_req *q);
int s3_upload_part_copy(struct s3_req *q);
int s3_delete_objects(struct s3_req *q);
int s3_get_object_tagging(struct s3_req *q);
int s3_put_object_tagging(struct s3_req *q);
int s3_delete_object_tagging(struct s3_req *q);
/* x-amz-tagging ("k=v&k2=v2") as the JSON object stored with an object: 0,
 * or -1 with InvalidTag answered. *json is NULL when there are no tags. */
int s3_tagging_header(struct s3_req *q, char **json);

/* PutObject streams its body (s3_objects.c): the stream takes over *q's
 * contents (leaving q to be freed as a shell); NULL only when out of memory,
 * with q untouched. */
struct tp_stream *s3_put_object_open(struct s3_req *q);
/* UploadPart streams the same way into a part of a multipart upload. */
struct tp_stream *s3_upload_part_open(struct s3_req *q);
/* The request headers an object keeps (Content-*, Cache-Control, Expires,
 * x-amz-meta-*) as a JSON object; malloc'd. */
char *s3_stored_headers(const struct s3_req *q);

/* Entry points from the router. */
void s3_dispatch(const struct tp_request *rq, struct tp_response *rs);
struct tp_stream *s3_stream_open(const struct tp_request *rq);

#endif
