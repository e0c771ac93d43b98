/* PutRecords for `tidepool replay`. Records go through up to four lanes (as
 * replay 2.0.0 has four sender threads), each a thread with its own
 * connection sending one batch at a time; a shard always uses the same lane
 * (its position in the shard map modulo the lanes), so its records are
 * stored in the order they were replayed. A batch takes what its lane has
 * queued, up to 500 entries and 5 MiB, without waiting for more.
 *
 * Entries that fail (FailedRecordCount, ErrorCode per entry) or a request
 * that fails transiently go back to the front of their lane and are sent
 * again after an exponential backoff (100 ms doubling to 2 s), up to 100
 * attempts as in 2.0.0; an error that retrying cannot mend (a stream that
 * is gone, a refused signature) stops the replay.
 *
 * With -aggregate, a batch packs the records of each shard into KPL
 * aggregated records of up to 50 KiB (the KPL's AggregationMaxSize), whose
 * partition key is their first record's; a lone record is sent plain, as
 * the KPL does. */
#include "replay/replay.h"

#include "protocol/kpl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LANES 4
#define BATCH_RECORDS 500
#define BATCH_BYTES (5 * 1024 * 1024)
#define AGGREGATE_BYTES 51200
#define MAX_ATTEMPTS 100
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 2000

struct replay_sender;

struct lane {
    struct replay_sender *s;
    pthread_t thread;
    pthread_cond_t work;
    struct aws_client *client;
    struct replay_event *head, *tail; /* queued, oldest first */
    unsigned failures;                /* consecutive failed batches */
};

struct replay_sender {
    const struct replay_opts *o;
    struct replay_shards *shards;
    pthread_mutex_t mu;  /* queues, counters, closing, error */
    pthread_cond_t room; /* in_flight went down, or an error came */
    struct lane lanes[MAX_LANES];
    size_t n_lanes, started;
    size_t in_flight;
    uint64_t acked, dropped;
    int closing;
    char error[768]; /* the fatal error; "" while none */
};

/* One PutRecords entry: a record, or (with -aggregate) the records of one
 * aggregated record, chained through next. */
struct entry {
    struct replay_event *first, *last;
    size_t bytes; /* as counted against the limits */
    unsigned shard;
};

struct batch {
    struct entry e[BATCH_RECORDS];
    size_t n, bytes;
};

static struct replay_event *pop(struct lane *l)
{
    struct replay_event *e = l->head;

    l->head = e->next;
    if (!l->head)
        l->tail = NULL;
    e->next = NULL;
    return e;
}

/* With the lock held: entries from the lane's queue. */
static void take_batch(struct lane *l, int aggregate, struct batch *b)
{
    b->n = b->bytes = 0;
    while (l->head) {
        struct replay_event *e = l->head;
        size_t size = e->len + strlen(e->pk) + (aggregate ? KPL_RECORD_OVERHEAD : 0);
        if (aggregate) {
            struct entry *open = NULL;
            for (size_t i = b->n; i-- > 0 && !open;)
                if (b->e[i].shard == e->shard)
                    open = &b->e[i]; /* the shard's latest entry */
            if (open && open->bytes + size <= AGGREGATE_BYTES) {
                open->last->next = pop(l);
                open->last = e;
                open->bytes += size;
                b->bytes += size;
                continue;
            }
            size += KPL_FRAMING;
        }
        if (b->n == BATCH_RECORDS || (b->n && b->bytes + size > BATCH_BYTES))
            break;
        b->e[b->n++] = (struct entry){.first = pop(l), .last = e, .bytes = size, .shard = e->shard};
        b->bytes += size;
    }
}

static void put_entry(struct jw *w, const struct entry *en)
{
    jw_obj_begin(w);
    jw_key(w, "Data");
    if (en->first == en->last) {
        jw_blob(w, en->first->data, en->first->len);
    } else {
        size_t n = 0, len;
        for (const struct replay_event *e = en->first; e; e = e->next)
            n++;
        struct kpl_user_record *recs = malloc(n * sizeof *recs);
        if (!recs)
            abort(); /* as strbuf does */
        n = 0;
        for (const struct replay_event *e = en->first; e; e = e->next)
            recs[n++] = (struct kpl_user_record){e->pk, (const unsigned char *)e->data, e->len};
        unsigned char *agg = kpl_aggregate(recs, n, &len);
        if (!agg)
            abort(); /* out of memory: MD5 was checked at the start */
        jw_blob(w, agg, len);
        free(agg);
        free(recs);
    }
    jw_key(w, "PartitionKey");
    jw_str(w, en->first->pk);
    jw_obj_end(w);
}

static char *request_body(const struct replay_opts *o, const struct batch *b, size_t *len)
{
    struct jw w;

    jw_init(&w);
    jw_obj_begin(&w);
    kinesis_stream_member(&w, o);
    jw_key(&w, "Records");
    jw_arr_begin(&w);
    for (size_t i = 0; i < b->n; i++)
        put_entry(&w, &b->e[i]);
    jw_arr_end(&w);
    jw_obj_end(&w);
    return jw_take(&w, len);
}

/* Sorts out a batch's outcome: acknowledged records are freed (their
 * shard's watermark may advance), failed ones go back to the front of the
 * lane. results is the PutRecords answer's Records, or NULL when the whole
 * request failed. Returns how many records failed. */
static size_t settle(struct lane *l, struct batch *b, const cJSON *results, const char *why)
{
    struct replay_sender *s = l->s;
    struct replay_event *retry = NULL, *retry_last = NULL;
    int64_t hold = INT64_MAX;
    size_t failed = 0, dropped = 0, acked = 0;
    char reason[512];

    /* a failed record holds back the watermarks: none may pass its time */
    for (size_t i = 0; i < b->n; i++) {
        const cJSON *r = results ? cJSON_GetArrayItem(results, (int)i) : NULL;
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "ShardId")))
            for (const struct replay_event *e = b->e[i].first; e; e = e->next)
                hold = e->ts_ms < hold ? e->ts_ms : hold;
    }
    for (size_t i = 0; i < b->n; i++) {
        const cJSON *r = results ? cJSON_GetArrayItem(results, (int)i) : NULL;
        const cJSON *shard = cJSON_GetObjectItemCaseSensitive(r, "ShardId");
        int64_t latest = REPLAY_NO_TIME;
        for (struct replay_event *e = b->e[i].first, *next; e; e = next) {
            next = e->next;
            e->next = NULL;
            if (cJSON_IsString(shard)) {
                if (e->ts_ms <= hold && e->ts_ms > latest)
                    latest = e->ts_ms;
                acked++;
                free(e);
            } else if (++e->attempts >= MAX_ATTEMPTS) {
                dropped++;
                free(e);
            } else {
                failed++;
                if (retry_last)
                    retry_last->next = e;
                else
                    retry = e;
                retry_last = e;
            }
        }
        if (latest != REPLAY_NO_TIME)
            replay_shards_ack(s->shards, shard->valuestring, latest);
        if (!why && !cJSON_IsString(shard)) {
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "ErrorCode"),
                        *msg = cJSON_GetObjectItemCaseSensitive(r, "ErrorMessage");
            snprintf(reason, sizeof reason, "%s: %s", cJSON_IsString(code) ? code->valuestring : "no ShardId",
                     cJSON_IsString(msg) ? msg->valuestring : "");
            why = reason;
        }
    }
    if ((failed || dropped) && l->failures == 0)
        replay_log("WARN", "KinesisProducer", "retrying records of stream %s (%s)", s->o->stream_name, why);
    if (dropped)
        replay_log("WARN", "KinesisProducer", "dropped %zu records of stream %s after %d attempts (%s)", dropped,
                   s->o->stream_name, MAX_ATTEMPTS, why);
    pthread_mutex_lock(&s->mu);
    if (retry) {
        retry_last->next = l->head;
        if (!l->head)
            l->tail = retry_last;
        l->head = retry;
    }
    s->in_flight -= acked + dropped;
    s->acked += acked;
    s->dropped += dropped;
    pthread_cond_broadcast(&s->room);
    pthread_mutex_unlock(&s->mu);
    return failed + dropped;
}

static void fail(struct replay_sender *s, struct batch *b, const char *why)
{
    pthread_mutex_lock(&s->mu);
    if (!s->error[0])
        snprintf(s->error, sizeof s->error, "PutRecords to stream %s failed (%s)", s->o->stream_name, why);
    for (size_t i = 0; i < b->n; i++)
        for (struct replay_event *e = b->e[i].first, *next; e; e = next) {
            next = e->next;
            free(e);
            s->in_flight--;
        }
    pthread_cond_broadcast(&s->room);
    for (size_t i = 0; i < s->n_lanes; i++)
        pthread_cond_signal(&s->lanes[i].work);
    pthread_mutex_unlock(&s->mu);
}

static void send_batch(struct lane *l, struct batch *b)
{
    struct replay_sender *s = l->s;
    char err[512];
    size_t len;
    cJSON *answer;
    char *body = request_body(s->o, b, &len);
    enum kinesis_status st = kinesis_call(l->client, s->o, "PutRecords", body, len, &answer, err, sizeof err);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(answer, "Records");

    free(body);
    if (st == KINESIS_OK && cJSON_GetArraySize(results) != (int)b->n) {
        snprintf(err, sizeof err, "%d results for %zu records", cJSON_GetArraySize(results), b->n);
        st = KINESIS_FATAL;
    }
    if (st == KINESIS_FATAL) {
        fail(s, b, err);
    } else if (settle(l, b, st == KINESIS_OK ? results : NULL, st == KINESIS_OK ? NULL : err)) {
        unsigned shift = l->failures < 5 ? l->failures : 5;
        long ms = BACKOFF_BASE_MS << shift;
        struct timespec t = {.tv_sec = 0, .tv_nsec = 0};
        l->failures++;
        ms = ms < BACKOFF_CAP_MS ? ms : BACKOFF_CAP_MS;
        t.tv_sec = ms / 1000;
        t.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&t, NULL);
    } else {
        l->failures = 0;
    }
    cJSON_Delete(answer);
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct replay_sender *s = l->s;
    struct batch *b = malloc(sizeof *b);

    if (!b)
        abort();
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!l->head && !s->closing && !s->error[0])
            pthread_cond_wait(&l->work, &s->mu);
        if (s->error[0] || !l->head)
            break;
        take_batch(l, s->o->aggregate, b);
        pthread_mutex_unlock(&s->mu);
        send_batch(l, b);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    free(b);
    return NULL;
}

struct replay_sender *replay_sender_start(const struct replay_opts *o, struct replay_shards *shards,
                                          const char *endpoint, char *err, size_t errlen)
{
    size_t n = replay_shards_count(shards), len;

    if (o->aggregate) { /* MD5 may be refused (FIPS mode): say so now, not mid-replay */
        unsigned char *probe = kpl_aggregate(NULL, 0, &len);
        if (!probe) {
            snprintf(err, errlen, "-aggregate needs MD5, which GnuTLS does not provide here");
            return NULL;
        }
        free(probe);
    }
    struct replay_sender *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->o = o;
    s->shards = shards;
    s->n_lanes = n < MAX_LANES ? n : MAX_LANES;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->room, NULL);
    for (size_t i = 0; i < s->n_lanes; i++) {
        s->lanes[i].s = s;
        pthread_cond_init(&s->lanes[i].work, NULL);
    }
    for (size_t i = 0; i < s->n_lanes; i++) {
        struct lane *l = &s->lanes[i];
        if (!(l->client = aws_client_new(endpoint, err, errlen)) || pthread_create(&l->thread, NULL, lane_main, l)) {
            if (l->client)
                snprintf(err, errlen, "cannot start a sender thread");
            replay_sender_stop(s);
            return NULL;
        }
        s->started++;
    }
    return s;
}

int replay_sender_submit(struct replay_sender *s, struct replay_event *e)
{
    e->shard = (unsigned)replay_shards_route(s->shards, e->pk);
    struct lane *l = &s->lanes[e->shard % s->n_lanes];

    pthread_mutex_lock(&s->mu);
    /* backpressure: at most -maxOutstandingRecords in flight */
    while (s->o->backpressure && s->in_flight >= (size_t)s->o->max_outstanding && !s->error[0] &&
           !replay_stopping) {
        struct timespec t = replay_deadline(100);
        pthread_cond_timedwait(&s->room, &s->mu, &t);
    }
    if (s->error[0] || replay_stopping) {
        pthread_mutex_unlock(&s->mu);
        free(e);
        return -1;
    }
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    s->in_flight++;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int replay_sender_drain(struct replay_sender *s, int timeout_ms)
{
    struct timespec t = replay_deadline(timeout_ms);

    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0 && !s->error[0] && pthread_cond_timedwait(&s->room, &s->mu, &t) == 0)
        ;
    int rc = s->error[0] ? -1 : s->in_flight == 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

size_t replay_sender_in_flight(struct replay_sender *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t replay_sender_acked(struct replay_sender *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->acked;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t replay_sender_dropped(struct replay_sender *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->dropped;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const char *replay_sender_error(struct replay_sender *s)
{
    pthread_mutex_lock(&s->mu);
    const char *e = s->error[0] ? s->error : NULL;
    pthread_mutex_unlock(&s->mu);
    return e;
}

void replay_sender_stop(struct replay_sender *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    for (size_t i = 0; i < s->n_lanes; i++)
        pthread_cond_signal(&s->lanes[i].work);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->n_lanes; i++) {
        struct lane *l = &s->lanes[i];
        if (i < s->started)
            pthread_join(l->thread, NULL);
        while (l->head)
            free(pop(l));
        aws_client_free(l->client);
        pthread_cond_destroy(&l->work);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->room);
    free(s);
}
