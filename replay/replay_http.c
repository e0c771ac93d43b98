/* Signed HTTP requests of `tidepool replay`: libcurl for the transfer,
 * protocol/sigv4 for the Authorization header. Every request signs host,
 * x-amz-date and x-amz-content-sha256 (which S3 requires and the JSON
 * services accept), plus the session token and the content headers. */
#define _GNU_SOURCE /* vasprintf */
#include "replay/replay.h"

#include "protocol/sigv4.h"
#include "protocol/strbuf.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct aws_client {
    CURL *curl;
    char *endpoint; /* scheme://host[:port], no trailing '/' */
    char *host;     /* the Host header, as signed: host[:port] */
};

static struct {
    const char *key, *secret, *token;
} creds;

/* asprintf that aborts when memory runs out, as strbuf does. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s;

    va_start(ap, f);
    int rc = vasprintf(&s, f, ap);
    va_end(ap);
    if (rc < 0)
        abort();
    return s;
}

int aws_http_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    creds.key = getenv("AWS_ACCESS_KEY_ID");
    creds.secret = getenv("AWS_SECRET_ACCESS_KEY");
    creds.token = getenv("AWS_SESSION_TOKEN");
    if (!creds.key || !*creds.key || !creds.secret || !*creds.secret) {
        fprintf(stderr, "tidepool replay: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: signing with "
                        "dummy credentials, which tidepool accepts and AWS does not\n");
        creds.key = creds.secret = "tidepool";
        creds.token = NULL;
    }
    if (creds.token && !*creds.token)
        creds.token = NULL;
    return 0;
}

void aws_http_cleanup(void)
{
    curl_global_cleanup();
}

struct aws_client *aws_client_new(const char *endpoint, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    struct aws_client *c = NULL;

    if (!u || curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") && strcmp(scheme, "https")) || strcmp(path, "/") ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_NO_QUERY) {
        snprintf(err, errlen, "the endpoint must be http(s)://HOST[:PORT], not %s", endpoint);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
    if (!(c = calloc(1, sizeof *c)) || !(c->curl = curl_easy_init())) {
        snprintf(err, errlen, "cannot start curl");
        aws_client_free(c);
        c = NULL;
        goto out;
    }
    c->host = fmt("%s%s%s", host, port ? ":" : "", port ? port : "");
    c->endpoint = fmt("%s://%s", scheme, c->host);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return c;
}

void aws_client_free(struct aws_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->host);
    free(c->endpoint);
    free(c);
}

const char *aws_client_endpoint(const struct aws_client *c)
{
    return c->endpoint;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    strbuf_put(ctx, p, size * n);
    return size * n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ctx, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return replay_stopping != 0;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
    char *line = fmt("%s: %s", name, value);
    struct curl_slist *nl = curl_slist_append(l, line);
    free(line);
    if (!nl)
        abort();
    return nl;
}

int aws_call(struct aws_client *c, const struct aws_request *r, struct aws_response *resp)
{
    char date[SIGV4_DATE_LEN + 1], hash[SIGV4_HEX_LEN + 1], errbuf[CURL_ERROR_SIZE] = "";
    struct sigv4_header h[6];
    size_t n = 0;
    struct strbuf url = {0}, body = {0};
    struct curl_slist *hl = NULL;

    memset(resp, 0, sizeof *resp);
    sigv4_amz_date(time(NULL), date);
    if (sigv4_sha256_hex(r->body ? r->body : "", r->len, hash)) {
        snprintf(resp->error, sizeof resp->error, "SHA-256 is unavailable");
        return -1;
    }
    h[n++] = (struct sigv4_header){"Host", c->host};
    h[n++] = (struct sigv4_header){"X-Amz-Date", date};
    h[n++] = (struct sigv4_header){"X-Amz-Content-Sha256", hash};
    if (creds.token)
        h[n++] = (struct sigv4_header){"X-Amz-Security-Token", creds.token};
    if (r->content_type)
        h[n++] = (struct sigv4_header){"Content-Type", r->content_type};
    if (r->target)
        h[n++] = (struct sigv4_header){"X-Amz-Target", r->target};
    struct sigv4_request sr = {
        .method = r->method, .path = r->path, .query = r->query, .headers = h, .n_headers = n,
        .payload_hash = hash, .amz_date = date, .region = r->region, .service = r->service,
        .access_key = creds.key, .secret_key = creds.secret,
    };
    char *auth = sigv4_authorization(&sr, NULL);
    if (!auth) {
        snprintf(resp->error, sizeof resp->error, "HMAC-SHA256 is unavailable");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        hl = add_header(hl, h[i].name, h[i].value);
    hl = add_header(hl, "Authorization", auth);
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    free(auth);

    strbuf_put(&url, c->endpoint, strlen(c->endpoint));
    strbuf_put(&url, r->path, strlen(r->path));
    if (r->query && *r->query) {
        strbuf_put(&url, "?", 1);
        strbuf_put(&url, r->query, strlen(r->query));
    }
    CURL *k = c->curl;
    curl_easy_setopt(k, CURLOPT_URL, url.buf);
    if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(k, CURLOPT_POST, 1L);
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    } else {
        curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L); /* several threads use curl */
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    /* a transfer that stalls for a minute is given up, whatever its size */
    curl_easy_setopt(k, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(k, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(k, CURLOPT_NOPROGRESS, r->abortable ? 0L : 1L);
    curl_easy_setopt(k, CURLOPT_XFERINFOFUNCTION, on_progress);
    CURLcode rc = curl_easy_perform(k);
    curl_slist_free_all(hl);
    strbuf_free(&url);
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(k, CURLINFO_OS_ERRNO, &os_errno);
        /* curl 7's "Couldn't connect to server" does not say "Connection refused" */
        snprintf(resp->error, sizeof resp->error, "%s%s%s%s", *errbuf ? errbuf : curl_easy_strerror(rc),
                 os_errno ? " (" : "", os_errno ? strerror((int)os_errno) : "", os_errno ? ")" : "");
        strbuf_free(&body);
        return -1;
    }
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = strbuf_take(&body, &resp->len);
    return 0;
}

void aws_response_free(struct aws_response *resp)
{
    free(resp->body);
    resp->body = NULL;
}
