/* The tidepool binary: command-line parsing and the `serve` life cycle
 * (open storage → start HTTP → print the ready line → wait for SIGTERM/SIGINT
 * → stop accepting, finish in-flight requests → close SQLite). */
#include "server/runtime/config.h"
#include "server/net/auth.h"
#include "server/firehose/firehose_engine.h"
#include "server/services.h"
#include "server/init/hosts.h"
#include "server/net/http.h"
#include "server/imds/imds.h"
#include "server/init/init.h"
#include "server/firehose/lambda.h"
#include "replay/replay.h"
#include "server/net/tls.h"
#include "server/init/workshop_data.h"
#include "storage/db.h"
#include "storage/firehose.h"
#include "storage/metrics.h"
#include "storage/streams.h"


#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
    "usage: tidepool <command> [options]\n"
    "\n"
    "A local AWS emulator: Kinesis Data Streams, Data Firehose and S3.\n"
    "\n"
    "commands:\n"
    "  serve            run the server\n"
    "  replay           replay S3 events into a Kinesis stream (tidepool replay -help)\n"
    "  hosts            print hosts-file lines sending AWS host names to tidepool (tidepool hosts --help)\n"
    "\n"
    "serve options:\n"
    "  --host HOST            address to bind (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --port N               port (default 4566; 0 picks a free one)\n"
    "  --tls-port N           also serve HTTPS on port N (0 picks a free one), with certificates\n"
    "                         from a local CA kept in DATA/tls/ca.pem\n"
    "  --data DIR             data directory (default ./data, created if missing)\n"
    "  --in-memory            keep nothing: a throw-away database, removed at exit\n"
    "  --region REGION        region when a request names none (default us-east-1)\n"
    "  --account ID           12-digit account id in ARNs (default 000000000000)\n"
    "  --log-level LEVEL      error, warn, info or debug (default info)\n"
    "  --stream-delay-ms N    how long streams stay CREATING/UPDATING/DELETING (default 0)\n"
    "  --shard-limit N        open shards per region (default 500)\n"
    "  --s3-domain DOMAIN     also take Host: BUCKET.DOMAIN as virtual-hosted S3 (repeatable, up to 8)\n"
    "  --lambda NAME=HOOK     run HOOK where Firehose invokes Lambda function NAME (repeatable);\n"
    "                         HOOK is exec:COMMAND, http(s)://URL or builtin:NAME\n"
    "                         (builtins: " LAMBDA_BUILTINS ")\n"
    "  --lambda-timeout-ms N  how long an exec or http hook may run (default 60000)\n"
    "  --init FILE            a JSON file of what to create at start-up if absent: lambdas,\n"
    "                         buckets, streams, deliveryStreams, datasets (see README)\n"
    "  --preset workshop      what the Beam-on-KDA workshop's stack provides: the taxi dataset in\n"
    "                         s3://" WORKSHOP_BUCKET "/…, the output bucket, EnrichEventsLambda\n"
    "  --trips N              trips in the workshop dataset (default 150000, at least 100000)\n"
    "  --auth FILE            verify request signatures against the access keys in FILE (JSON, see\n"
    "                         README); without it (nor TIDEPOOL_AUTH=FILE) any credentials are taken\n"
    "  --imds-port N          also serve EC2 instance metadata (region, role credentials) on port N\n"
    "                         (0 picks a free one); point AWS_EC2_METADATA_SERVICE_ENDPOINT at it\n"
    "  --max-connections N    connections served at once (default 2048); more wait to be accepted\n"
    "  --idle-timeout S       close a connection idle this many seconds (default 120)\n"
    "  --header-timeout S     a new connection must send its first request head within S seconds\n"
    "                         (default 30)\n"
    "\n"
    "  tidepool --help | --version\n";

static int parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > max || *s == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Connection limits and timeouts of the HTTP fronts (--max-connections,
 * --idle-timeout, --header-timeout). */
static struct http_limits g_limits = {.max_connections = 2048, .idle_timeout_s = 120, .header_timeout_ms = 30000};

static int parse_serve(int argc, char **argv)
{
    enum { O_HOST = 1, O_PORT, O_DATA, O_MEM, O_REGION, O_ACCOUNT, O_LOG, O_DELAY, O_SHARDS, O_S3_DOMAIN,
           O_LAMBDA, O_LAMBDA_TIMEOUT, O_INIT, O_PRESET, O_TRIPS, O_IMDS_PORT, O_TLS_PORT, O_MAX_CONN,
           O_IDLE, O_HEAD_TIMEOUT, O_AUTH };
    static const struct option OPTS[] = {
        {"host", required_argument, NULL, O_HOST}, {"port", required_argument, NULL, O_PORT},
        {"data", required_argument, NULL, O_DATA}, {"in-memory", no_argument, NULL, O_MEM},
        {"region", required_argument, NULL, O_REGION}, {"account", required_argument, NULL, O_ACCOUNT},
        {"log-level", required_argument, NULL, O_LOG}, {"stream-delay-ms", required_argument, NULL, O_DELAY},
        {"shard-limit", required_argument, NULL, O_SHARDS}, {"s3-domain", required_argument, NULL, O_S3_DOMAIN},
        {"lambda", required_argument, NULL, O_LAMBDA}, {"lambda-timeout-ms", required_argument, NULL, O_LAMBDA_TIMEOUT},
        {"init", required_argument, NULL, O_INIT}, {"preset", required_argument, NULL, O_PRESET},
        {"trips", required_argument, NULL, O_TRIPS}, {"imds-port", required_argument, NULL, O_IMDS_PORT},
        {"tls-port", required_argument, NULL, O_TLS_PORT}, {"max-connections", required_argument, NULL, O_MAX_CONN},
        {"idle-timeout", required_argument, NULL, O_IDLE}, {"header-timeout", required_argument, NULL, O_HEAD_TIMEOUT},
        {"auth", required_argument, NULL, O_AUTH},
        {"help", no_argument, NULL, 'h'}, {0}};
    char err[512];
    const char *preset = NULL, *auth = getenv("TIDEPOOL_AUTH");
    unsigned long trips = WORKSHOP_DEFAULT_TRIPS;
    static const char *const LEVELS[] = {"error", "warn", "info", "debug"};
    unsigned u;
    int o;
    while ((o = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        switch (o) {
        case O_HOST: g_cfg.host = optarg; break;
        case O_PORT:
            if (parse_uint(optarg, 65535, &u))
                goto bad;
            g_cfg.port = (int)u;
            break;
        case O_DATA: g_cfg.data_dir = optarg; break;
        case O_MEM: g_cfg.data_dir = NULL; break;
        case O_REGION: g_cfg.region = optarg; break;
        case O_ACCOUNT:
            if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12)
                goto bad;
            g_cfg.account = optarg;
            break;
        case O_LOG:
            for (u = 0; u < 4 && strcmp(optarg, LEVELS[u]); u++)
                ;
            if (u == 4)
                goto bad;
            g_cfg.log_level = (enum log_level)u;
            break;
        case O_DELAY:
            if (parse_uint(optarg, 3600000, &g_cfg.stream_delay_ms))
                goto bad;
            break;
        case O_SHARDS:
            if (parse_uint(optarg, 1000000, &g_cfg.shard_limit))
                goto bad;
            break;
        case O_S3_DOMAIN:
            if (!*optarg || g_cfg.n_s3_domains == sizeof g_cfg.s3_domains / sizeof *g_cfg.s3_domains)
                goto bad;
            g_cfg.s3_domains[g_cfg.n_s3_domains++] = optarg;
            break;
        case O_LAMBDA:
            if (lambda_register(optarg, err, sizeof err)) {
                fprintf(stderr, "tidepool: --lambda %s: %s\n", optarg, err);
                return -1;
            }
            break;
        case O_LAMBDA_TIMEOUT:
            if (parse_uint(optarg, 3600000, &u) || !u)
                goto bad;
            lambda_set_timeout_ms(u);
            break;
        case O_INIT:
            if (init_load_file(optarg, err, sizeof err)) {
                fprintf(stderr, "tidepool: --init %s\n", err);
                return -1;
            }
            break;
        case O_PRESET: preset = optarg; break;
        case O_TRIPS:
            if (parse_ulong(optarg, &trips))
                goto bad;
            break;
        case O_IMDS_PORT:
            if (parse_uint(optarg, 65535, &u))
                goto bad;
            g_cfg.imds_port = (int)u;
            break;
        case O_TLS_PORT:
            if (parse_uint(optarg, 65535, &u))
                goto bad;
            g_cfg.tls_port = (int)u;
            break;
        case O_MAX_CONN:
            if (parse_uint(optarg, 1000000, &g_limits.max_connections) || !g_limits.max_connections)
                goto bad;
            break;
        case O_IDLE:
            if (parse_uint(optarg, 86400, &g_limits.idle_timeout_s) || !g_limits.idle_timeout_s)
                goto bad;
            break;
        case O_HEAD_TIMEOUT:
            if (parse_uint(optarg, 3600, &u) || !u)
                goto bad;
            g_limits.header_timeout_ms = u * 1000u;
            break;
        case O_AUTH: auth = optarg; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: goto usage;
        }
    }
    if (auth && *auth && auth_load_file(auth, err, sizeof err)) {
        fprintf(stderr, "tidepool: --auth %s\n", err);
        return -1;
    }
    if (optind != argc)
        goto usage;
    if (preset && init_preset(preset, trips, err, sizeof err)) {
        fprintf(stderr, "tidepool: --preset %s\n", err);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "tidepool: invalid value '%s' for --%s\n", optarg, OPTS[o - 1].name);
    return -1;
usage:
    fputs(USAGE, stderr);
    return -1;
}

/* The writer's once-a-second upkeep. */
static int tick(struct db_conn *w, void *at)
{
    uint64_t now = at ? *(const uint64_t *)at : db_now_ms();
    int rc = db_streams_tick(w, at);
    rc = rc == TP_OK ? db_fh_tick(w, now) : rc;
    return rc == TP_OK ? db_cw_tick(w, now) : rc;
}

/* --tls-port: the CA kept with the data, then the listener. */
static struct tls_server *start_tls(struct http_server *srv, struct tls_ca **ca, char *err, size_t errlen)
{
    struct tls_server *tls = NULL;

    *ca = tls_ca_open(db_dir(), g_cfg.s3_domains, g_cfg.n_s3_domains, err, errlen);
    if (*ca)
        tls = tls_server_start(g_cfg.host, g_cfg.tls_port, *ca, srv, err, errlen);
    if (!tls) {
        tls_ca_close(*ca);
        *ca = NULL;
    }
    return tls;
}

/* Each connection costs up to three descriptors (socket, an HTTP/2 wake-up
 * pipe; a TLS one a socket pair): the soft limit is raised to fit
 * max_connections, or max_connections lowered to fit the hard limit. */
#define FDS_PER_CONNECTION 3
#define FDS_SPARE 256 /* database, blobs, listeners, hooks */

static void fit_descriptor_limit(struct http_limits *lim)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)lim->max_connections * FDS_PER_CONNECTION + FDS_SPARE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < need) {
        unsigned fit = rl.rlim_cur > FDS_SPARE + FDS_PER_CONNECTION
                           ? (unsigned)((rl.rlim_cur - FDS_SPARE) / FDS_PER_CONNECTION) : 1;
        log_msg(LOG_WARN, "open-files limit %llu: serving at most %u connections, not %u",
                (unsigned long long)rl.rlim_cur, fit, lim->max_connections);
        lim->max_connections = fit;
    }
}

/* Stopping waits for in-flight work (bounded in the fronts), but nothing may
 * keep SIGTERM from ending the process: a second signal, or this long after
 * the first, exits at once. Acknowledged writes are committed already. */
#define STOP_GRACE_S 20

static void *stop_guard(void *arg)
{
    const sigset_t *sigs = arg;
    struct timespec now, end, left;
    int sig = -1;

    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += STOP_GRACE_S;
    do { /* interrupted waits (sanitizer runtimes signal threads) resume */
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0)
            break;
        sig = sigtimedwait(sigs, NULL, &left);
    } while (sig < 0 && errno == EINTR);

    log_msg(LOG_ERROR, "%s: exiting without a clean stop", sig > 0 ? "second signal" : "stop took too long");
    _exit(1);
    return NULL;
}

static int serve(void)
{
    char err[512];
    static sigset_t sigs; /* stop_guard keeps reading it */
    int sig;

    /* block the stop signals in every thread; this one waits for them */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (db_open(g_cfg.data_dir, err, sizeof err) != TP_OK) {
        fprintf(stderr, "tidepool: %s\n", err);
        db_close();
        return 1;
    }
    db_set_tick(tick);
    services_plug();
    if (firehose_engine_start()) {
        fprintf(stderr, "tidepool: cannot start the Firehose delivery engine\n");
        db_close();
        return 1;
    }
    if (init_apply(err, sizeof err)) {
        fprintf(stderr, "tidepool: init: %s\n", err);
        firehose_engine_stop();
        db_close();
        return 1;
    }
    fit_descriptor_limit(&g_limits);
    struct http_server *srv = http_server_start(g_cfg.host, g_cfg.port, &g_limits, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "tidepool: %s\n", err);
        firehose_engine_stop();
        db_close();
        return 1;
    }
    struct imds_server *imds = NULL;
    if (g_cfg.imds_port >= 0 && !(imds = imds_start(g_cfg.host, g_cfg.imds_port, err, sizeof err))) {
        fprintf(stderr, "tidepool: IMDS: %s\n", err);
        http_server_stop(srv);
        firehose_engine_stop();
        db_close();
        return 1;
    }
    struct tls_ca *ca = NULL;
    struct tls_server *tls = NULL;
    if (g_cfg.tls_port >= 0 && !(tls = start_tls(srv, &ca, err, sizeof err))) {
        fprintf(stderr, "tidepool: TLS: %s\n", err);
        imds_stop(imds);
        http_server_stop(srv);
        firehose_engine_stop();
        db_close();
        return 1;
    }
    printf("tidepool ready on http://%s:%d\n", g_cfg.host, http_server_port(srv));
    if (imds)
        printf("tidepool IMDS ready on http://%s:%d\n", g_cfg.host, imds_port(imds));
    if (tls)
        printf("tidepool TLS ready on https://%s:%d (CA: %s)\n", g_cfg.host, tls_server_port(tls),
               tls_ca_cert_path(ca));
    fflush(stdout);
    log_msg(LOG_INFO, "data: %s", g_cfg.data_dir ? g_cfg.data_dir : "(in memory)");

    sigwait(&sigs, &sig);
    log_msg(LOG_INFO, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    pthread_t guard;
    if (pthread_create(&guard, NULL, stop_guard, &sigs) == 0)
        pthread_detach(guard);
    imds_stop(imds);
    tls_server_quiesce(tls); /* nothing new reaches srv: it can stop */
    http_server_stop(srv);
    tls_server_stop(tls);
    tls_ca_close(ca);
    firehose_engine_stop();
    db_close();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("tidepool %s\n", TIDEPOOL_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "replay"))
        return replay_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "hosts"))
        return hosts_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "serve")) {
        /* before any thread: Firehose's time zones change TZ later (fh_prefix.h) */
        setenv("TZ", "UTC", 1);
        if (lambda_global_init())
            return 1;
        int rc = parse_serve(argc - 1, argv + 1) ? 2 : serve();
        init_free();
        lambda_global_cleanup();
        return rc;
    }
usage:
    fputs(USAGE, stderr);
    return 2;
}
