/* The events' source: ListObjectsV2 page by page (continuation tokens), then
 * GetObject for one object at a time in key order, path-style. An object is
 * fetched whole, still compressed, which keeps the connection from idling
 * while the replay waits on the pace; it is inflated while its lines are
 * handed on. Detection as commons-compress's CompressorStreamFactory does it
 * for the formats the dataset uses: an LZ4 frame (magic 04 22 4D 18), of
 * which only the first frame is read (decompressConcatenated=false), or gzip
 * (1f 8b), first member only; anything else is plain text. Lines end at LF,
 * a CR before it is dropped, as BufferedReader.readLine does. */
#include "replay/replay.h"

#include "protocol/sigv4.h"
#include "protocol/strbuf.h"
#include "protocol/xml.h"

#include <limits.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (64 * 1024)

/* ---- lines ---- */

struct lines {
    struct strbuf part; /* a line split across chunks */
    replay_line_cb cb;
    void *ctx;
    int stopped;
};

static void emit(struct lines *l, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (n && l->cb(l->ctx, s, n)) /* an empty line is no event */
        l->stopped = 1;
}

/* Non-zero once the callback stopped the reading. */
static int lines_feed(struct lines *l, const char *p, size_t n)
{
    while (n > 0 && !l->stopped) {
        const char *nl = memchr(p, '\n', n);
        if (!nl) {
            strbuf_put(&l->part, p, n);
            break;
        }
        size_t k = (size_t)(nl - p);
        if (l->part.len) {
            strbuf_put(&l->part, p, k);
            emit(l, l->part.buf, l->part.len);
            l->part.len = 0;
        } else {
            emit(l, p, k);
        }
        p += k + 1;
        n -= k + 1;
    }
    return l->stopped;
}

/* ---- decompression; each returns NULL, or why the object ended early ---- */

static const char *inflate_lz4(const unsigned char *p, size_t n, struct lines *l)
{
    LZ4F_dctx *d;
    unsigned char out[CHUNK];
    const char *why = "the LZ4 frame is truncated";

    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return "out of memory";
    for (;;) {
        size_t outn = sizeof out, inn = n;
        size_t rc = LZ4F_decompress(d, out, &outn, p, &inn, NULL);
        if (LZ4F_isError(rc)) {
            why = LZ4F_getErrorName(rc);
            break;
        }
        p += inn;
        n -= inn;
        if (lines_feed(l, (const char *)out, outn) || rc == 0) { /* rc 0: the first frame is complete */
            why = NULL;
            break;
        }
        if (inn == 0 && outn == 0)
            break;
    }
    LZ4F_freeDecompressionContext(d);
    return why;
}

static const char *inflate_gzip(const unsigned char *p, size_t n, struct lines *l)
{
    unsigned char out[CHUNK];
    z_stream z = {0};
    const char *why = NULL;

    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) /* 16: a gzip wrapper */
        return "out of memory";
    for (;;) {
        if (z.avail_in == 0 && n > 0) { /* avail_in is a uInt: feed a big object in parts */
            z.next_in = (Bytef *)p;
            z.avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n;
            p += z.avail_in;
            n -= z.avail_in;
        }
        z.next_out = out;
        z.avail_out = sizeof out;
        int rc = inflate(&z, Z_NO_FLUSH);
        if (lines_feed(l, (const char *)out, sizeof out - z.avail_out) || rc == Z_STREAM_END)
            break;
        if (rc != Z_OK) {
            why = rc == Z_BUF_ERROR ? "the gzip stream is truncated" : z.msg ? z.msg : "corrupt gzip data";
            break;
        }
    }
    inflateEnd(&z);
    return why;
}

static const char *read_lines(const unsigned char *p, size_t n, struct lines *l)
{
    static const unsigned char lz4_magic[] = {0x04, 0x22, 0x4D, 0x18}, gzip_magic[] = {0x1f, 0x8b};

    if (n >= sizeof lz4_magic && !memcmp(p, lz4_magic, sizeof lz4_magic))
        return inflate_lz4(p, n, l);
    if (n >= sizeof gzip_magic && !memcmp(p, gzip_magic, sizeof gzip_magic))
        return inflate_gzip(p, n, l);
    lines_feed(l, (const char *)p, n);
    return NULL;
}

/* ---- S3 ---- */

/* "Code: Message" of an S3 error document, else the HTTP status. */
static void s3_error(const struct aws_response *r, char *out, size_t n)
{
    struct xml_node *doc = xml_parse(r->body, r->len, NULL);
    const struct xml_node *code = doc ? xml_child(doc, "Code") : NULL, *msg = doc ? xml_child(doc, "Message") : NULL;

    if (code)
        snprintf(out, n, "%s: %s", code->text, msg ? msg->text : "");
    else
        snprintf(out, n, "HTTP status %ld", r->status);
    xml_free(doc);
}

/* GET on the bucket: 0 with resp holding a 200, or -1 with err set. */
static int s3_get(const struct replay_opts *o, struct aws_client *c, const char *key, const char *query,
                  struct aws_response *resp, char *err, size_t errlen)
{
    struct strbuf p = {0};
    size_t len;

    strbuf_put(&p, "/", 1);
    sigv4_uri_encode(&p, o->bucket_name, strlen(o->bucket_name), 0);
    if (*key) {
        strbuf_put(&p, "/", 1);
        sigv4_uri_encode(&p, key, strlen(key), 1);
    }
    char *path = strbuf_take(&p, &len);
    struct aws_request r = {
        .method = "GET", .service = "s3", .region = o->bucket_region, .path = path, .query = query,
        .abortable = 1,
    };
    int rc = aws_call(c, &r, resp);
    free(path);
    if (rc) {
        snprintf(err, errlen, "%s", resp->error);
        return -1;
    }
    if (resp->status != 200) {
        s3_error(resp, err, errlen);
        aws_response_free(resp);
        return -1;
    }
    return 0;
}

/* Reads one object's lines; a failure is a warning, as in the original. */
static int read_object(const struct replay_opts *o, struct aws_client *c, const char *key, struct lines *l)
{
    struct aws_response resp;
    char err[512];

    replay_log("INFO", "EventReader", "reading object s3://%s/%s", o->bucket_name, key);
    if (s3_get(o, c, key, NULL, &resp, err, sizeof err)) {
        if (replay_stopping) /* the transfer was given up for it */
            return 1;
        replay_log("WARN", "EventReader", "skipping object s3://%s/%s as it failed to open (%s)", o->bucket_name,
                   key, err);
        return 0;
    }
    const char *why = read_lines((const unsigned char *)resp.body, resp.len, l);
    if (!l->stopped && l->part.len) /* the last line needs no LF */
        emit(l, l->part.buf, l->part.len);
    l->part.len = 0;
    if (why)
        replay_log("WARN", "EventReader", "unable to decompress all of s3://%s/%s: %s", o->bucket_name, key, why);
    aws_response_free(&resp);
    return l->stopped;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int replay_s3_read(const struct replay_opts *o, struct aws_client *c, replay_line_cb cb, void *ctx, char *err,
                   size_t errlen)
{
    struct lines l = {.cb = cb, .ctx = ctx};
    char *token = NULL, why[512];
    size_t objects = 0;
    int rc = 0;

    do {
        struct strbuf q = {0};
        struct aws_response resp;
        size_t len;

        if (token) {
            strbuf_put(&q, "continuation-token=", 19);
            sigv4_uri_encode(&q, token, strlen(token), 0);
            strbuf_put(&q, "&", 1);
        }
        strbuf_put(&q, "list-type=2&prefix=", 19);
        sigv4_uri_encode(&q, o->object_prefix, strlen(o->object_prefix), 0);
        char *query = strbuf_take(&q, &len);
        free(token);
        token = NULL;
        int failed = s3_get(o, c, "", query, &resp, why, sizeof why);
        free(query);
        if (failed && replay_stopping) {
            rc = 1;
            break;
        }
        if (failed) {
            snprintf(err, errlen, "cannot list s3://%s/%s at %s (%s)", o->bucket_name, o->object_prefix,
                     aws_client_endpoint(c), why);
            rc = -1;
            break;
        }
        struct xml_node *doc = xml_parse(resp.body, resp.len, NULL);
        aws_response_free(&resp);
        if (!doc) {
            snprintf(err, errlen, "cannot list s3://%s/%s at %s (not a ListObjectsV2 answer)", o->bucket_name,
                     o->object_prefix, aws_client_endpoint(c));
            rc = -1;
            break;
        }
        for (const struct xml_node *n = doc->child; n && !rc; n = n->next) {
            const struct xml_node *key = strcmp(n->name, "Contents") ? NULL : xml_child(n, "Key");
            if (!key)
                continue;
            if (ends_with(key->text, "README.md")) {
                replay_log("INFO", "EventReader", "skipping object s3://%s/%s", o->bucket_name, key->text);
                continue;
            }
            objects++;
            rc = read_object(o, c, key->text, &l);
        }
        const struct xml_node *truncated = xml_child(doc, "IsTruncated"), *next = xml_child(doc, "NextContinuationToken");
        if (!rc && truncated && !strcmp(truncated->text, "true") && next && *next->text && !(token = strdup(next->text)))
            abort();
        xml_free(doc);
    } while (token);
    if (rc == 0 && objects == 0) {
        snprintf(err, errlen, "no objects under s3://%s/%s at %s", o->bucket_name, o->object_prefix,
                 aws_client_endpoint(c));
        rc = -1;
    }
    strbuf_free(&l.part);
    return rc;
}
