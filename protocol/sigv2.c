/* SigV2 for S3; see sigv2.h. Strings are built in strbufs, which abort when
 * memory runs out. */
#include "protocol/sigv2.h"
#include "protocol/base64.h"
#include "protocol/urlcode.h"

#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Query parameters that name a subresource (sorted: they are signed in this order). */
static const char *const SUBRESOURCES[] = {
    "accelerate", "acl", "analytics", "cors", "delete", "inventory", "lifecycle", "location", "logging", "metrics",
    "notification", "object-lock", "partNumber", "policy", "replication", "requestPayment",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website"};

static void put(struct strbuf *b, const char *s)
{
    strbuf_put(b, s, strlen(s));
}

static const char *header(const struct sigv2_request *r, const char *lname)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (!strcasecmp(r->headers[i].name, lname))
            return r->headers[i].value;
    return "";
}

/* Appends n bytes of s %XX-decoded. */
static void put_decoded(struct strbuf *b, const char *s, size_t n)
{
    b->len += url_decode(s, n, 0, strbuf_reserve(b, n));
}

static int cmp_lower(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

char *sigv2_string_to_sign(const struct sigv2_request *r)
{
    struct strbuf b = {0};
    const char **names = calloc(r->n_headers ? r->n_headers : 1, sizeof *names);
    size_t n = 0, len;

    if (!names)
        abort(); /* as strbuf does */
    put(&b, r->method);
    put(&b, "\n");
    put(&b, header(r, "content-md5"));
    put(&b, "\n");
    put(&b, header(r, "content-type"));
    put(&b, "\n");
    put(&b, r->date_line);
    put(&b, "\n");
    for (size_t i = 0; i < r->n_headers; i++) {
        int seen = 0;
        for (size_t j = 0; j < n; j++)
            seen |= !strcasecmp(names[j], r->headers[i].name);
        if (!seen && !strncasecmp(r->headers[i].name, "x-amz-", 6))
            names[n++] = r->headers[i].name;
    }
    qsort(names, n, sizeof *names, cmp_lower);
    for (size_t j = 0; j < n; j++) {
        for (const char *c = names[j]; *c; c++) {
            char l = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
            strbuf_put(&b, &l, 1);
        }
        const char *sep = ":";
        for (size_t i = 0; i < r->n_headers; i++)
            if (!strcasecmp(r->headers[i].name, names[j])) {
                put(&b, sep);
                put(&b, r->headers[i].value);
                sep = ",";
            }
        put(&b, "\n");
    }
    free(names);
    if (r->bucket) {
        put(&b, "/");
        put(&b, r->bucket);
    }
    put(&b, r->path);
    if (!r->bucket && r->path[0] == '/' && r->path[1] && !strchr(r->path + 1, '/'))
        put(&b, "/"); /* the bucket itself is "/bucket/", however it was addressed */
    const char *sep = "?";
    for (size_t i = 0; i < sizeof SUBRESOURCES / sizeof *SUBRESOURCES; i++) {
        size_t vlen;
        const char *v = url_query_find(r->query, SUBRESOURCES[i], &vlen);
        if (!v)
            continue;
        put(&b, sep);
        put(&b, SUBRESOURCES[i]);
        if (vlen) {
            put(&b, "=");
            put_decoded(&b, v, vlen);
        }
        sep = "&";
    }
    return strbuf_take(&b, &len);
}

int sigv2_sign(const char *secret, const char *sts, char out[SIGV2_LEN + 1])
{
    unsigned char mac[20];
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, strlen(secret), sts, strlen(sts), mac))
        return -1;
    out[base64_encode(mac, sizeof mac, out)] = 0;
    return 0;
}
