/* The Kinesis side of `tidepool replay` besides PutRecords: JSON 1.1 calls
 * and their errors, the map of open shards (ListShards, as the original's
 * WatermarkGenerator refreshes it every 10 s, keeping shards without an
 * EndingSequenceNumber), and the watermarks: every second, each open shard
 * gets {"watermark":"<ISO, 3 fraction digits>","type":"watermark"}\n with
 * partition key "23" and ExplicitHashKey = its StartingHashKey, the value
 * being the latest event time acknowledged for that shard (1970-01-01 before
 * any). Unlike the original, a last round follows the final acknowledgement,
 * so consumers see the end of the data. */
#include "replay/replay.h"

#include "protocol/hashkey.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_MS 10000
#define WATERMARK_MS 1000
#define TICK_MS 100

struct shard {
    char *id;
    char start_dec[HASHKEY_DEC_MAX];
    hashkey_t start, end;
    int64_t acked; /* REPLAY_NO_TIME before any */
};

struct replay_shards {
    const struct replay_opts *o;
    pthread_mutex_t mu; /* the table and stop */
    pthread_cond_t wake;
    struct shard *v;    /* open shards by starting hash key */
    size_t n, hint;     /* hint: where the last ack found its shard */
    struct aws_client *client; /* the thread's */
    pthread_t thread;
    int running, stop;
    int refresh_failing, watermark_failing; /* said once until it works again */
};

void kinesis_stream_member(struct jw *w, const struct replay_opts *o)
{
    jw_key(w, o->stream_arn ? "StreamARN" : "StreamName");
    jw_str(w, o->stream_arn ? o->stream_arn : o->stream_name);
}

static int retryable(const char *type)
{
    static const char *const types[] = {
        "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
        "InternalFailure", "InternalFailureException", "ServiceUnavailable", "ServiceUnavailableException",
        "KMSThrottlingException",
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(type, types[i]))
            return 1;
    return 0;
}

enum kinesis_status kinesis_call(struct aws_client *c, const struct replay_opts *o, const char *op,
                                 const char *body, size_t len, cJSON **out, char *err, size_t errlen)
{
    char target[64];
    struct aws_response resp;

    *out = NULL;
    snprintf(target, sizeof target, "Kinesis_20131202.%s", op);
    struct aws_request r = {
        .method = "POST", .service = "kinesis", .region = o->stream_region, .path = "/",
        .content_type = "application/x-amz-json-1.1", .target = target, .body = body, .len = len,
        .timeout_ms = 60000,
    };
    if (aws_call(c, &r, &resp)) {
        snprintf(err, errlen, "cannot reach %s (%s)", aws_client_endpoint(c), resp.error);
        return KINESIS_RETRY;
    }
    cJSON *doc = cJSON_ParseWithLength(resp.body, resp.len);
    long status = resp.status;
    aws_response_free(&resp);
    if (status == 200 && cJSON_IsObject(doc)) {
        *out = doc;
        return KINESIS_OK;
    }
    /* {"__type": "[namespace#]Type", "message": "..."} */
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "__type"), *msg = cJSON_GetObjectItem(doc, "message");
    const char *t = cJSON_IsString(type) ? type->valuestring : NULL;
    if (t && strchr(t, '#'))
        t = strchr(t, '#') + 1;
    if (t)
        snprintf(err, errlen, "%s: %s", t, cJSON_IsString(msg) ? msg->valuestring : "");
    else
        snprintf(err, errlen, "HTTP status %ld from %s", status, aws_client_endpoint(c));
    int again = status >= 500 || (t && retryable(t));
    cJSON_Delete(doc);
    return again ? KINESIS_RETRY : KINESIS_FATAL;
}

/* ---- the shard table ---- */

static void free_table(struct shard *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].id);
    free(v);
}

static int by_start(const void *a, const void *b)
{
    const struct shard *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Appends the open shards of one ListShards page; -1 when a shard is malformed. */
static int add_open_shards(const cJSON *page, struct shard **v, size_t *n)
{
    const cJSON *sh;

    cJSON_ArrayForEach(sh, cJSON_GetObjectItemCaseSensitive(page, "Shards")) {
        const char *id = str_at(sh, "ShardId", NULL), *start = str_at(sh, "HashKeyRange", "StartingHashKey"),
                   *end = str_at(sh, "HashKeyRange", "EndingHashKey");
        if (str_at(sh, "SequenceNumberRange", "EndingSequenceNumber"))
            continue; /* closed */
        struct shard s = {.acked = REPLAY_NO_TIME};
        if (!id || !start || !end || hashkey_parse(start, strlen(start), &s.start) ||
            hashkey_parse(end, strlen(end), &s.end))
            return -1;
        hashkey_format(s.start, s.start_dec);
        struct shard *nv = realloc(*v, (*n + 1) * sizeof **v);
        if (!nv || !(s.id = strdup(id)))
            abort(); /* as strbuf does */
        *v = nv;
        (*v)[(*n)++] = s;
    }
    return 0;
}

/* ListShards to the end (the first call names the stream, later ones only
 * the NextToken). On failure err is set and the status returned. */
static enum kinesis_status list_open(const struct replay_opts *o, struct aws_client *c, struct shard **out,
                                     size_t *n_out, char *err, size_t errlen)
{
    struct shard *v = NULL;
    size_t n = 0;
    char *token = NULL;
    enum kinesis_status st;

    do {
        struct jw w;
        size_t len;
        cJSON *page;

        jw_init(&w);
        jw_obj_begin(&w);
        if (token) {
            jw_key(&w, "NextToken");
            jw_str(&w, token);
        } else {
            kinesis_stream_member(&w, o);
        }
        jw_obj_end(&w);
        char *body = jw_take(&w, &len);
        free(token);
        token = NULL;
        st = kinesis_call(c, o, "ListShards", body, len, &page, err, errlen);
        free(body);
        if (st != KINESIS_OK)
            break;
        const char *next = str_at(page, "NextToken", NULL);
        if (add_open_shards(page, &v, &n)) {
            snprintf(err, errlen, "ListShards answered a malformed shard");
            st = KINESIS_FATAL;
        } else if (next && *next && !(token = strdup(next))) {
            abort();
        }
        cJSON_Delete(page);
    } while (st == KINESIS_OK && token);
    if (st != KINESIS_OK) {
        free_table(v, n);
        return st;
    }
    qsort(v, n, sizeof *v, by_start);
    *out = v;
    *n_out = n;
    return KINESIS_OK;
}

struct replay_shards *replay_shards_open(const struct replay_opts *o, struct aws_client *c, char *err,
                                         size_t errlen)
{
    char why[512];
    struct shard *v;
    size_t n;

    if (list_open(o, c, &v, &n, why, sizeof why) != KINESIS_OK) {
        if (!strncmp(why, "cannot reach ", 13))
            snprintf(err, errlen, "%s", why);
        else if (!strncmp(why, "ResourceNotFoundException:", 26))
            snprintf(err, errlen, "stream %s not found in %s at %s (%s)", o->stream_name, o->stream_region,
                     aws_client_endpoint(c), why);
        else
            snprintf(err, errlen, "cannot list the shards of stream %s in %s at %s (%s)", o->stream_name,
                     o->stream_region, aws_client_endpoint(c), why);
        return NULL;
    }
    if (n == 0) {
        snprintf(err, errlen, "stream %s in %s at %s has no open shard", o->stream_name, o->stream_region,
                 aws_client_endpoint(c));
        free_table(v, n);
        return NULL;
    }
    struct replay_shards *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->o = o;
    s->v = v;
    s->n = n;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    return s;
}

void replay_shards_free(struct replay_shards *s)
{
    free_table(s->v, s->n);
    aws_client_free(s->client);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    free(s);
}

size_t replay_shards_count(struct replay_shards *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t replay_shards_route(struct replay_shards *s, const char *pk)
{
    hashkey_t h = hashkey_of_partition_key(pk, strlen(pk));
    size_t lo = 0, hi;

    pthread_mutex_lock(&s->mu);
    /* the last shard starting at or below h */
    for (hi = s->n; hi - lo > 1;) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].start <= h)
            lo = mid;
        else
            hi = mid;
    }
    pthread_mutex_unlock(&s->mu);
    return lo;
}

void replay_shards_ack(struct replay_shards *s, const char *shard_id, int64_t ts_ms)
{
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < s->n; k++) {
        struct shard *sh = &s->v[(s->hint + k) % s->n];
        if (!strcmp(sh->id, shard_id)) {
            if (ts_ms > sh->acked)
                sh->acked = ts_ms;
            s->hint = (s->hint + k) % s->n;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

int64_t replay_shards_min_acked(struct replay_shards *s)
{
    int64_t min = REPLAY_NO_TIME;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].acked != REPLAY_NO_TIME && (min == REPLAY_NO_TIME || s->v[i].acked < min))
            min = s->v[i].acked;
    pthread_mutex_unlock(&s->mu);
    return min;
}

/* ---- the thread: refreshes and watermarks ---- */

static void refresh(struct replay_shards *s)
{
    struct shard *v;
    size_t n;
    char err[512];

    if (list_open(s->o, s->client, &v, &n, err, sizeof err) != KINESIS_OK) {
        if (!s->refresh_failing)
            replay_log("WARN", "WatermarkGenerator", "cannot refresh the shards of stream %s (%s)",
                       s->o->stream_name, err);
        s->refresh_failing = 1;
        return;
    }
    s->refresh_failing = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->n; j++)
            if (!strcmp(v[i].id, s->v[j].id))
                v[i].acked = s->v[j].acked;
    free_table(s->v, s->n);
    s->v = v;
    s->n = n;
    s->hint = 0;
    pthread_mutex_unlock(&s->mu);
}

static void send_watermark(struct replay_shards *s, const char *ehk, int64_t acked, char *err, size_t errlen,
                           int *failed)
{
    char when[32], data[96];
    struct jw w;
    size_t len;
    cJSON *answer;

    replay_format_instant(acked == REPLAY_NO_TIME ? 0 : acked, 1, when);
    int n = snprintf(data, sizeof data, "{\"watermark\":\"%s\",\"type\":\"watermark\"}\n", when);
    jw_init(&w);
    jw_obj_begin(&w);
    kinesis_stream_member(&w, s->o);
    jw_key(&w, "Data");
    jw_blob(&w, data, (size_t)n);
    jw_key(&w, "PartitionKey");
    jw_str(&w, "23");
    jw_key(&w, "ExplicitHashKey");
    jw_str(&w, ehk);
    jw_obj_end(&w);
    char *body = jw_take(&w, &len);
    if (kinesis_call(s->client, s->o, "PutRecord", body, len, &answer, err, errlen) != KINESIS_OK)
        *failed = 1;
    cJSON_Delete(answer);
    free(body);
}

static void send_watermarks(struct replay_shards *s)
{
    char err[512];
    int failed = 0;

    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    struct shard *snap = malloc((n ? n : 1) * sizeof *snap);
    if (!snap)
        abort();
    memcpy(snap, s->v, n * sizeof *snap); /* ids are not used: the table may change meanwhile */
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        send_watermark(s, snap[i].start_dec, snap[i].acked, err, sizeof err, &failed);
    free(snap);
    if (failed && !s->watermark_failing)
        replay_log("WARN", "WatermarkGenerator", "skipping watermarks of stream %s (%s)", s->o->stream_name,
                   err);
    s->watermark_failing = failed;
}

static void *shards_main(void *arg)
{
    struct replay_shards *s = arg;
    int64_t refreshed = replay_clock_ms(), watermarked = 0;

    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        int64_t now = replay_clock_ms();
        if (now - refreshed >= REFRESH_MS) {
            refresh(s);
            refreshed = now;
        }
        if (s->o->watermarks && now - watermarked >= WATERMARK_MS) {
            send_watermarks(s);
            watermarked = now;
        }
        struct timespec t = replay_deadline(TICK_MS);
        pthread_mutex_lock(&s->mu);
        if (!s->stop)
            pthread_cond_timedwait(&s->wake, &s->mu, &t);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int replay_shards_start(struct replay_shards *s, const char *endpoint)
{
    char err[256];

    if (!(s->client = aws_client_new(endpoint, err, sizeof err)))
        return -1;
    if (pthread_create(&s->thread, NULL, shards_main, s))
        return -1;
    s->running = 1;
    return 0;
}

void replay_shards_stop(struct replay_shards *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = 0;
    if (s->o->watermarks)
        send_watermarks(s);
}
