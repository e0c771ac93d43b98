/* Unit tests of the Lambda hooks (server/lambda*.c): registration and
 * LambdaArn resolution, the builtins byte for byte against Node.js, exec hooks
 * (failures, timeouts, big payloads, threads, descriptors, zombies), http
 * hooks against a small server forked here, and Firehose's judgement of a
 * response. Expected builtin outputs were produced by running the workshop's
 * handler logic (workshop-clients.md §3) under Node.js on the same inputs. */
#define _GNU_SOURCE /* strcasestr */
#include "server/firehose/lambda.h"
#include "protocol/json_writer.h"

#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct lambda_hook *hook(const char *name, const char *text)
{
    char err[256];
    CHECK(lambda_register_pair(name, text, err, sizeof err) == 0);
    return lambda_find(name);
}

/* A Firehose event of one record whose data is payload. */
static char *event_of(const char *id, const char *payload, size_t plen, long long ms, int kinesis, size_t *len)
{
    struct jw w;

    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "invocationId");
    jw_str(&w, "00540a87-5050-496a-84e4-e7d92bbaf5e2");
    jw_key(&w, "deliveryStreamArn");
    jw_str(&w, "arn:aws:firehose:us-east-1:000000000000:deliverystream/taxi");
    jw_key(&w, "region");
    jw_str(&w, "us-east-1");
    jw_key(&w, "records");
    jw_arr_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "recordId");
    jw_str(&w, id);
    jw_key(&w, "approximateArrivalTimestamp");
    jw_int(&w, kinesis ? 1 : ms);
    jw_key(&w, "data");
    jw_blob(&w, payload, plen);
    if (kinesis) {
        jw_key(&w, "kinesisRecordMetadata");
        jw_obj_begin(&w);
        jw_key(&w, "shardId");
        jw_str(&w, "shardId-000000000000");
        jw_key(&w, "partitionKey");
        jw_str(&w, "k");
        jw_key(&w, "approximateArrivalTimestamp");
        jw_int(&w, ms);
        jw_key(&w, "sequenceNumber");
        jw_str(&w, "49590338271490256608559692538361571095921575989136588898");
        jw_key(&w, "subsequenceNumber");
        jw_int(&w, 0);
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    return jw_take(&w, len);
}

/* ------------------------------------------------------------------------ */

static void test_registry(void)
{
    static const char *const bad[] = {
        "noequals", "=builtin:identity", "bad name=exec:cat", "x=ftp://host/", "x=builtin:nope",
        "x=exec:", "x=", "x=http://",
        "a123456789b123456789c123456789d123456789e123456789f123456789g1234=exec:cat",
    };
    static const char *const found[] = {
        "Enrich", "Enrich:$LATEST", "Enrich:prod", "000000000000:function:Enrich",
        "arn:aws:lambda:us-east-1:000000000000:function:Enrich",
        "arn:aws:lambda:us-east-1:000000000000:function:Enrich:$LATEST",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:Enrich:7",
    };
    static const char *const not_found[] = {
        "Other", "Enric", "EnrichX", "", "arn:aws:lambda:us-east-1", "arn:aws:lambda:us-east-1:0:function:Other",
    };
    const struct lambda_hook *old, *h;
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        CHECK(lambda_register(bad[i], err, sizeof err) == -1);
        CHECK(err[0] != 0);
    }
    CHECK(lambda_register("x=builtin:nope", err, sizeof err) == -1);
    CHECK(strstr(err, LAMBDA_BUILTINS) != NULL);
    CHECK(lambda_register("x=ftp://host/", err, sizeof err) == -1);
    CHECK(strstr(err, "unknown hook") != NULL);

    CHECK(lambda_register("Enrich=builtin:add-approximate-arrival-time", err, sizeof err) == 0);
    for (size_t i = 0; i < sizeof found / sizeof *found; i++) {
        h = lambda_find(found[i]);
        CHECK(h != NULL);
        CHECK_STREQ(lambda_hook_name(h), "Enrich");
        CHECK_STREQ(lambda_hook_text(h), "builtin:add-approximate-arrival-time");
    }
    for (size_t i = 0; i < sizeof not_found / sizeof *not_found; i++)
        CHECK(lambda_find(not_found[i]) == NULL);

    /* A name given as an ARN registers the function's name. */
    CHECK(lambda_register("arn:aws:lambda:us-east-1:000000000000:function:ViaArn:$LATEST=exec:cat", err,
                          sizeof err) == 0);
    CHECK(lambda_find("ViaArn") != NULL);
    CHECK_STREQ(lambda_hook_text(lambda_find("ViaArn")), "exec:cat");

    /* A later registration replaces an earlier one; earlier pointers stay valid. */
    old = hook("Replaced", "builtin:identity");
    CHECK(lambda_register("Replaced=https://example.com/invocations", err, sizeof err) == 0);
    CHECK_STREQ(lambda_hook_text(lambda_find("Replaced")), "https://example.com/invocations");
    CHECK_STREQ(lambda_hook_text(old), "builtin:identity");
}

/* ------------------------------------------------------------------------ */

/* Inputs and what Node.js made of them (NULL: the handler throws, with that message). */
static const struct {
    const char *name, *payload;
    long long ms;
    int kinesis;
    const char *want, *error;
} ENRICH[] = {
    {"taxi", "{\"id\":1234567,\"vendor_id\":2,\"pickup_datetime\":\"2018-01-01T12:00:00.000Z\",\"dropoff_datetime\":\"2018-01-01T12:15:30.000Z\",\"passenger_count\":1,\"pickup_longitude\":-73.98175048828125,\"pickup_latitude\":40.73276901245117,\"dropoff_longitude\":-73.9700,\"dropoff_latitude\":40.7500,\"trip_distance\":2.50,\"total_amount\":5.0,\"tip\":0.10,\"type\":\"trip\"}", 1525354213123, 1, "{\"approximate_arrival_timestamp\":\"2018-05-03T13:30:13.123Z\",\"id\":1234567,\"vendor_id\":2,\"pickup_datetime\":\"2018-01-01T12:00:00.000Z\",\"dropoff_datetime\":\"2018-01-01T12:15:30.000Z\",\"passenger_count\":1,\"pickup_longitude\":-73.98175048828125,\"pickup_latitude\":40.73276901245117,\"dropoff_longitude\":-73.97,\"dropoff_latitude\":40.75,\"trip_distance\":2.5,\"total_amount\":5,\"tip\":0.1,\"type\":\"trip\"}\x0a", NULL},
    {"numbers", "{\"a\":5.0,\"b\":0.1,\"c\":1e21,\"d\":1e20,\"e\":-0,\"f\":12345678901234567890,\"g\":1E-7,\"h\":0.000001,\"i\":1.5e300,\"j\":1e400,\"k\":-2.50E+3,\"l\":123456789012345678901234567890,\"m\":0.1e1,\"n\":4.35,\"o\":100,\"p\":9007199254740993}", 0, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.000Z\",\"a\":5,\"b\":0.1,\"c\":1e+21,\"d\":100000000000000000000,\"e\":0,\"f\":12345678901234567000,\"g\":1e-7,\"h\":0.000001,\"i\":1.5e+300,\"j\":null,\"k\":-2500,\"l\":1.2345678901234568e+29,\"m\":1,\"n\":4.35,\"o\":100,\"p\":9007199254740992}\x0a", NULL},
    {"nested", "{\"outer\":{\"z\":1,\"a\":[1,{\"y\":null,\"x\":true},[]],\"e\":{}},\"list\":[false,\"s\",-1.0]}", 1700000000999, 1, "{\"approximate_arrival_timestamp\":\"2023-11-14T22:13:20.999Z\",\"outer\":{\"z\":1,\"a\":[1,{\"y\":null,\"x\":true},[]],\"e\":{}},\"list\":[false,\"s\",-1]}\x0a", NULL},
    {"unicode", "{\"name\":\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80\",\"esc\":\"\\u00e9\\ud83d\\ude00 \\ud800 x\\udc00 \\u2028\\u0001\\u001f\\u007f\\/\\b\\f\\n\\r\\t\\\"\\\\\",\"k\\u00e9y\":1}", 1, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\",\"name\":\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80\",\"esc\":\"\xc3\xa9\xf0\x9f\x98\x80 \\ud800 x\\udc00 \xe2\x80\xa8\\u0001\\u001f\x7f/\\b\\f\\n\\r\\t\\\"\\\\\",\"k\xc3\xa9y\":1}\x0a", NULL},
    {"ill-formed-utf8", "{\"a\":\"x\xffy\xe2\x82z\xf0\x9f\",\"\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80\":1}", 1, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\",\"a\":\"x\xef\xbf\xbdy\xef\xbf\xbdz\xef\xbf\xbd\",\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\":1}\x0a", NULL},
    {"has-key", "{\"a\":1,\"approximate_arrival_timestamp\":\"old\",\"b\":2}", 1525354213123, 1, "{\"approximate_arrival_timestamp\":\"old\",\"a\":1,\"b\":2}\x0a", NULL},
    {"order", "{\"b\":1,\"2\":\"two\",\"a\":2,\"1\":\"one\",\"b\":3,\"01\":\"x\",\"4294967295\":\"big\",\"4294967294\":\"max\",\"__proto__\":{\"p\":1},\"-1\":0,\"n\":{\"__proto__\":1,\"1\":1,\"0\":0}}", 1525354213123, 1, "{\"1\":\"one\",\"2\":\"two\",\"4294967294\":\"max\",\"approximate_arrival_timestamp\":\"2018-05-03T13:30:13.123Z\",\"b\":3,\"a\":2,\"01\":\"x\",\"4294967295\":\"big\",\"-1\":0,\"n\":{\"0\":0,\"1\":1,\"__proto__\":1}}\x0a", NULL},
    {"direct-put", "{\"x\":1}", 1525354213000, 0, "{\"approximate_arrival_timestamp\":\"2018-05-03T13:30:13.000Z\",\"x\":1}\x0a", NULL},
    {"ws", " \x09\x0d\x0a{ \"a\" : [ 1 , 2 ] } \x0a", 86399999, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T23:59:59.999Z\",\"a\":[1,2]}\x0a", NULL},
    {"string", "\"ab\xf0\x9f\x98\x80\"", 1, 1, "{\"0\":\"a\",\"1\":\"b\",\"2\":\"\\ud83d\",\"3\":\"\\ude00\",\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\"}\x0a", NULL},
    {"array", "[10,{\"k\":\"v\"}]", 1, 1, "{\"0\":10,\"1\":{\"k\":\"v\"},\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\"}\x0a", NULL},
    {"number", "42", 1, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\"}\x0a", NULL},
    {"null", "null", 1, 1, "{\"approximate_arrival_timestamp\":\"1970-01-01T00:00:00.001Z\"}\x0a", NULL},
    {"old", "{}", -62198755200000, 1, "{\"approximate_arrival_timestamp\":\"-000001-01-01T00:00:00.000Z\"}\x0a", NULL},
    {"future", "{}", 253402300800000, 1, "{\"approximate_arrival_timestamp\":\"+010000-01-01T00:00:00.000Z\"}\x0a", NULL},
    {"neg", "{}", -1, 1, "{\"approximate_arrival_timestamp\":\"1969-12-31T23:59:59.999Z\"}\x0a", NULL},
    /* Node 12's SyntaxError texts (Node 20 words them differently). */
    {"notjson", "not json", 1, 1, NULL, "SyntaxError: Unexpected token o in JSON at position 1"},
    {"trailing", "{\"a\":1},", 1, 1, NULL, "SyntaxError: Unexpected token , in JSON at position 7"},
    {"leading-zero", "{\"a\":01}", 1, 1, NULL, "SyntaxError: Unexpected number in JSON at position 6"},
    {"trailing-comma", "{\"a\":1,}", 1, 1, NULL, "SyntaxError: Unexpected token } in JSON at position 7"},
    {"empty", "", 1, 1, NULL, "SyntaxError: Unexpected end of JSON input"},
    {"unterminated", "{\"a\":\"x", 1, 1, NULL, "SyntaxError: Unexpected end of JSON input"},
    {"badescape", "{\"a\":\"\\x\"}", 1, 1, NULL, "SyntaxError: Unexpected token x in JSON at position 7"},
    {"ctrl", "{\"a\":\"\x01\"}", 1, 1, NULL, "SyntaxError: Unexpected token \x01 in JSON at position 6"},
    {"plus", "{\"a\":+1}", 1, 1, NULL, "SyntaxError: Unexpected token + in JSON at position 5"},
    {"dup-str", "{\"a\" \"b\"}", 1, 1, NULL, "SyntaxError: Unexpected string in JSON at position 5"},
    {"position-utf16", "{\"\xf0\x9f\x98\x80\xc3\xa9\":x}", 1, 1, NULL, "SyntaxError: Unexpected token x in JSON at position 7"},
    {"badts", "{}", 9000000000000000, 1, NULL, "RangeError: Invalid time value"},
};

/* The base64 data Node.js returned for "taxi". */
static const char TAXI_B64[] =
    "eyJhcHByb3hpbWF0ZV9hcnJpdmFsX3RpbWVzdGFtcCI6IjIwMTgtMDUtMDNUMTM6MzA6MTMuMTIzWiIsImlkIjoxMjM0NTY3LCJ2ZW5kb3Jf"
    "aWQiOjIsInBpY2t1cF9kYXRldGltZSI6IjIwMTgtMDEtMDFUMTI6MDA6MDAuMDAwWiIsImRyb3BvZmZfZGF0ZXRpbWUiOiIyMDE4LTAxLTAx"
    "VDEyOjE1OjMwLjAwMFoiLCJwYXNzZW5nZXJfY291bnQiOjEsInBpY2t1cF9sb25naXR1ZGUiOi03My45ODE3NTA0ODgyODEyNSwicGlja3Vw"
    "X2xhdGl0dWRlIjo0MC43MzI3NjkwMTI0NTExNywiZHJvcG9mZl9sb25naXR1ZGUiOi03My45NywiZHJvcG9mZl9sYXRpdHVkZSI6NDAuNzUs"
    "InRyaXBfZGlzdGFuY2UiOjIuNSwidG90YWxfYW1vdW50Ijo1LCJ0aXAiOjAuMSwidHlwZSI6InRyaXAifQo=";

static void test_enrich(void)
{
    const struct lambda_hook *h = hook("Enrich", "builtin:add-approximate-arrival-time");
    const char *ids[1] = {"r"};

    for (size_t i = 0; i < sizeof ENRICH / sizeof *ENRICH; i++) {
        size_t len, rlen;
        char *ev = event_of("r", ENRICH[i].payload, strlen(ENRICH[i].payload), ENRICH[i].ms, ENRICH[i].kinesis, &len);
        char *resp;
        struct lambda_failure f;
        struct lambda_record out[1];
        int rc = lambda_invoke(h, ev, len, &resp, &rlen, &f);

        if ((rc == 0) != !ENRICH[i].error)
            fprintf(stderr, "enrich %s: %s\n", ENRICH[i].name, rc ? f.detail : resp);
        if (ENRICH[i].error) {
            CHECK(rc == -1);
            CHECK_STREQ(f.code, "Lambda.FunctionError");
            CHECK(f.retryable);
            CHECK(strstr(f.detail, ENRICH[i].error) != NULL);
        } else {
            CHECK(rc == 0);
            CHECK(lambda_check_response(resp, rlen, ids, 1, out, &f) == 0);
            CHECK(out[0].result == LAMBDA_OK);
            CHECK(out[0].len == strlen(ENRICH[i].want));
            CHECK(memcmp(out[0].data, ENRICH[i].want, out[0].len) == 0);
            if (!strcmp(ENRICH[i].name, "taxi"))
                CHECK(strstr(resp, TAXI_B64) != NULL);
            lambda_records_free(out, 1);
            free(resp);
        }
        free(ev);
    }
}

static void test_identity(void)
{
    static const char EVENT[] =
        "{\"invocationId\":\"i\",\"records\":[{\"recordId\":\"a\",\"approximateArrivalTimestamp\":1,"
        "\"data\":\"eyJ4IjoxfQ==\"},{\"recordId\":\"b\",\"approximateArrivalTimestamp\":2,\"data\":\"\"}]}";
    const struct lambda_hook *h = hook("Identity", "builtin:identity");
    struct lambda_failure f;
    size_t rlen;
    char *resp;

    CHECK(lambda_invoke(h, EVENT, strlen(EVENT), &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, "{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"eyJ4IjoxfQ==\"},"
                      "{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":\"\"}]}");
    CHECK(rlen == strlen(resp));
    free(resp);
    /* An event without records makes the function throw. */
    CHECK(lambda_invoke(h, "{}", 2, &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "TypeError") != NULL);
    CHECK(resp == NULL);
    /* No hook at all. */
    CHECK(lambda_invoke(NULL, "{}", 2, &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.ResourceNotFound");
}

/* ------------------------------------------------------------------------ */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    CHECK(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Invokes hook text on event; returns rc, with *resp or *f filled. */
static int run(const char *text, const char *event, size_t len, char **resp, size_t *rlen, struct lambda_failure *f)
{
    return lambda_invoke(hook("H", text), event, len, resp, rlen, f);
}

static char *big_event(size_t size, char fill, size_t *len)
{
    static const char HEAD[] = "{\"records\":[],\"pad\":\"";
    char *ev = malloc(size + 1);

    CHECK(ev != NULL);
    memcpy(ev, HEAD, sizeof HEAD - 1);
    memset(ev + sizeof HEAD - 1, fill, size - (sizeof HEAD - 1) - 2);
    memcpy(ev + size - 2, "\"}", 3);
    *len = size;
    return ev;
}

struct worker {
    pthread_t t;
    char fill;
    int ok;
};

static void *echo_worker(void *arg)
{
    struct worker *w = arg;
    const struct lambda_hook *h = lambda_find("Cat");

    w->ok = 1;
    for (int i = 0; i < 5; i++) {
        size_t len, rlen;
        char *ev = big_event(300000 + (size_t)i * 7919, w->fill, &len), *resp;
        struct lambda_failure f;

        if (lambda_invoke(h, ev, len, &resp, &rlen, &f) != 0 || rlen != len || memcmp(resp, ev, len) != 0)
            w->ok = 0;
        else
            free(resp);
        free(ev);
    }
    return NULL;
}

/* The pid in path (then removed); 0 when there is none. */
static int read_pid(const char *path, pid_t *pid)
{
    FILE *pf = fopen(path, "r");
    int n = 0, ok = pf && fscanf(pf, "%d", &n) == 1 && n > 0;

    if (pf)
        fclose(pf);
    unlink(path);
    *pid = (pid_t)n;
    return ok;
}

/* Whether pid is gone (or a zombie of init's) within 10 s: a bound against a
 * hang, not a timing check. */
static int wait_gone(pid_t pid)
{
    for (long long t0 = now_ms(); now_ms() - t0 < 10000; usleep(10000)) {
        char path[64], stat[256] = "";
        FILE *sf;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (!(sf = fopen(path, "r")))
            return 1;
        if (!fgets(stat, sizeof stat, sf))
            stat[0] = 0;
        fclose(sf);
        if (strstr(stat, ") Z "))
            return 1;
    }
    return 0;
}

static void test_exec(void)
{
    static const char SMALL[] = "{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"\"}]}";
    struct lambda_failure f;
    struct worker workers[4];
    char *resp, *ev, pidfile[64], cmd[512];
    size_t rlen, len;
    long long t0;
    int fds = count_fds(), leak_fd, st;
    FILE *pf;
    pid_t bg = 0;

    /* exec:cat echoes a valid response. */
    CHECK(run("exec:cat", SMALL, strlen(SMALL), &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, SMALL);
    free(resp);

    /* Exit status, signal, output that is not JSON, a Lambda error object. */
    CHECK(run("exec:false", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(f.retryable);
    CHECK(strstr(f.detail, "exit status 1") != NULL);
    CHECK(run("exec:kill -9 $$", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(strstr(f.detail, "killed by signal 9") != NULL);
    CHECK(run("exec:cat >/dev/null; echo hello", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.JsonProcessingException");
    CHECK(!f.retryable);
    CHECK(run("exec:echo '[1]'", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.JsonProcessingException");
    CHECK(run("exec:echo '{\"errorType\":\"Error\",\"errorMessage\":\"boom\"}'", SMALL, strlen(SMALL), &resp,
              &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "Error: boom") != NULL);
    /* stderr goes to ours; an empty event is fine. */
    CHECK(run("exec:echo 'test_lambda: a hook writing to stderr' >&2; echo '{}'", "", 0, &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, "{}\n");
    free(resp);

    /* Timeouts kill the whole process group, quickly. */
    lambda_set_timeout_ms(300);
    t0 = now_ms();
    CHECK(run("exec:sleep 5", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(now_ms() - t0 < 2000);
    CHECK(strstr(f.detail, "timed out after 300 ms") != NULL);
    snprintf(pidfile, sizeof pidfile, "/tmp/test_lambda.%d.pid", (int)getpid());
    snprintf(cmd, sizeof cmd, "exec:sleep 30 & echo $! > %s; wait", pidfile);
    CHECK(run(cmd, SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK((pf = fopen(pidfile, "r")) != NULL);
    CHECK(fscanf(pf, "%d", &bg) == 1);
    fclose(pf);
    unlink(pidfile);
    for (t0 = now_ms(); now_ms() - t0 < 2000;) { /* gone, or a zombie of init's */
        char path[64], stat[256] = "";
        FILE *sf;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)bg);
        if (!(sf = fopen(path, "r")))
            break;
        CHECK(fgets(stat, sizeof stat, sf) != NULL);
        fclose(sf);
        if (strstr(stat, ") Z "))
            break;
        usleep(10000);
    }
    CHECK(now_ms() - t0 < 2000);
    /* A grandchild in a session of its own (setsid leaves the process group)
     * dies with the timed-out invocation too. The hook waits for the pid file
     * so the grandchild surely runs before the timeout. */
    lambda_set_timeout_ms(2000);
    snprintf(cmd, sizeof cmd, "exec:setsid sh -c 'echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 1000' & "
             "while [ ! -e %s ]; do sleep 0.01; done; sleep 1000", pidfile, pidfile, pidfile, pidfile);
    CHECK(run(cmd, SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(strstr(f.detail, "timed out") != NULL);
    CHECK(read_pid(pidfile, &bg));
    CHECK(wait_gone(bg));
    /* And after a normal end: what an invocation started does not outlive it. */
    snprintf(cmd, sizeof cmd, "exec:setsid sh -c 'echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 1000' "
             "</dev/null >/dev/null & while [ ! -e %s ]; do sleep 0.01; done; echo '{}'",
             pidfile, pidfile, pidfile, pidfile);
    CHECK(run(cmd, SMALL, strlen(SMALL), &resp, &rlen, &f) == 0);
    free(resp);
    CHECK(read_pid(pidfile, &bg));
    CHECK(wait_gone(bg));
    lambda_set_timeout_ms(300);
    /* Closing stdout early does not end the wait for the process. */
    CHECK(run("exec:exec >&-; sleep 5", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(strstr(f.detail, "timed out") != NULL);
    lambda_set_timeout_ms(LAMBDA_DEFAULT_TIMEOUT_MS);

    /* 5 MB both ways through cat: stdin and stdout are pumped together. */
    ev = big_event(5 * 1024 * 1024, 'x', &len);
    CHECK(run("exec:cat", ev, len, &resp, &rlen, &f) == 0);
    CHECK(rlen == len && memcmp(resp, ev, len) == 0);
    free(resp);
    /* A hook that never reads a big stdin still answers. */
    CHECK(run("exec:echo '{\"records\":[]}'", ev, len, &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, "{\"records\":[]}\n");
    free(resp);
    free(ev);
    /* More than Lambda's 6 MB back fails. */
    CHECK(run("exec:head -c 7000000 /dev/zero", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(strstr(f.detail, "response over 6291556 bytes") != NULL);

    /* No descriptor of ours reaches the hook, even one without O_CLOEXEC. */
    leak_fd = open("/dev/null", O_RDONLY);
    CHECK(leak_fd >= 0);
    CHECK(dup2(leak_fd, 40) == 40);
    CHECK(run("exec:cat >/dev/null; if [ -e /proc/$$/fd/40 ]; then echo '{\"leak\":1}'; else echo '{\"leak\":0}'; fi",
              SMALL, strlen(SMALL), &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, "{\"leak\":0}\n");
    free(resp);
    close(40);
    close(leak_fd);

    /* Several threads at once, each getting its own bytes back. */
    hook("Cat", "exec:cat");
    for (int i = 0; i < 4; i++) {
        workers[i].fill = (char)('a' + i);
        CHECK(pthread_create(&workers[i].t, NULL, echo_worker, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(workers[i].t, NULL) == 0);
        CHECK(workers[i].ok);
    }

    /* Every child reaped, every descriptor closed. */
    CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
    CHECK(count_fds() == fds);
}

/* ------------------------------------------------------------------------ */
/* A small HTTP server in a forked process: one forked handler per connection */

static pid_t g_server;
static int g_port;

static void reply(int c, const char *status, const char *extra, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n"
                     "Connection: close\r\n%s\r\n", status, len, extra);
    CHECK(write(c, head, (size_t)n) == n);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(c, body + off, len - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

static void handle(int c)
{
    char *req = malloc(8 << 20), path[256] = "", *body;
    size_t got = 0, need = 0;
    ssize_t r;

    CHECK(req != NULL);
    /* Headers, then Content-Length bytes of body. */
    while ((r = read(c, req + got, (8 << 20) - got - 1)) > 0) {
        char *end, *cl;
        got += (size_t)r;
        req[got] = 0;
        if (!(end = strstr(req, "\r\n\r\n")))
            continue;
        body = end + 4;
        cl = strcasestr(req, "\r\nContent-Length:");
        need = (size_t)(body - req) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        if (got >= need)
            break;
    }
    if (!strstr(req, "\r\n\r\n"))
        return;
    body = strstr(req, "\r\n\r\n") + 4;
    sscanf(req, "POST %255s", path);
    if (!strcmp(path, "/2015-03-31/functions/function/invocations")) {
        reply(c, "200 OK", "", body, need - (size_t)(body - req));
    } else if (!strcmp(path, "/500")) {
        reply(c, "500 Internal Server Error", "", "{\"message\":\"boom\"}", 18);
    } else if (!strcmp(path, "/429")) {
        reply(c, "429 Too Many Requests", "", "{}", 2);
    } else if (!strcmp(path, "/rie-error")) {
        static const char E[] = "{\"errorMessage\":\"boom\",\"errorType\":\"Error\",\"stackTrace\":[]}";
        reply(c, "200 OK", "X-Amz-Function-Error: Unhandled\r\n", E, sizeof E - 1);
    } else if (!strcmp(path, "/error-body")) {
        static const char E[] = "{\"errorType\":\"SyntaxError\",\"errorMessage\":\"Unexpected token\"}";
        reply(c, "200 OK", "", E, sizeof E - 1);
    } else if (!strcmp(path, "/rie-timeout")) {
        reply(c, "200 OK", "", "Task timed out after 3.00 seconds", 33);
    } else if (!strcmp(path, "/big")) {
        size_t n = 6500000;
        char *b = malloc(n);
        CHECK(b != NULL);
        memset(b, ' ', n);
        b[0] = '{';
        b[n - 1] = '}';
        reply(c, "200 OK", "", b, n);
    } else if (!strcmp(path, "/slow")) {
        char x;
        while (read(c, &x, 1) > 0) /* until the client gives up */
            ;
    } else {
        reply(c, "404 Not Found", "", "{}", 2);
    }
}

static void start_server(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(s >= 0);
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(s, 16) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&a, &alen) == 0);
    g_port = ntohs(a.sin_port);
    CHECK((g_server = fork()) >= 0);
    if (g_server == 0) {
        signal(SIGCHLD, SIG_IGN); /* handlers reap themselves */
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0)
                continue;
            if (fork() == 0) {
                handle(c);
                _exit(0);
            }
            close(c);
        }
    }
    close(s);
}

static int run_url(const char *path, const char *event, size_t len, char **resp, size_t *rlen, struct lambda_failure *f)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_port, path);
    return run(url, event, len, resp, rlen, f);
}

static void test_http(void)
{
    static const char SMALL[] = "{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"\"}]}";
    struct lambda_failure f;
    char *resp, *ev;
    size_t rlen, len;
    long long t0;

    start_server();
    /* The Runtime Interface Emulator's URL; the echo proves the body went as sent. */
    CHECK(run_url("/2015-03-31/functions/function/invocations", SMALL, strlen(SMALL), &resp, &rlen, &f) == 0);
    CHECK_STREQ(resp, SMALL);
    free(resp);
    ev = big_event(5 * 1024 * 1024, 'y', &len);
    CHECK(run_url("/2015-03-31/functions/function/invocations", ev, len, &resp, &rlen, &f) == 0);
    CHECK(rlen == len && memcmp(resp, ev, len) == 0);
    free(resp);
    free(ev);

    CHECK(run_url("/500", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "HTTP 500") != NULL);
    CHECK(run_url("/429", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.InvokeLimitExceeded");
    CHECK(run_url("/nowhere", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.ResourceNotFound");
    CHECK(run_url("/rie-error", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "X-Amz-Function-Error Unhandled") != NULL);
    CHECK(run_url("/error-body", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "SyntaxError: Unexpected token") != NULL);
    CHECK(run_url("/rie-timeout", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.detail, "Task timed out") != NULL);
    CHECK(run_url("/big", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(strstr(f.detail, "response over") != NULL);
    lambda_set_timeout_ms(300);
    t0 = now_ms();
    CHECK(run_url("/slow", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK(now_ms() - t0 < 2000);
    CHECK(strstr(f.detail, "timed out after 300 ms") != NULL);
    lambda_set_timeout_ms(LAMBDA_DEFAULT_TIMEOUT_MS);

    kill(g_server, SIGKILL);
    CHECK(waitpid(g_server, NULL, 0) == g_server);
    /* Nobody listening any more. */
    CHECK(run_url("/2015-03-31/functions/function/invocations", SMALL, strlen(SMALL), &resp, &rlen, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
}

/* ------------------------------------------------------------------------ */

/* Checks resp against ids a, b, c. */
static int check3(const char *resp, struct lambda_record out[3], struct lambda_failure *f)
{
    static const char *const ids[] = {"a", "b", "c"};
    return lambda_check_response(resp, strlen(resp), ids, 3, out, f);
}

static void test_response(void)
{
    struct lambda_record out[3];
    struct lambda_failure f;

    /* Ok (unpadded base64 too), Dropped, ProcessingFailed; an unknown id is ignored. */
    CHECK(check3("{\"records\":[{\"recordId\":\"c\",\"result\":\"ProcessingFailed\"},"
                 "{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"aGk=\"},{\"recordId\":\"zz\",\"result\":\"Ok\",\"data\":\"\"},"
                 "{\"recordId\":\"b\",\"result\":\"Dropped\"}]}", out, &f) == 0);
    CHECK(out[0].result == LAMBDA_OK && out[0].len == 2 && !memcmp(out[0].data, "hi", 2));
    CHECK(out[1].result == LAMBDA_DROPPED && out[1].data == NULL);
    CHECK(out[2].result == LAMBDA_FAILED);
    CHECK_STREQ(out[2].code, "Lambda.ProcessingFailedStatus");
    CHECK_STREQ(out[2].message, "ProcessingFailed status set for record");
    lambda_records_free(out, 3);
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"aGk\"},"
                 "{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":\"\"},{\"recordId\":\"c\",\"result\":\"Ok\",\"data\":\"aA\"}]}",
                 out, &f) == 0);
    CHECK(out[0].len == 2 && out[1].len == 0 && out[1].data != NULL && out[2].len == 1);
    lambda_records_free(out, 3);

    /* Missing and duplicated ids fail those records only. */
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"aGk=\"},"
                 "{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":\"aGk=\"},{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":\"aGk=\"}]}",
                 out, &f) == 0);
    CHECK(out[0].result == LAMBDA_OK);
    CHECK(out[1].result == LAMBDA_FAILED);
    CHECK_STREQ(out[1].code, "Lambda.DuplicatedRecordId");
    CHECK(out[2].result == LAMBDA_FAILED);
    CHECK_STREQ(out[2].code, "Lambda.MissingRecordId");
    lambda_records_free(out, 3);

    /* No records array: all missing. Ok without data: InvalidReturnFormat. */
    CHECK(check3("{\"recordz\":[]}", out, &f) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(out[i].result == LAMBDA_FAILED && !strcmp(out[i].code, "Lambda.MissingRecordId"));
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\"},{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":null},"
                 "{\"recordId\":\"c\",\"result\":\"Dropped\"}]}", out, &f) == 0);
    CHECK_STREQ(out[0].code, "Lambda.InvalidReturnFormat");
    CHECK_STREQ(out[1].code, "Lambda.InvalidReturnFormat");
    CHECK(out[2].result == LAMBDA_DROPPED);

    /* Batch failures: a bad result, data that is not base64, not JSON. */
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"result\":\"Maybe\",\"data\":\"\"}]}", out, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.FunctionError");
    CHECK(strstr(f.message, "valid result status of Dropped, Ok, or ProcessingFailed") != NULL);
    CHECK(!f.retryable);
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"data\":\"\"}]}", out, &f) == -1);
    CHECK(check3("{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"aGk=\"},"
                 "{\"recordId\":\"b\",\"result\":\"Ok\",\"data\":\"%%%\"}]}", out, &f) == -1);
    CHECK(strstr(f.detail, "not base64") != NULL);
    CHECK(check3("{\"records\":[]} x", out, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.JsonProcessingException");
    CHECK(check3("[]", out, &f) == -1);
    CHECK_STREQ(f.code, "Lambda.JsonProcessingException");
}

int main(void)
{
    CHECK(lambda_global_init() == 0);
    test_registry();
    test_enrich();
    test_identity();
    test_response();
    test_exec(); /* before the server: it checks that no child is left */
    test_http();
    lambda_global_cleanup();
    printf("lambda: all tests passed\n");
    return 0;
}
