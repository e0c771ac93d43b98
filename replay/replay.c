/* `tidepool replay`: the command line (amazon-kinesis-replay 0.1.0's flags,
 * plus 2.0.0's -streamArn and our -endpoint), the main loop that paces the
 * events, and the statistics the original prints. See replay.h for the
 * threads; the main loop does what StreamPopulator.populate does:
 *
 *   ingestion time = start + (event time - first event time) / speedup
 *
 * where start is when sending begins, after the buffer first filled (or the
 * data ended: fewer events than -bufferSize do not hang, unlike 0.1.0). */
#include "replay/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IGNORED_LINES_SHOWN 10
#define PROGRESS_MS 1000

volatile sig_atomic_t replay_stopping;

static const char USAGE[] =
    "usage: tidepool replay [options]\n"
    "\n"
    "Replays NDJSON events from S3 into a Kinesis data stream, faster than they\n"
    "happened by -speedup, as amazon-kinesis-replay does. Options take one dash or\n"
    "two, and \"-name value\" or \"-name=value\".\n"
    "\n"
    "  -streamName NAME             the stream (default taxi-trip-events)\n"
    "  -streamArn ARN               the stream by ARN, which also gives its region\n"
    "  -streamRegion REGION         the stream's region (default $AWS_REGION, else\n"
    "                               $AWS_DEFAULT_REGION, else us-east-1)\n"
    "  -bucketName NAME             the events' bucket (default aws-bigdata-blog)\n"
    "  -bucketRegion REGION         the bucket's region (default us-east-1)\n"
    "  -objectPrefix PREFIX         the events' key prefix (default\n"
    "                               artifacts/kinesis-analytics-taxi-consumer/taxi-trips.json.lz4/)\n"
    "  -endpoint URL                Kinesis and S3 (path-style), http(s)://HOST[:PORT],\n"
    "                               or \"aws\" for AWS's regional endpoints\n"
    "                               (default http://127.0.0.1:4566)\n"
    "  -speedup FACTOR              how much faster than the events happened (default 6480)\n"
    "  -timestampAttributeName NAME the event time, an ISO-8601 instant (default dropoff_datetime)\n"
    "  -seek INSTANT                skip events before this ISO-8601 instant\n"
    "  -aggregate                   send KPL-aggregated records\n"
    "  -noWatermark                 send no watermarks\n"
    "  -statisticsFrequency MS      print statistics every MS milliseconds (default 20000)\n"
    "  -bufferSize N                events held to re-sort by time (default 100000)\n"
    "  -maxOutstandingRecords N     records in flight at most (default 10000)\n"
    "  -noBackpressure              no limit on records in flight\n"
    "  -help                        this text\n"
    "\n"
    "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (dummy ones\n"
    "when unset, which tidepool accepts). The first SIGINT or SIGTERM stops reading and\n"
    "sends what is in flight; a second one quits at once.\n"
    "Exit status: 0 when every event was sent, 1 on an error, 2 on bad options,\n"
    "130 when interrupted.\n";

/* ---- time and logs ---- */

int64_t replay_clock_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct timespec replay_deadline(int ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void sleep_ms(int64_t ms)
{
    struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* The progress line lives on a terminal's stderr; a log line wipes it first
 * and the next refresh draws it again. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int progress_tty, progress_shown;

void replay_log(const char *level, const char *logger, const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;

    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&log_mu);
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = 0;
    }
    printf("%s [main] %-5s  %s - ", when, level, logger);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&log_mu);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&log_mu);
    fputs("\r\033[K", stderr);
    if (fmt) {
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    progress_shown = fmt != NULL;
    pthread_mutex_unlock(&log_mu);
}

/* ---- options ---- */

enum kind { K_STR, K_FLAG, K_SPEEDUP, K_MS, K_COUNT, K_INSTANT };

struct flag {
    const char *name;
    enum kind kind;
    size_t offset; /* into struct replay_opts */
    int negate;    /* K_FLAG: the option turns the member off */
    int given;
};

#define OPT(m) offsetof(struct replay_opts, m)

static struct flag flags[] = {
    {"streamName", K_STR, OPT(stream_name), 0, 0},
    {"streamArn", K_STR, OPT(stream_arn), 0, 0},
    {"streamRegion", K_STR, OPT(stream_region), 0, 0},
    {"bucketName", K_STR, OPT(bucket_name), 0, 0},
    {"bucketRegion", K_STR, OPT(bucket_region), 0, 0},
    {"objectPrefix", K_STR, OPT(object_prefix), 0, 0},
    {"endpoint", K_STR, OPT(kinesis_endpoint), 0, 0},
    {"speedup", K_SPEEDUP, OPT(speedup), 0, 0},
    {"timestampAttributeName", K_STR, OPT(ts_attr), 0, 0},
    {"seek", K_INSTANT, OPT(seek_ms), 0, 0},
    {"aggregate", K_FLAG, OPT(aggregate), 0, 0},
    {"noWatermark", K_FLAG, OPT(watermarks), 1, 0},
    {"statisticsFrequency", K_MS, OPT(stats_ms), 0, 0},
    {"bufferSize", K_COUNT, OPT(buffer_size), 0, 0},
    {"maxOutstandingRecords", K_COUNT, OPT(max_outstanding), 0, 0},
    {"noBackpressure", K_FLAG, OPT(backpressure), 1, 0},
    {"help", K_FLAG, 0, 0, 0},
};

#define FLAG_COUNT (sizeof flags / sizeof *flags)

static struct flag *flag_named(const char *name)
{
    for (size_t i = 0; i < FLAG_COUNT; i++)
        if (!strcmp(flags[i].name, name))
            return &flags[i];
    return NULL;
}

static int set_value(struct replay_opts *o, struct flag *f, const char *v)
{
    char *end;
    void *slot = (char *)o + f->offset;

    errno = 0;
    switch (f->kind) {
    case K_STR:
        if (!*v)
            return -1;
        *(const char **)slot = v;
        return 0;
    case K_SPEEDUP: {
        double d = strtod(v, &end);
        if (*end || end == v || errno || !(d > 0) || !isfinite(d))
            return -1;
        *(double *)slot = d;
        return 0;
    }
    case K_MS:
    case K_COUNT: {
        long n = strtol(v, &end, 10);
        if (*end || end == v || errno || n < 1 || (f->kind == K_COUNT && n > 100000000L))
            return -1;
        *(long *)slot = n;
        return 0;
    }
    case K_INSTANT:
        return replay_parse_instant(v, strlen(v), (int64_t *)slot);
    case K_FLAG:
        break;
    }
    return -1;
}

/* 0, 1 for -help, -1 after saying what is wrong. */
static int parse_args(int argc, char **argv, struct replay_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            fprintf(stderr, "tidepool replay: unexpected argument '%s' (see -help)\n", a);
            return -1;
        }
        a += a[1] == '-' ? 2 : 1;
        char name[64];
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(name, sizeof name, "%.*s", (int)n, a);
        struct flag *f = flag_named(name);
        if (!f || n >= sizeof name) {
            fprintf(stderr, "tidepool replay: unknown option '%s' (see -help)\n", argv[i]);
            return -1;
        }
        f->given = 1;
        if (f->kind == K_FLAG) {
            if (eq) {
                fprintf(stderr, "tidepool replay: -%s takes no value\n", f->name);
                return -1;
            }
            if (!strcmp(f->name, "help"))
                return 1;
            *(int *)((char *)o + f->offset) = !f->negate;
            continue;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v) {
            fprintf(stderr, "tidepool replay: -%s needs a value\n", f->name);
            return -1;
        }
        if (set_value(o, f, v)) {
            fprintf(stderr, "tidepool replay: invalid value '%s' for -%s\n", v, f->name);
            return -1;
        }
    }
    return 0;
}

/* -streamArn: arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME gives the
 * region and the name (which must agree with -streamRegion/-streamName). */
static int apply_arn(struct replay_opts *o, char *region, size_t rlen, char *name, size_t nlen)
{
    const char *a = o->stream_arn, *p[6];
    size_t i = 0;

    p[i++] = a;
    for (const char *c = a; *c && i < 6; c++)
        if (*c == ':')
            p[i++] = c + 1;
    if (i < 6 || strncmp(a, "arn:", 4) || strncmp(p[2], "kinesis:", 8) || p[4] - p[3] < 2 ||
        strncmp(p[5], "stream/", 7) || !p[5][7] || strchr(p[5] + 7, '/')) {
        fprintf(stderr, "tidepool replay: -streamArn %s is not a stream ARN "
                        "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)\n", a);
        return -1;
    }
    snprintf(region, rlen, "%.*s", (int)(p[4] - p[3] - 1), p[3]);
    snprintf(name, nlen, "%s", p[5] + 7);
    if ((flag_named("streamRegion")->given && strcmp(o->stream_region, region)) ||
        (flag_named("streamName")->given && strcmp(o->stream_name, name))) {
        fprintf(stderr, "tidepool replay: -streamArn %s disagrees with -streamName/-streamRegion\n", a);
        return -1;
    }
    o->stream_region = region;
    o->stream_name = name;
    return 0;
}

/* ---- the reader thread ---- */

struct reader {
    const struct replay_opts *o;
    struct aws_client *client;
    struct replay_buffer *buf;
    pthread_t thread;
    uint64_t seq;
    unsigned long ignored;
    int rc;
    char err[1024];
};

static int on_line(void *ctx, const char *line, size_t n)
{
    struct reader *r = ctx;
    const char *why;
    struct replay_event *e = replay_event_parse(line, n, r->o->ts_attr, r->seq++, &why);

    if (!e) {
        if (++r->ignored <= IGNORED_LINES_SHOWN)
            replay_log("WARN", "EventReader", "ignoring line (%s): %.*s%s", why, (int)(n > 200 ? 200 : n), line,
                       n > 200 ? "..." : "");
        if (r->ignored == IGNORED_LINES_SHOWN)
            replay_log("WARN", "EventReader", "further lines that are no events are ignored silently");
        return 0;
    }
    if (r->o->seek_ms != REPLAY_NO_TIME && e->ts_ms < r->o->seek_ms) {
        free(e);
        return 0;
    }
    return replay_buffer_put(r->buf, e) ? 1 : 0;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;

    r->rc = replay_s3_read(r->o, r->client, on_line, r, r->err, sizeof r->err);
    replay_buffer_finish(r->buf);
    return NULL;
}

/* ---- the main loop ---- */

struct run {
    const struct replay_opts *o;
    struct replay_shards *shards;
    struct replay_sender *sender;
    int64_t start, first_ts;
    int64_t gap_ms;       /* now - ingestion time of the latest event: the replay lag */
    int64_t latest_ts;    /* of the latest event sent, for the progress line */
    uint64_t sent, interval_sent, progress_sent;
    int64_t slot, progress_at;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The original's line: the event rate over the interval as
 * Math.round(1000.0 * count / statisticsFrequency), and the lag as
 * Duration.ofSeconds(gap.getSeconds()), which floors. */
static void statistics(struct run *r)
{
    char until[32], lag[32];
    int64_t acked = replay_shards_min_acked(r->shards);

    replay_format_instant(acked == REPLAY_NO_TIME ? 0 : acked, 0, until);
    replay_format_duration(floor_div(r->gap_ms, 1000), lag);
    replay_log("INFO", "StreamPopulator",
               "all events with dropoff time until %s have been sent (%.1f events/sec, %s replay lag)", until,
               (double)llround(1000.0 * (double)r->interval_sent / (double)r->o->stats_ms), lag);
    r->interval_sent = 0;
}

static void tick(struct run *r)
{
    int64_t now = replay_clock_ms();
    int64_t slot = (now - r->start) / r->o->stats_ms;

    if (slot != r->slot) {
        statistics(r);
        r->slot = slot;
    }
    if (progress_tty && now - r->progress_at >= PROGRESS_MS) {
        char when[32];
        replay_format_instant(r->latest_ts == REPLAY_NO_TIME ? 0 : r->latest_ts, 0, when);
        progress("replay: %" PRIu64 " events sent, %.0f events/sec, event time %s, %zu in flight", r->sent,
                 (double)(r->sent - r->progress_sent) * 1000.0 / (double)(now - r->progress_at), when,
                 replay_sender_in_flight(r->sender));
        r->progress_sent = r->sent;
        r->progress_at = now;
    }
}

/* Waits until due (monotonic ms), ticking; -1 when stopping or failed. */
static int wait_until(struct run *r, int64_t due)
{
    for (;;) {
        tick(r);
        if (replay_stopping || replay_sender_error(r->sender))
            return -1;
        int64_t now = replay_clock_ms();
        if (now >= due)
            return 0;
        sleep_ms(due - now < 100 ? due - now : 100);
    }
}

/* Sends the buffer's events, each at its time, until the data ends, an
 * interruption or a fatal error. */
static void replay_events(struct run *r, struct replay_buffer *buf)
{
    for (;;) {
        int done;
        struct replay_event *e = replay_buffer_take(buf, 100, &done);
        if (done)
            return;
        if (!e) { /* the reader is behind: keep the statistics going */
            if (wait_until(r, 0))
                return;
            continue;
        }
        if (r->first_ts == REPLAY_NO_TIME)
            r->first_ts = e->ts_ms;
        int64_t due = r->start + llround((double)(e->ts_ms - r->first_ts) / r->o->speedup);
        r->gap_ms = replay_clock_ms() - due;
        int64_t ts = e->ts_ms;
        if (wait_until(r, due)) {
            free(e);
            return;
        }
        if (replay_sender_submit(r->sender, e)) /* which freed it */
            return;
        r->sent++;
        r->interval_sent++;
        r->latest_ts = ts;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    if (replay_stopping)
        _exit(130);
    replay_stopping = 1;
}

/* Waits until the records in flight are acknowledged, or a fatal error,
 * keeping the statistics and the progress line alive. */
static void drain(struct run *r)
{
    int said = 0;

    while (replay_sender_drain(r->sender, 100) == 0) {
        if (replay_stopping && !said) {
            replay_log("INFO", "StreamPopulator", "interrupted: sending the %zu records in flight "
                       "(interrupt again to quit at once)", replay_sender_in_flight(r->sender));
            said = 1;
        }
        tick(r);
    }
}

static int run(struct replay_opts *o)
{
    char err[1024];
    struct aws_client *kc = NULL;
    struct reader rd = {.o = o};
    struct run r = {.o = o, .first_ts = REPLAY_NO_TIME, .latest_ts = REPLAY_NO_TIME};
    struct replay_buffer *buf = NULL;
    int status = 1, reading = 0;

    if (!(kc = aws_client_new(o->kinesis_endpoint, err, sizeof err)) ||
        !(rd.client = aws_client_new(o->s3_endpoint, err, sizeof err))) {
        fprintf(stderr, "tidepool replay: %s\n", err);
        goto out;
    }
    /* the stream must exist before anything is read */
    if (!(r.shards = replay_shards_open(o, kc, err, sizeof err))) {
        fprintf(stderr, "tidepool replay: %s\n", err);
        goto out;
    }
    if (!(buf = replay_buffer_new((size_t)o->buffer_size))) {
        fprintf(stderr, "tidepool replay: no memory for a buffer of %ld events\n", o->buffer_size);
        goto out;
    }
    rd.buf = buf;
    if (pthread_create(&rd.thread, NULL, reader_main, &rd)) {
        fprintf(stderr, "tidepool replay: cannot start the reader thread\n");
        goto out;
    }
    reading = 1;
    while (!replay_buffer_wait_filled(buf, 100) && !replay_stopping)
        ;
    if (replay_stopping) {
        replay_log("INFO", "StreamPopulator", "interrupted: no event has been sent");
        status = 130;
        goto out;
    }
    if (replay_buffer_size(buf) == 0) {
        replay_buffer_close(buf);
        pthread_join(rd.thread, NULL);
        reading = 0;
        if (rd.rc < 0)
            fprintf(stderr, "tidepool replay: %s\n", rd.err);
        else
            fprintf(stderr, "tidepool replay: found no events to replay in s3://%s/%s\n", o->bucket_name,
                    o->object_prefix);
        goto out;
    }
    if (!(r.sender = replay_sender_start(o, r.shards, o->kinesis_endpoint, err, sizeof err)) ||
        replay_shards_start(r.shards, o->kinesis_endpoint)) {
        fprintf(stderr, "tidepool replay: %s\n", r.sender ? "cannot start the shard thread" : err);
        goto out;
    }
    replay_log("INFO", "StreamPopulator", "starting to populate stream %s", o->stream_name);
    r.start = r.progress_at = replay_clock_ms();
    replay_events(&r, buf);

    /* stop reading, then send what is in flight */
    replay_buffer_close(buf);
    pthread_join(rd.thread, NULL);
    reading = 0;
    drain(&r);
    replay_shards_stop(r.shards);
    if (progress_tty)
        progress(NULL);
    statistics(&r);
    const char *failure = replay_sender_error(r.sender);
    uint64_t dropped = replay_sender_dropped(r.sender);
    if (failure) {
        fprintf(stderr, "tidepool replay: %s\n", failure);
    } else if (rd.rc < 0) {
        fprintf(stderr, "tidepool replay: %s\n", rd.err);
    } else if (dropped) {
        fprintf(stderr, "tidepool replay: %" PRIu64 " records could not be sent\n", dropped);
    } else if (replay_stopping) {
        replay_log("INFO", "StreamPopulator", "interrupted: %" PRIu64 " events have been sent",
                   replay_sender_acked(r.sender));
        status = 130;
    } else {
        replay_log("INFO", "StreamPopulator", "all events have been sent (%" PRIu64 ")",
                   replay_sender_acked(r.sender));
        status = 0;
    }
out:
    if (reading) {
        replay_buffer_close(buf);
        pthread_join(rd.thread, NULL);
    }
    if (r.sender)
        replay_sender_stop(r.sender);
    if (r.shards) {
        replay_shards_stop(r.shards);
        replay_shards_free(r.shards);
    }
    if (buf)
        replay_buffer_free(buf);
    aws_client_free(rd.client);
    aws_client_free(kc);
    return status;
}

int replay_main(int argc, char **argv)
{
    const char *region = getenv("AWS_REGION");
    char arn_region[64], arn_name[256], kinesis_aws[128], s3_aws[128];
    struct replay_opts o = {
        .stream_name = "taxi-trip-events",
        .stream_region = region && *region ? region : getenv("AWS_DEFAULT_REGION"),
        .bucket_name = "aws-bigdata-blog",
        .bucket_region = "us-east-1",
        .object_prefix = "artifacts/kinesis-analytics-taxi-consumer/taxi-trips.json.lz4/",
        .kinesis_endpoint = "http://127.0.0.1:4566",
        .ts_attr = "dropoff_datetime",
        .speedup = 6480,
        .seek_ms = REPLAY_NO_TIME,
        .stats_ms = 20000,
        .buffer_size = 100000,
        .max_outstanding = 10000,
        .watermarks = 1,
        .backpressure = 1,
    };
    if (!o.stream_region || !*o.stream_region)
        o.stream_region = "us-east-1";

    int rc = parse_args(argc, argv, &o);
    if (rc > 0)
        fputs(USAGE, stdout);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (o.stream_arn && apply_arn(&o, arn_region, sizeof arn_region, arn_name, sizeof arn_name))
        return 2;
    o.s3_endpoint = o.kinesis_endpoint;
    if (!strcmp(o.kinesis_endpoint, "aws")) {
        snprintf(kinesis_aws, sizeof kinesis_aws, "https://kinesis.%s.amazonaws.com", o.stream_region);
        snprintf(s3_aws, sizeof s3_aws, "https://s3.%s.amazonaws.com", o.bucket_region);
        o.kinesis_endpoint = kinesis_aws;
        o.s3_endpoint = s3_aws;
    }

    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    progress_tty = isatty(STDERR_FILENO);
    if (aws_http_init()) {
        fprintf(stderr, "tidepool replay: cannot start libcurl\n");
        return 1;
    }
    rc = run(&o);
    aws_http_cleanup();
    return rc;
}
