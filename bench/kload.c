/* kload: small load generator for bench/kinesis.sh, s3.sh and firehose.sh (plain
 * HTTP/1.1 keep-alive over raw sockets, no libraries). Modes:
 *
 *   kload getrecords PORT STREAM SHARDS READERS LIMIT TIMEOUT_S
 *     Each reader thread owns one connection and the shards i with
 *     i % READERS == reader. Per shard: GetShardIterator TRIM_HORIZON, then
 *     GetRecords {Limit} following NextShardIterator until a reply has no
 *     records. Records are counted by occurrences of "SequenceNumber" and the
 *     iterator is found by a string search: the body is never JSON-parsed.
 *     Prints one line of key=value results (and per-shard counts).
 *
 *   kload startup RUNS MATCH -- CMD ARGS...
 *     Runs CMD RUNS times; each time measures from just before fork/exec to
 *     the first stdout line containing MATCH (ms), then SIGTERMs it. If MATCH
 *     is "port:N", waits instead until 127.0.0.1:N accepts a TCP connection
 *     (for servers that print nothing useful). "%RUN%" in an argument is
 *     replaced by the run number (for a fresh data directory per run).
 *     Prints min/median/max.
 *
 *   kload s3put PORT BUCKET PREFIX COUNT CONNS BYTES TIMEOUT_S
 *     PUTs COUNT objects of BYTES random bytes under the keys PREFIX00000000,
 *     PREFIX00000001, ... over CONNS keep-alive connections (one thread
 *     each), path-style, unsigned (x-amz-content-sha256: UNSIGNED-PAYLOAD);
 *     stops early after TIMEOUT_S (capped=1). Prints key=value results.
 *
 *   kload s3list PORT BUCKET MAX_KEYS TIMEOUT_S
 *     Pages through BUCKET with ListObjectsV2 (max-keys=MAX_KEYS), following
 *     NextContinuationToken until IsTruncated is false; counts <Key>
 *     elements and checks the keys ascend. Prints key=value results.
 *
 *   kload putrate PORT FILE_PREFIX COUNT PER_REQUEST CONNS RATE SECONDS
 *     Sends the Kinesis PutRecords bodies FILE_PREFIX0.json ..
 *     FILE_PREFIX<COUNT-1>.json in turn over CONNS keep-alive connections
 *     (one thread each), paced so that PER_REQUEST records per request make
 *     RATE records/s, for SECONDS (bench/firehose.sh --rate). Request i is
 *     due at i * PER_REQUEST / RATE seconds; a thread that falls behind sends
 *     at once (behind_ms is the worst). Every request started is waited for,
 *     so acked counts every record the server stored. Records are counted
 *     from "FailedRecordCount". Prints key=value results.
 *
 *   kload mixed PORT STREAM BUCKET FIREHOSE CONNS SECONDS WAL_FILE
 *     Mixed writes and reads for SECONDS over CONNS keep-alive connections
 *     (one thread each), every thread cycling through: Kinesis PutRecords
 *     (50 records of 1 KiB), S3 PUT of 64 KiB, S3 GET of the thread's
 *     previous object, Firehose PutRecordBatch (50 records of 1 KiB).
 *     Meanwhile it samples the size of WAL_FILE every 100 ms. Prints
 *     key=value results: requests/s, latency p50/p99/max and the WAL's
 *     largest and last size (bench/wal.sh).
 *
 * Build: gcc -O2 -pthread -o kload kload.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* ---- HTTP/1.1 client ---- */

struct conn {
    int port, fd;
    char *buf;          /* received bytes; [0, len) valid */
    size_t len, cap;
    char *body;         /* decoded body of the last response */
    size_t body_len, body_cap;
    int status;
};

static void reserve(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 65536;
    while (c < need)
        c *= 2;
    *p = realloc(*p, c);
    if (!*p)
        die("out of memory");
    *cap = c;
}

/* Reads more bytes into c->buf; 0 on EOF/error. */
static int fill(struct conn *c)
{
    reserve(&c->buf, &c->cap, c->len + 1024 * 1024);
    ssize_t n;
    do
        n = read(c->fd, c->buf + c->len, c->cap - c->len);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    c->len += (size_t)n;
    return 1;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request/response on the keep-alive connection (reconnecting once if the
 * server closed it): sends HEAD (the full request head, ending in a blank
 * line) and BODY. Returns 0 with c->status and c->body set, -1 on error. */
static int http_request(struct conn *c, const char *head, size_t head_len, const char *body, size_t body_len)
{
    int retried = 0;
again:
    if (c->fd < 0 && (c->fd = tcp_connect(c->port)) < 0)
        return -1;
    if (write_all(c->fd, head, head_len) || (body_len && write_all(c->fd, body, body_len)))
        goto reconnect;
    c->len = 0;
    char *end;
    while (!(end = memmem(c->buf ? c->buf : "", c->len, "\r\n\r\n", 4)))
        if (!fill(c))
            goto reconnect;
    size_t hlen = (size_t)(end - c->buf) + 4;
    c->status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &c->status) != 1)
        return -1;
    /* headers, lower-cased copy for lookups */
    char *h = strndup(c->buf, hlen);
    for (char *p = h; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p += 32;
    long clen = -1;
    char *p = strstr(h, "\r\ncontent-length:");
    if (p)
        clen = strtol(p + 17, NULL, 10);
    int chunked = strstr(h, "\r\ntransfer-encoding: chunked") != NULL;
    int closing = strstr(h, "\r\nconnection: close") != NULL;
    free(h);
    consume(c, hlen);
    c->body_len = 0;
    if (chunked) {
        for (;;) {
            char *eol;
            while (!(eol = memmem(c->buf, c->len, "\r\n", 2)))
                if (!fill(c))
                    goto reconnect;
            size_t sz = strtoul(c->buf, NULL, 16);
            consume(c, (size_t)(eol - c->buf) + 2);
            while (c->len < sz + 2)
                if (!fill(c))
                    goto reconnect;
            reserve(&c->body, &c->body_cap, c->body_len + sz + 1);
            memcpy(c->body + c->body_len, c->buf, sz);
            c->body_len += sz;
            consume(c, sz + 2);
            if (sz == 0)
                break; /* (no trailers expected) */
        }
    } else if (clen >= 0) {
        while (c->len < (size_t)clen)
            if (!fill(c))
                goto reconnect;
        reserve(&c->body, &c->body_cap, (size_t)clen + 1);
        memcpy(c->body, c->buf, (size_t)clen);
        c->body_len = (size_t)clen;
        consume(c, (size_t)clen);
    } else {
        return -1;
    }
    c->body[c->body_len] = 0;
    if (closing) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
reconnect:
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (retried++)
        return -1;
    goto again;
}

/* A Kinesis JSON request (POST / with X-Amz-Target). */
static int request(struct conn *c, const char *op, const char *body, size_t body_len)
{
    char hdr[1024];
    int hl = snprintf(hdr, sizeof hdr,
                      "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "X-Amz-Target: Kinesis_20131202.%s\r\n"
                      "Content-Type: application/x-amz-json-1.1\r\n"
                      "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                      "SignedHeaders=host;x-amz-date, Signature=00\r\n"
                      "X-Amz-Date: 20260101T000000Z\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      c->port, op, body_len);
    return http_request(c, hdr, (size_t)hl, body, body_len);
}

/* Copies the string value of "key":"..." found in [from, end) into out. */
static int find_str(const char *from, const char *end, const char *key, char *out, size_t outlen)
{
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = memmem(from, (size_t)(end - from), pat, (size_t)pl);
    if (!p)
        return -1;
    p += pl;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(q - p) >= outlen)
        return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return 0;
}

/* ---- getrecords ---- */

static struct {
    int port, shards, readers;
    long limit;
    const char *stream;
    double deadline;
} G;

struct reader {
    pthread_t t;
    int id;
    long records, requests, non200, errors;
    double bytes;
    long *per_shard;
    char err[512];
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct conn c = {.port = G.port, .fd = -1};
    char body[8192], it[4096];
    for (int s = r->id; s < G.shards; s += G.readers) {
        snprintf(body, sizeof body,
                 "{\"StreamName\":\"%s\",\"ShardId\":\"shardId-%012d\",\"ShardIteratorType\":\"TRIM_HORIZON\"}",
                 G.stream, s);
        r->requests++;
        if (request(&c, "GetShardIterator", body, strlen(body))) {
            r->errors++;
            snprintf(r->err, sizeof r->err, "GetShardIterator shard %d: connection error", s);
            continue;
        }
        if (c.status != 200 || find_str(c.body, c.body + c.body_len, "ShardIterator", it, sizeof it)) {
            r->non200 += c.status != 200;
            snprintf(r->err, sizeof r->err, "GetShardIterator shard %d: HTTP %d %.300s", s, c.status, c.body);
            continue;
        }
        for (;;) {
            if (now_s() > G.deadline) {
                snprintf(r->err, sizeof r->err, "timeout while reading shard %d", s);
                break;
            }
            int bl = snprintf(body, sizeof body, "{\"ShardIterator\":\"%s\",\"Limit\":%ld}", it, G.limit);
            r->requests++;
            if (request(&c, "GetRecords", body, (size_t)bl)) {
                r->errors++;
                snprintf(r->err, sizeof r->err, "GetRecords shard %d: connection error", s);
                break;
            }
            r->bytes += (double)c.body_len;
            if (c.status != 200) {
                r->non200++;
                snprintf(r->err, sizeof r->err, "GetRecords shard %d: HTTP %d %.300s", s, c.status, c.body);
                break;
            }
            long n = 0;
            const char *p = c.body, *end = c.body + c.body_len;
            while ((p = memmem(p, (size_t)(end - p), "\"SequenceNumber\"", 16))) {
                n++;
                p += 16;
            }
            r->records += n;
            r->per_shard[s] += n;
            /* NextShardIterator follows the records: look near the end first. */
            const char *tail = c.body_len > 4096 ? end - 4096 : c.body;
            if (find_str(tail, end, "NextShardIterator", it, sizeof it) &&
                find_str(c.body, end, "NextShardIterator", it, sizeof it))
                break; /* closed shard, drained */
            if (n == 0)
                break; /* caught up with the tip */
        }
    }
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    free(c.body);
    return NULL;
}

static int cmd_getrecords(int argc, char **argv)
{
    if (argc != 8)
        die("usage: kload getrecords PORT STREAM SHARDS READERS LIMIT TIMEOUT_S");
    G.port = atoi(argv[2]);
    G.stream = argv[3];
    G.shards = atoi(argv[4]);
    G.readers = atoi(argv[5]);
    G.limit = atol(argv[6]);
    double t0 = now_s();
    G.deadline = t0 + atof(argv[7]);
    long *per_shard = calloc((size_t)G.shards, sizeof *per_shard);
    struct reader *rs = calloc((size_t)G.readers, sizeof *rs);
    for (int i = 0; i < G.readers; i++) {
        rs[i].id = i;
        rs[i].per_shard = per_shard;
        pthread_create(&rs[i].t, NULL, reader_main, &rs[i]);
    }
    long records = 0, requests = 0, non200 = 0, errors = 0;
    double bytes = 0;
    for (int i = 0; i < G.readers; i++) {
        pthread_join(rs[i].t, NULL);
        records += rs[i].records;
        requests += rs[i].requests;
        non200 += rs[i].non200;
        errors += rs[i].errors;
        bytes += rs[i].bytes;
        if (rs[i].err[0])
            fprintf(stderr, "kload: reader %d: %s\n", i, rs[i].err);
    }
    double el = now_s() - t0;
    printf("records=%ld requests=%ld non200=%ld errors=%ld seconds=%.3f records_per_s=%.0f MB_per_s=%.1f "
           "shards=",
           records, requests, non200, errors, el, records / el, bytes / el / 1e6);
    for (int s = 0; s < G.shards; s++)
        printf("%s%ld", s ? "," : "", per_shard[s]);
    printf("\n");
    return non200 || errors || rs[0].err[0] ? 2 : 0;
}

/* ---- putrate ---- */

static struct {
    int port, count, per;
    double t0, interval, end;
    long next; /* next request index (atomic) */
    char **bodies;
    size_t *lens;
} P;

struct pacer {
    pthread_t t;
    long requests, non2xx, errors, failed;
    double behind;
    char err[512];
};

static void *pacer_main(void *arg)
{
    struct pacer *w = arg;
    struct conn c = {.port = P.port, .fd = -1};
    for (;;) {
        long i = __atomic_fetch_add(&P.next, 1, __ATOMIC_RELAXED);
        double due = P.t0 + (double)i * P.interval;
        if (due >= P.end)
            break;
        double now = now_s();
        if (due > now) {
            struct timespec ts = {(time_t)(due - now), (long)((due - now - (time_t)(due - now)) * 1e9)};
            nanosleep(&ts, NULL);
        } else if (now - due > w->behind) {
            w->behind = now - due;
        }
        int b = (int)(i % P.count);
        w->requests++;
        if (request(&c, "PutRecords", P.bodies[b], P.lens[b])) {
            w->errors++;
            snprintf(w->err, sizeof w->err, "PutRecords %ld: connection error", i);
            if (w->errors > 10)
                break;
            continue;
        }
        if (c.status / 100 != 2) {
            w->non2xx++;
            snprintf(w->err, sizeof w->err, "PutRecords %ld: HTTP %d %.300s", i, c.status, c.body);
            continue;
        }
        const char *p = memmem(c.body, c.body_len, "\"FailedRecordCount\":", 20);
        long f = p ? strtol(p + 20, NULL, 10) : 0;
        if (f) {
            w->failed += f;
            snprintf(w->err, sizeof w->err, "PutRecords %ld: %ld records failed", i, f);
        }
    }
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    free(c.body);
    return NULL;
}

static int cmd_putrate(int argc, char **argv)
{
    if (argc != 9)
        die("usage: kload putrate PORT FILE_PREFIX COUNT PER_REQUEST CONNS RATE SECONDS");
    P.port = atoi(argv[2]);
    P.count = atoi(argv[4]);
    P.per = atoi(argv[5]);
    int conns = atoi(argv[6]);
    double rate = atof(argv[7]), secs = atof(argv[8]);
    if (P.count < 1 || P.per < 1 || conns < 1 || rate <= 0 || secs <= 0)
        die("putrate: COUNT, PER_REQUEST, CONNS, RATE and SECONDS must be positive");
    P.bodies = calloc((size_t)P.count, sizeof *P.bodies);
    P.lens = calloc((size_t)P.count, sizeof *P.lens);
    for (int i = 0; i < P.count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%d.json", argv[3], i);
        FILE *f = fopen(path, "rb");
        if (!f)
            die("cannot open %s", path);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        P.bodies[i] = malloc((size_t)n + 1);
        if (fread(P.bodies[i], 1, (size_t)n, f) != (size_t)n)
            die("cannot read %s", path);
        P.lens[i] = (size_t)n;
        fclose(f);
    }
    P.interval = P.per / rate;
    P.t0 = now_s();
    P.end = P.t0 + secs;
    struct pacer *ws = calloc((size_t)conns, sizeof *ws);
    for (int i = 0; i < conns; i++)
        pthread_create(&ws[i].t, NULL, pacer_main, &ws[i]);
    long requests = 0, non2xx = 0, errors = 0, failed = 0;
    double behind = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(ws[i].t, NULL);
        requests += ws[i].requests;
        non2xx += ws[i].non2xx;
        errors += ws[i].errors;
        failed += ws[i].failed;
        if (ws[i].behind > behind)
            behind = ws[i].behind;
        if (ws[i].err[0])
            fprintf(stderr, "kload: sender %d: %s\n", i, ws[i].err);
    }
    double el = now_s() - P.t0;
    long acked = (requests - non2xx - errors) * P.per - failed;
    printf("requests=%ld non2xx=%ld errors=%ld failed_records=%ld acked=%ld seconds=%.3f records_per_s=%.0f "
           "behind_ms=%.0f\n",
           requests, non2xx, errors, failed, acked, el, acked / el, behind * 1000);
    return non2xx || errors || failed ? 2 : 0;
}

/* ---- S3: s3put, s3list ---- */

static struct {
    int port, conns, bytes;
    long count;
    const char *bucket, *prefix;
    double deadline;
    long next; /* next key index to PUT (atomic) */
    char *data;
} S;

struct putter {
    pthread_t t;
    long puts, requests, non2xx, errors;
    char err[512];
};

static void *putter_main(void *arg)
{
    struct putter *w = arg;
    struct conn c = {.port = S.port, .fd = -1};
    char head[1024];
    for (;;) {
        if (now_s() > S.deadline)
            break;
        long i = __atomic_fetch_add(&S.next, 1, __ATOMIC_RELAXED);
        if (i >= S.count)
            break;
        int hl = snprintf(head, sizeof head,
                          "PUT /%s/%s%08ld HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
                          "Content-Type: application/octet-stream\r\n"
                          "Content-Length: %d\r\n\r\n",
                          S.bucket, S.prefix, i, S.port, S.bytes);
        w->requests++;
        if (http_request(&c, head, (size_t)hl, S.data, (size_t)S.bytes)) {
            w->errors++;
            snprintf(w->err, sizeof w->err, "PUT %s%08ld: connection error", S.prefix, i);
            if (w->errors > 10)
                break;
            continue;
        }
        if (c.status / 100 != 2) {
            w->non2xx++;
            snprintf(w->err, sizeof w->err, "PUT %s%08ld: HTTP %d %.300s", S.prefix, i, c.status, c.body);
            continue;
        }
        w->puts++;
    }
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    free(c.body);
    return NULL;
}

/* kload s3put PORT BUCKET PREFIX COUNT CONNS BYTES TIMEOUT_S: PUTs the keys
 * PREFIX00000000 .. PREFIX<COUNT-1> (BYTES random bytes each) over CONNS
 * keep-alive connections, stopping early after TIMEOUT_S. */
static int cmd_s3put(int argc, char **argv)
{
    if (argc != 9)
        die("usage: kload s3put PORT BUCKET PREFIX COUNT CONNS BYTES TIMEOUT_S");
    S.port = atoi(argv[2]);
    S.bucket = argv[3];
    S.prefix = argv[4];
    S.count = atol(argv[5]);
    S.conns = atoi(argv[6]);
    S.bytes = atoi(argv[7]);
    double t0 = now_s();
    S.deadline = t0 + atof(argv[8]);
    S.data = malloc((size_t)S.bytes + 1);
    srand((unsigned)getpid());
    for (int i = 0; i < S.bytes; i++)
        S.data[i] = (char)(rand() & 0xff);
    struct putter *ws = calloc((size_t)S.conns, sizeof *ws);
    for (int i = 0; i < S.conns; i++)
        pthread_create(&ws[i].t, NULL, putter_main, &ws[i]);
    long puts = 0, requests = 0, non2xx = 0, errors = 0;
    for (int i = 0; i < S.conns; i++) {
        pthread_join(ws[i].t, NULL);
        puts += ws[i].puts;
        requests += ws[i].requests;
        non2xx += ws[i].non2xx;
        errors += ws[i].errors;
        if (ws[i].err[0])
            fprintf(stderr, "kload: putter %d: %s\n", i, ws[i].err);
    }
    double el = now_s() - t0;
    int capped = puts + non2xx + errors < S.count;
    printf("puts=%ld requests=%ld non2xx=%ld errors=%ld seconds=%.3f puts_per_s=%.0f capped=%d\n", puts, requests,
           non2xx, errors, el, puts / el, capped);
    return non2xx || errors ? 2 : 0;
}

/* Percent-encodes s (everything but unreserved characters) into out. */
static void url_encode(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = 0;
}

/* Copies the text of <TAG>...</TAG> found in [from, end) into out. */
static int find_xml(const char *from, const char *end, const char *tag, char *out, size_t outlen)
{
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "<%s>", tag);
    const char *p = memmem(from, (size_t)(end - from), pat, (size_t)pl);
    if (!p)
        return -1;
    p += pl;
    const char *q = memchr(p, '<', (size_t)(end - p));
    if (!q || (size_t)(q - p) >= outlen)
        return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return 0;
}

/* kload s3list PORT BUCKET MAX_KEYS TIMEOUT_S: pages through the bucket with
 * ListObjectsV2 (max-keys=MAX_KEYS) following NextContinuationToken until
 * IsTruncated is false. Keys are counted by occurrences of <Key> and checked
 * to come in ascending order across the whole listing. */
static int cmd_s3list(int argc, char **argv)
{
    if (argc != 6)
        die("usage: kload s3list PORT BUCKET MAX_KEYS TIMEOUT_S");
    int port = atoi(argv[2]);
    const char *bucket = argv[3];
    long max_keys = atol(argv[4]);
    double t0 = now_s(), deadline = t0 + atof(argv[5]);
    struct conn c = {.port = port, .fd = -1};
    char head[8192], token[4096] = "", etoken[4096 * 3 + 1], last[1024] = "", key[1024], err[512] = "";
    long keys = 0, pages = 0, non200 = 0, errors = 0, order_errors = 0;
    double bytes = 0, slowest = 0;
    int complete = 0;
    for (;;) {
        if (now_s() > deadline) {
            snprintf(err, sizeof err, "timeout after %ld keys", keys);
            break;
        }
        url_encode(token, etoken, sizeof etoken);
        int hl = snprintf(head, sizeof head,
                          "GET /%s?list-type=2&max-keys=%ld%s%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", bucket,
                          max_keys, token[0] ? "&continuation-token=" : "", etoken, port);
        double p0 = now_s();
        pages++;
        if (http_request(&c, head, (size_t)hl, NULL, 0)) {
            errors++;
            snprintf(err, sizeof err, "page %ld: connection error", pages);
            break;
        }
        if (now_s() - p0 > slowest)
            slowest = now_s() - p0;
        bytes += (double)c.body_len;
        if (c.status != 200) {
            non200++;
            snprintf(err, sizeof err, "page %ld: HTTP %d %.300s", pages, c.status, c.body);
            break;
        }
        const char *p = c.body, *end = c.body + c.body_len;
        while ((p = memmem(p, (size_t)(end - p), "<Key>", 5))) {
            if (find_xml(p, end, "Key", key, sizeof key) == 0) {
                if (last[0] && strcmp(key, last) <= 0)
                    order_errors++;
                memcpy(last, key, sizeof last);
            }
            keys++;
            p += 5;
        }
        char trunc[16] = "";
        find_xml(c.body, end, "IsTruncated", trunc, sizeof trunc);
        if (strcmp(trunc, "true")) {
            complete = 1;
            break;
        }
        if (find_xml(c.body, end, "NextContinuationToken", token, sizeof token)) {
            snprintf(err, sizeof err, "page %ld: IsTruncated but no NextContinuationToken", pages);
            break;
        }
    }
    double el = now_s() - t0;
    if (c.fd >= 0)
        close(c.fd);
    if (err[0])
        fprintf(stderr, "kload: %s\n", err);
    printf("keys=%ld pages=%ld non200=%ld errors=%ld order_errors=%ld complete=%d seconds=%.3f keys_per_s=%.0f "
           "MB_per_s=%.1f slowest_page_ms=%.1f\n",
           keys, pages, non200, errors, order_errors, complete, el, keys / el, bytes / el / 1e6, slowest * 1000);
    return non200 || errors || order_errors || !complete ? 2 : 0;
}

/* ---- startup ---- */

/* ---- mixed: writes and reads of every service, with the WAL's size ---- */

#define MIXED_RECORDS 50
#define MIXED_RECORD_BYTES 1024
#define MIXED_OBJECT_BYTES 65536

static struct {
    int port, conns;
    const char *stream, *bucket, *firehose, *wal;
    double deadline;
    char *kinesis_body, *firehose_body, *object;
    size_t kinesis_len, firehose_len;
    volatile int done;
    long long wal_max, wal_last;
} M;

struct mixer {
    pthread_t t;
    int no;
    long requests, non2xx, errors;
    double *ms;   /* latency of each request */
    size_t n_ms, cap_ms;
    char err[512];
};

/* PutRecords / PutRecordBatch bodies: MIXED_RECORDS records of random base64. */
static char *records_body(const char *head, const char *name, int with_pk, size_t *len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = 256 + MIXED_RECORDS * (MIXED_RECORD_BYTES / 3 * 4 + 64);
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, head, name);
    for (int r = 0; r < MIXED_RECORDS; r++) {
        o += (size_t)snprintf(b + o, cap - o, "%s{\"Data\":\"", r ? "," : "");
        for (int i = 0; i < MIXED_RECORD_BYTES / 3 * 4; i++) /* whole base64 quanta */
            b[o++] = b64[rand() & 63];
        o += (size_t)(with_pk ? snprintf(b + o, cap - o, "\",\"PartitionKey\":\"pk-%d-%d\"}", r, rand())
                              : snprintf(b + o, cap - o, "\"}"));
    }
    o += (size_t)snprintf(b + o, cap - o, "]}");
    *len = o;
    return b;
}

static void mixer_lat(struct mixer *w, double ms)
{
    if (w->n_ms == w->cap_ms) {
        w->cap_ms = w->cap_ms ? w->cap_ms * 2 : 4096;
        w->ms = realloc(w->ms, w->cap_ms * sizeof *w->ms);
        if (!w->ms)
            die("out of memory");
    }
    w->ms[w->n_ms++] = ms;
}

static void *mixer_main(void *arg)
{
    struct mixer *w = arg;
    struct conn c = {.port = M.port, .fd = -1};
    char head[1024];
    for (long n = 0; now_s() < M.deadline; n++) {
        const char *body = NULL;
        size_t body_len = 0;
        int hl;
        switch (n % 4) {
        case 0:
            hl = snprintf(head, sizeof head,
                          "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                          "Content-Type: application/x-amz-json-1.1\r\n"
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n"
                          "Content-Length: %zu\r\n\r\n", M.port, M.kinesis_len);
            body = M.kinesis_body;
            body_len = M.kinesis_len;
            break;
        case 1:
        case 2:
            hl = snprintf(head, sizeof head,
                          "%s /%s/m%d-%ld HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n"
                          "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nContent-Length: %d\r\n\r\n",
                          n % 4 == 1 ? "PUT" : "GET", M.bucket, w->no, n / 4, M.port,
                          n % 4 == 1 ? MIXED_OBJECT_BYTES : 0);
            if (n % 4 == 1) {
                body = M.object;
                body_len = MIXED_OBJECT_BYTES;
            }
            break;
        default:
            hl = snprintf(head, sizeof head,
                          "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\n"
                          "Content-Type: application/x-amz-json-1.1\r\n"
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/firehose/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n"
                          "Content-Length: %zu\r\n\r\n", M.port, M.firehose_len);
            body = M.firehose_body;
            body_len = M.firehose_len;
        }
        double t0 = now_s();
        w->requests++;
        if (http_request(&c, head, (size_t)hl, body, body_len)) {
            w->errors++;
            snprintf(w->err, sizeof w->err, "request %ld: connection error", n);
            if (w->errors > 10)
                break;
            continue;
        }
        mixer_lat(w, (now_s() - t0) * 1000);
        if (c.status / 100 != 2) {
            w->non2xx++;
            snprintf(w->err, sizeof w->err, "request %ld: HTTP %d %.300s", n, c.status, c.body);
        }
    }
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    free(c.body);
    return NULL;
}

static void *wal_sampler(void *arg)
{
    (void)arg;
    while (!M.done) {
        struct stat st;
        M.wal_last = stat(M.wal, &st) == 0 ? (long long)st.st_size : 0;
        if (M.wal_last > M.wal_max)
            M.wal_max = M.wal_last;
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b);

/* kload mixed PORT STREAM BUCKET FIREHOSE CONNS SECONDS WAL_FILE */
static int cmd_mixed(int argc, char **argv)
{
    if (argc != 9)
        die("usage: kload mixed PORT STREAM BUCKET FIREHOSE CONNS SECONDS WAL_FILE");
    M.port = atoi(argv[2]);
    M.stream = argv[3];
    M.bucket = argv[4];
    M.firehose = argv[5];
    M.conns = atoi(argv[6]);
    M.wal = argv[8];
    srand((unsigned)getpid());
    M.kinesis_body = records_body("{\"StreamName\":\"%s\",\"Records\":[", M.stream, 1, &M.kinesis_len);
    M.firehose_body = records_body("{\"DeliveryStreamName\":\"%s\",\"Records\":[", M.firehose, 0, &M.firehose_len);
    M.object = malloc(MIXED_OBJECT_BYTES);
    for (int i = 0; i < MIXED_OBJECT_BYTES; i++)
        M.object[i] = (char)(rand() & 0xff);
    double t0 = now_s();
    M.deadline = t0 + atof(argv[7]);
    pthread_t sampler;
    pthread_create(&sampler, NULL, wal_sampler, NULL);
    struct mixer *ws = calloc((size_t)M.conns, sizeof *ws);
    for (int i = 0; i < M.conns; i++) {
        ws[i].no = i;
        pthread_create(&ws[i].t, NULL, mixer_main, &ws[i]);
    }
    long requests = 0, non2xx = 0, errors = 0;
    size_t n = 0;
    for (int i = 0; i < M.conns; i++) {
        pthread_join(ws[i].t, NULL);
        requests += ws[i].requests;
        non2xx += ws[i].non2xx;
        errors += ws[i].errors;
        n += ws[i].n_ms;
        if (ws[i].err[0])
            fprintf(stderr, "kload: mixer %d: %s\n", i, ws[i].err);
    }
    double el = now_s() - t0;
    M.done = 1;
    pthread_join(sampler, NULL);
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < M.conns; i++) {
        memcpy(all + k, ws[i].ms, ws[i].n_ms * sizeof *all);
        k += ws[i].n_ms;
    }
    qsort(all, n, sizeof *all, cmp_d);
    printf("requests=%ld non2xx=%ld errors=%ld seconds=%.1f req_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
           "wal_max_mib=%.1f wal_last_mib=%.1f\n",
           requests, non2xx, errors, el, requests / el, n ? all[n / 2] : 0, n ? all[n * 99 / 100] : 0,
           n ? all[n - 1] : 0, M.wal_max / 1048576.0, M.wal_last / 1048576.0);
    return non2xx || errors ? 2 : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_startup(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--"))
        die("usage: kload startup RUNS MATCH -- CMD ARGS...");
    int runs = atoi(argv[2]);
    const char *match = argv[3];
    int port = !strncmp(match, "port:", 5) ? atoi(match + 5) : 0;
    double *ms = calloc((size_t)runs, sizeof *ms);
    for (int i = 0; i < runs; i++) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC))
            die("pipe: %s", strerror(errno));
        char **av = calloc((size_t)argc, sizeof *av);
        for (int a = 5; a < argc; a++) {
            char *m = strstr(argv[a], "%RUN%");
            if (m) {
                size_t n = strlen(argv[a]) + 16;
                av[a - 5] = malloc(n);
                snprintf(av[a - 5], n, "%.*s%d%s", (int)(m - argv[a]), argv[a], i + 1, m + 5);
            } else {
                av[a - 5] = argv[a];
            }
        }
        double t0 = now_s();
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(pfd[1], 1);
            if (devnull >= 0)
                dup2(devnull, 2); /* keep the servers' log lines out of the report */
            execvp(av[0], av);
            _exit(127);
        }
        close(pfd[1]);
        char buf[8192];
        size_t len = 0;
        int ok = 0;
        while (!ok && now_s() - t0 < 20) {
            if (port) {
                int fd = tcp_connect(port);
                if (fd >= 0) {
                    close(fd);
                    ok = 1;
                    break;
                }
                /* drain stdout so the child never blocks on it */
                struct pollfd p = {pfd[0], POLLIN, 0};
                if (poll(&p, 1, 1) > 0 && read(pfd[0], buf, sizeof buf) <= 0)
                    break;
                continue;
            }
            ssize_t n = read(pfd[0], buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = 0;
            if (strstr(buf, match))
                ok = 1;
            if (len > sizeof buf - 512)
                len = 0;
        }
        ms[i] = (now_s() - t0) * 1000;
        kill(pid, SIGTERM);
        int st;
        waitpid(pid, &st, 0);
        close(pfd[0]);
        if (!ok)
            die("run %d: %s did not become ready", i + 1, argv[5]);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_d);
    printf("runs=%d min_ms=%.1f median_ms=%.1f max_ms=%.1f\n", runs, ms[0], ms[runs / 2], ms[runs - 1]);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "getrecords"))
        return cmd_getrecords(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "startup"))
        return cmd_startup(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "s3put"))
        return cmd_s3put(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "s3list"))
        return cmd_s3list(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "putrate"))
        return cmd_putrate(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "mixed"))
        return cmd_mixed(argc, argv);
    die("usage: kload getrecords ... | kload startup ... | kload s3put ... | kload s3list ... | kload putrate ... | "
        "kload mixed ...");
    return 1;
}
