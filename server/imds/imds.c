/* The EC2 instance metadata service (IMDS), on its own listening socket and
 * libmicrohttpd daemon, apart from the AWS API port. Code that asks "the
 * instance" for its region or credentials (SDK v1 Regions.getCurrentRegion()
 * reads the identity document; botocore's region and credential fetchers; the
 * SDK v2 instance-profile provider) finds it through
 * AWS_EC2_METADATA_SERVICE_ENDPOINT and works off EC2 unchanged.
 *
 * It behaves as EC2 with HttpTokens=optional: IMDSv2 session tokens from
 * PUT /latest/api/token (TTL 1..21600 s) and plain IMDSv1 GETs both work, but
 * a token that is sent must be valid (else 401). Tokens are stateless (expiry
 * plus an HMAC under a per-process key), so nothing is stored and a restart
 * voids them, as an instance stop does. Every document is text/plain, JSON
 * ones too; errors are the service's small XHTML pages. The role credentials
 * are dummies, which tidepool accepts like any others. */
#include "server/imds/imds.h"
#include "protocol/base64.h"
#include "server/runtime/config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_PATH "/latest/api/token"
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define TOKEN_HEADER "X-aws-ec2-metadata-token"
#define MAX_TTL 21600u
#define ROLE "tidepool"
#define CRED_HOURS 6          /* EC2 role credentials last about six hours */
#define KEY_LEN 32
#define MAC_LEN 24            /* of the HMAC-SHA256: ample for a local token */
#define TOKEN_RAW (8 + MAC_LEN)
#define IDLE_SECONDS 10u
#define DOC_MAX 2048          /* the largest, the identity document, is ~500 bytes */
#define PRIVATE_IP "172.31.32.10"
#define INSTANCE_TYPE "t3.medium"

struct imds_server {
    struct MHD_Daemon *mhd;
    int port;
    unsigned char key[KEY_LEN];
    char instance_id[24];     /* i- and 17 hex digits */
    char ami_id[24];          /* ami- and 17 hex digits */
    char hostname[96];
    char started[24];         /* ISO-8601: pendingTime, iam/info LastUpdated */
};

/* ---- content ---- */

enum item { I_IDENTITY, I_AMI, I_LAUNCH_INDEX, I_HOSTNAME, I_IAM_INFO, I_CREDS, I_CREDS_EXT,
            I_INSTANCE_ID, I_INSTANCE_TYPE, I_LOCAL_IPV4, I_AZ, I_REGION };

/* Every leaf under /latest/, sorted, so that a directory's children are
 * adjacent; directory listings are derived from it. `unlisted`: left out of
 * listings above its own directory (EC2 does not list the newer
 * security-credentials-extended under iam/; SDKs ask for it by name). */
static const struct {
    const char *path;
    enum item item;
    int unlisted;
} ITEMS[] = {
    {"dynamic/instance-identity/document", I_IDENTITY, 0},
    {"meta-data/ami-id", I_AMI, 0},
    {"meta-data/ami-launch-index", I_LAUNCH_INDEX, 0},
    {"meta-data/hostname", I_HOSTNAME, 0},
    {"meta-data/iam/info", I_IAM_INFO, 0},
    {"meta-data/iam/security-credentials-extended/" ROLE, I_CREDS_EXT, 1},
    {"meta-data/iam/security-credentials/" ROLE, I_CREDS, 0},
    {"meta-data/instance-id", I_INSTANCE_ID, 0},
    {"meta-data/instance-type", I_INSTANCE_TYPE, 0},
    {"meta-data/local-hostname", I_HOSTNAME, 0},
    {"meta-data/local-ipv4", I_LOCAL_IPV4, 0},
    {"meta-data/placement/availability-zone", I_AZ, 0},
    {"meta-data/placement/region", I_REGION, 0},
};
#define N_ITEMS (sizeof ITEMS / sizeof *ITEMS)

static void iso8601(time_t t, char out[24])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Credentials renewed on the hour, each valid CRED_HOURS from then: always
 * at least five hours ahead, so no SDK ever sees them near expiry. The JSON is
 * laid out as EC2 writes it. */
static int render_creds(int extended, char *out, size_t cap)
{
    time_t now = time(NULL), updated = now - now % 3600;
    char lu[24], ex[24];
    iso8601(updated, lu);
    iso8601(updated + CRED_HOURS * 3600, ex);
    return snprintf(out, cap,
                    "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"%s\",\n  \"Type\" : \"AWS-HMAC\",\n"
                    "  \"AccessKeyId\" : \"ASIATIDEPOOL00IMDS01\",\n"
                    "  \"SecretAccessKey\" : \"tidepool/imds/dummy/secret/access/key/00\",\n"
                    "  \"Token\" : \"IQoJtidepool/imds/dummy/session/token/for/role/" ROLE "=\",\n"
                    "  \"Expiration\" : \"%s\"%s%s%s\n}",
                    lu, ex, extended ? ",\n  \"AccountId\" : \"" : "", extended ? g_cfg.account : "",
                    extended ? "\"" : "");
}

static int render_item(const struct imds_server *s, enum item item, char *out, size_t cap)
{
    switch (item) {
    case I_IDENTITY:
        return snprintf(out, cap,
                        "{\n  \"accountId\" : \"%s\",\n  \"architecture\" : \"x86_64\",\n"
                        "  \"availabilityZone\" : \"%sa\",\n  \"billingProducts\" : null,\n"
                        "  \"devpayProductCodes\" : null,\n  \"marketplaceProductCodes\" : null,\n"
                        "  \"imageId\" : \"%s\",\n  \"instanceId\" : \"%s\",\n"
                        "  \"instanceType\" : \"" INSTANCE_TYPE "\",\n  \"kernelId\" : null,\n"
                        "  \"pendingTime\" : \"%s\",\n  \"privateIp\" : \"" PRIVATE_IP "\",\n"
                        "  \"ramdiskId\" : null,\n  \"region\" : \"%s\",\n  \"version\" : \"2017-09-30\"\n}",
                        g_cfg.account, g_cfg.region, s->ami_id, s->instance_id, s->started, g_cfg.region);
    case I_AMI: return snprintf(out, cap, "%s", s->ami_id);
    case I_LAUNCH_INDEX: return snprintf(out, cap, "0");
    case I_HOSTNAME: return snprintf(out, cap, "%s", s->hostname);
    case I_IAM_INFO:
        return snprintf(out, cap,
                        "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"%s\",\n"
                        "  \"InstanceProfileArn\" : \"arn:aws:iam::%s:instance-profile/" ROLE "\",\n"
                        "  \"InstanceProfileId\" : \"AIPATIDEPOOLIMDS00001\"\n}",
                        s->started, g_cfg.account);
    case I_CREDS: return render_creds(0, out, cap);
    case I_CREDS_EXT: return render_creds(1, out, cap);
    case I_INSTANCE_ID: return snprintf(out, cap, "%s", s->instance_id);
    case I_INSTANCE_TYPE: return snprintf(out, cap, INSTANCE_TYPE);
    case I_LOCAL_IPV4: return snprintf(out, cap, PRIVATE_IP);
    case I_AZ: return snprintf(out, cap, "%sa", g_cfg.region);
    case I_REGION: return snprintf(out, cap, "%s", g_cfg.region);
    }
    return 0;
}

/* The children of directory `dir` (relative to /latest/, "" for /latest
 * itself), one a line, subdirectories with a trailing slash; 0 when dir has
 * none. At most N_ITEMS short names, well under DOC_MAX. */
static int render_listing(const char *dir, char *out, size_t cap)
{
    size_t dlen = strlen(dir), prevlen = 0;
    const char *prev = NULL;
    int n = 0;
    for (size_t i = 0; i < N_ITEMS; i++) {
        const char *p = ITEMS[i].path, *slash;
        if (dlen && (strncmp(p, dir, dlen) || p[dlen] != '/'))
            continue;
        p += dlen ? dlen + 1 : 0;
        slash = strchr(p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen(p);
        if ((slash && ITEMS[i].unlisted) || (prev && prevlen == clen && !memcmp(prev, p, clen)))
            continue;
        /* /latest/ names its categories without the slash, as EC2 does */
        n += snprintf(out + n, cap - (size_t)n, "%s%.*s%s", n ? "\n" : "", (int)clen, p,
                      slash && dlen ? "/" : "");
        prev = p;
        prevlen = clen;
    }
    return n;
}

/* The document at url, or 0 for none. A trailing slash is ignored, as EC2
 * ignores it (botocore asks for placement/availability-zone/). */
static int render_path(const struct imds_server *s, const char *url, char *out, size_t cap)
{
    char path[256];
    size_t len = strlen(url);
    if (len >= sizeof path)
        return 0;
    memcpy(path, url, len + 1);
    if (len > 1 && path[len - 1] == '/')
        path[len - 1] = '\0';
    if (!strcmp(path, "/"))
        return snprintf(out, cap, "latest");
    if (!strcmp(path, "/latest"))
        return render_listing("", out, cap);
    if (strncmp(path, "/latest/", 8))
        return 0;
    for (size_t i = 0; i < N_ITEMS; i++)
        if (!strcmp(path + 8, ITEMS[i].path))
            return render_item(s, ITEMS[i].item, out, cap);
    return render_listing(path + 8, out, cap);
}

/* ---- tokens: 8 bytes of expiry (monotonic ms), then its truncated HMAC ---- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int token_mac(const struct imds_server *s, const unsigned char expiry[8], unsigned char mac[32])
{
    return gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->key, KEY_LEN, expiry, 8, mac);
}

/* Writes the base64 token, NUL-terminated, to out (at least 64 bytes). */
static int token_make(const struct imds_server *s, unsigned ttl, char *out)
{
    unsigned char raw[TOKEN_RAW], mac[32];
    uint64_t expiry = mono_ms() + (uint64_t)ttl * 1000u;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(expiry >> (56 - 8 * i));
    if (token_mac(s, raw, mac) < 0)
        return -1;
    memcpy(raw + 8, mac, MAC_LEN);
    out[base64_encode(raw, sizeof raw, out)] = '\0';
    return 0;
}

static int token_valid(const struct imds_server *s, const char *tok)
{
    unsigned char raw[64], mac[32], diff = 0;
    size_t n = strlen(tok), len;
    uint64_t expiry = 0;
    if (n != base64_encoded_len(TOKEN_RAW) || base64_decode(tok, n, raw, &len, NULL) != BASE64_OK ||
        len != TOKEN_RAW || token_mac(s, raw, mac) < 0)
        return 0;
    for (int i = 0; i < MAC_LEN; i++) /* constant time: no early exit on a mismatch */
        diff |= (unsigned char)(raw[8 + i] ^ mac[i]);
    for (int i = 0; i < 8; i++)
        expiry = expiry << 8 | raw[i];
    return !diff && mono_ms() < expiry;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len, const char *hname, const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_SERVER, "EC2ws");
    if (hname)
        (void)MHD_add_response_header(r, hname, hval);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* EC2's error pages. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *title,
                                   const char *hname, const char *hval)
{
    char page[640];
    int n = snprintf(page, sizeof page,
                     "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
                     "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n"
                     "\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
                     "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
                     " <head>\n  <title>%u - %s</title>\n </head>\n"
                     " <body>\n  <h1>%u - %s</h1>\n </body>\n</html>\n",
                     status, title, status, title);
    return reply(c, status, "text/html", page, (size_t)n, hname, hval);
}

static enum MHD_Result put_token(const struct imds_server *s, struct MHD_Connection *c)
{
    const char *ttl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TTL_HEADER);
    char token[64], echo[8];
    unsigned long v = 0;
    /* EC2 refuses token requests that came through a proxy */
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For"))
        return reply_error(c, 403, "Forbidden", NULL, NULL);
    if (ttl && *ttl && strlen(ttl) <= 5 && strspn(ttl, "0123456789") == strlen(ttl))
        v = strtoul(ttl, NULL, 10);
    if (v < 1 || v > MAX_TTL)
        return reply_error(c, 400, "Missing or Invalid Parameters", NULL, NULL);
    if (token_make(s, (unsigned)v, token))
        return reply_error(c, 500, "Internal Server Error", NULL, NULL);
    snprintf(echo, sizeof echo, "%lu", v);
    return reply(c, 200, "text/plain", token, strlen(token), TTL_HEADER, echo);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    static const char STARTED = 0;
    const struct imds_server *s = cls;
    const char *tok;
    char doc[DOC_MAX];
    int n;
    (void)version;
    (void)upload;
    if (!*state) { /* answer once the whole request is in */
        *state = (void *)&STARTED;
        return MHD_YES;
    }
    if (*upload_size) { /* no request here has a meaningful body: drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    log_msg(LOG_DEBUG, "imds: %s %s", method, url);
    if (!strcmp(url, TOKEN_PATH))
        return !strcmp(method, "PUT") ? put_token(s, c)
                                      : reply_error(c, 405, "Method Not Allowed", "Allow", "OPTIONS, PUT");
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        size_t len = strlen(url);
        /* a token from a versioned path (/2021-03-23/api/token) is refused, as EC2 does */
        if (len >= 10 && !strcmp(url + len - 10, "/api/token"))
            return reply_error(c, 403, "Forbidden", NULL, NULL);
        return reply_error(c, 405, "Method Not Allowed", "Allow", "GET, HEAD");
    }
    tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TOKEN_HEADER);
    if (tok && !token_valid(s, tok))
        return reply_error(c, 401, "Unauthorized", NULL, NULL);
    n = render_path(s, url, doc, sizeof doc);
    if (n <= 0)
        return reply_error(c, 404, "Not Found", NULL, NULL);
    return reply(c, 200, "text/plain", doc, (size_t)n, NULL, NULL);
}

/* ---- start and stop ---- */

static int open_listener(const char *host, int port, int *bound, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char service[16];
    int rc, one = 1, zero = 0, fd = -1;

    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host && *host ? host : "0.0.0.0", service, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) /* "::" serves IPv4 clients too */
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

#define FNV_BASIS 0xcbf29ce484222325u

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

/* The instance described. Its id stays the same for the same data directory
 * and account, so clients that remember it see one instance across restarts;
 * the AMI id follows the region, as AMI ids do. */
static void describe_instance(struct imds_server *s)
{
    char dir[PATH_MAX] = "";
    if (g_cfg.data_dir && !realpath(g_cfg.data_dir, dir))
        snprintf(dir, sizeof dir, "%s", g_cfg.data_dir);
    snprintf(s->instance_id, sizeof s->instance_id, "i-0%016" PRIx64,
             fnv1a(fnv1a(FNV_BASIS, g_cfg.account), dir));
    snprintf(s->ami_id, sizeof s->ami_id, "ami-0%016" PRIx64, fnv1a(FNV_BASIS, g_cfg.region));
    /* EC2's private DNS names: ip-A-B-C-D.ec2.internal in us-east-1,
     * ip-A-B-C-D.REGION.compute.internal elsewhere */
    char ip[sizeof PRIVATE_IP];
    memcpy(ip, PRIVATE_IP, sizeof ip);
    for (char *c = ip; *c; c++)
        if (*c == '.')
            *c = '-';
    if (!strcmp(g_cfg.region, "us-east-1"))
        snprintf(s->hostname, sizeof s->hostname, "ip-%s.ec2.internal", ip);
    else
        snprintf(s->hostname, sizeof s->hostname, "ip-%s.%s.compute.internal", ip, g_cfg.region);
    iso8601(time(NULL), s->started);
}

struct imds_server *imds_start(const char *host, int port, char *err, size_t errlen)
{
    size_t rlen = strlen(g_cfg.region);
    struct imds_server *s;
    int fd;

    /* the region goes into JSON and host names unescaped */
    if (!rlen || rlen > 32 || strspn(g_cfg.region, "abcdefghijklmnopqrstuvwxyz0123456789-") != rlen) {
        snprintf(err, errlen, "the region '%s' cannot be an EC2 instance's (lowercase letters, digits, '-')",
                 g_cfg.region);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    describe_instance(s);
    if (gnutls_rnd(GNUTLS_RND_KEY, s->key, sizeof s->key) < 0) {
        snprintf(err, errlen, "no random bytes for the token key");
        free(s);
        return NULL;
    }
    fd = open_listener(host, port, &s->port, err, errlen);
    if (fd < 0) {
        free(s);
        return NULL;
    }
    /* Answers are computed at once, so one polling thread serves them all;
     * MHD owns the socket from here and closes it when stopped. */
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC, 0, NULL, NULL,
                              on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_CONNECTION_TIMEOUT, IDLE_SECONDS, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot start libmicrohttpd for IMDS");
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

int imds_port(const struct imds_server *s)
{
    return s->port;
}

void imds_stop(struct imds_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd);
    free(s);
}
