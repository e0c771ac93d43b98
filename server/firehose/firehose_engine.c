/* The delivery engine's threads: a supervisor that keeps one worker per
 * ACTIVE delivery stream (started when one appears, stopped when it goes,
 * restarted when its version changes), and the workers' loop: read the
 * source, transform, deliver when the buffer is full or old enough. */
#include "server/firehose/firehose_engine.h"
#include "server/firehose/firehose_delivery.h"
#include "server/firehose/firehose.h"
#include "server/runtime/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 100          /* an idle worker looks at its source this often */
#define READ_MAX (4u << 20)  /* bytes read from the source per round */
#define MAX_WORKERS 256

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int running, woken;
    struct fh_worker *workers[MAX_WORKERS];
    unsigned n;
} E = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void fh_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether the buffer must go out now: full, or as old as the interval. */
static int due(const struct fh_worker *wk, uint64_t now)
{
    const struct fh_s3 *d = &wk->cfg.dest;
    if (!wk->buffer_since_ms)
        return 0;
    return now - wk->buffer_since_ms >= d->interval_ms || wk->out_main.raw_bytes + wk->pending_bytes >= d->size_bytes;
}

/* Whether the Lambda hook must see the pending records now. */
static int lambda_due(const struct fh_worker *wk, uint64_t now)
{
    if (!wk->n_pending)
        return 0;
    if (!wk->cfg.lambda_arn[0])
        return 1;
    return wk->pending_bytes >= wk->cfg.lambda_buffer_bytes || now - wk->pending_since_ms >= wk->cfg.lambda_interval_ms;
}

static void step(struct fh_worker *wk)
{
    uint64_t now = db_now_ms();
    if (wk->n_ready) { /* a delivery waits to be linked: nothing else until it is */
        if (now >= wk->retry_at_ms)
            fh_deliver_retry(wk);
        else
            fh_sleep_ms(POLL_MS);
        return;
    }
    /* read no further than the buffer's size hint, so objects end near it */
    uint64_t buffered = wk->out_main.raw_bytes + wk->pending_bytes, size = wk->cfg.dest.size_bytes;
    uint64_t room = buffered < size ? size - buffered : 0;
    long n = fh_source_read(wk, room < READ_MAX ? room : READ_MAX);
    if (n < 0)
        fh_worker_error(wk, "InternalFailure: reading the source failed");
    now = db_now_ms();
    int deliver = due(wk, now);
    if ((deliver || lambda_due(wk, now)) && fh_transform_pending(wk))
        return;
    if (deliver)
        fh_deliver(wk);
    pthread_mutex_lock(&wk->lock);
    wk->buffered_records = wk->n_pending + wk->out_main.records;
    wk->buffered_bytes = wk->pending_bytes + wk->out_main.raw_bytes;
    pthread_mutex_unlock(&wk->lock);
    if (!deliver && n <= 0)
        fh_sleep_ms(POLL_MS);
}

static void worker_free(struct fh_worker *wk)
{
    for (size_t i = 0; i < wk->n_pending; i++)
        fh_record_free(&wk->pending[i]);
    free(wk->pending);
    fh_output_abort(&wk->out_main);
    fh_output_abort(&wk->out_error);
    fh_output_abort(&wk->out_backup);
    for (unsigned i = 0; i < wk->n_ready; i++)
        free(wk->ready[i].key);
    free(wk->ready);
    fh_source_close(&wk->src);
    firehose_settings_free(&wk->cfg);
    pthread_mutex_destroy(&wk->lock);
    free(wk);
}

static void *worker_main(void *arg)
{
    struct fh_worker *wk = arg;
    while (!wk->stop)
        step(wk);
    return NULL;
}

static struct fh_worker *worker_new(const struct db_fh *f)
{
    struct fh_worker *wk = calloc(1, sizeof *wk);
    if (!wk)
        return NULL;
    pthread_mutex_init(&wk->lock, NULL);
    wk->id = f->id;
    wk->version = f->version;
    snprintf(wk->region, sizeof wk->region, "%s", f->region);
    snprintf(wk->name, sizeof wk->name, "%s", f->name);
    firehose_arn(f->region, f->name, wk->arn, sizeof wk->arn);
    if (firehose_settings_parse(f->destination, &wk->cfg) || fh_source_open(wk, f)) {
        log_msg(LOG_ERROR, "firehose %s: its stored configuration cannot be read", f->name);
        firehose_settings_free(&wk->cfg);
        pthread_mutex_destroy(&wk->lock);
        free(wk);
        return NULL;
    }
    wk->out_main.dest = &wk->cfg.dest;
    wk->out_error.dest = &wk->cfg.dest;
    wk->out_error.error_type = "processing-failed";
    wk->out_backup.dest = &wk->cfg.backup_dest;
    if (pthread_create(&wk->thread, NULL, worker_main, wk)) {
        worker_free(wk);
        return NULL;
    }
    return wk;
}

static void worker_stop(struct fh_worker *wk)
{
    wk->stop = 1;
    pthread_join(wk->thread, NULL);
    worker_free(wk);
}

/* ---- supervisor ---- */

struct wanted {
    struct db_fh *v;
    unsigned n;
};

static int want(void *ctx, const struct db_fh *f)
{
    struct wanted *w = ctx;
    if (strcmp(f->status, "ACTIVE") || w->n == MAX_WORKERS)
        return 0;
    struct db_fh *c = &w->v[w->n++];
    *c = *f;
    c->source = f->source ? strdup(f->source) : NULL;
    c->destination = strdup(f->destination);
    c->encryption = NULL;
    return 0;
}

/* Makes the workers match the ACTIVE delivery streams. */
static void reconcile(void)
{
    struct wanted w = {calloc(MAX_WORKERS, sizeof *w.v), 0};
    if (!w.v)
        return;
    struct db_conn *c = db_reader_acquire();
    int rc = db_fh_list(c, NULL, NULL, "", db_now_ms(), want, &w);
    db_reader_release(c);
    if (rc == TP_OK) {
        pthread_mutex_lock(&E.lock);
        for (unsigned i = 0; i < E.n;) {
            struct fh_worker *wk = E.workers[i];
            int keep = 0;
            for (unsigned k = 0; k < w.n && !keep; k++)
                keep = w.v[k].id == wk->id && w.v[k].version == wk->version;
            if (keep) {
                i++;
                continue;
            }
            /* gone or changed: what it buffered is still at the source, and a
             * new worker under the new settings reads it again */
            E.workers[i] = E.workers[--E.n];
            pthread_mutex_unlock(&E.lock);
            worker_stop(wk);
            pthread_mutex_lock(&E.lock);
        }
        for (unsigned k = 0; k < w.n; k++) {
            int have = 0;
            for (unsigned i = 0; i < E.n && !have; i++)
                have = E.workers[i]->id == w.v[k].id;
            struct fh_worker *wk = have || E.n == MAX_WORKERS ? NULL : worker_new(&w.v[k]);
            if (wk)
                E.workers[E.n++] = wk;
        }
        pthread_mutex_unlock(&E.lock);
    }
    for (unsigned k = 0; k < w.n; k++)
        db_fh_clear(&w.v[k]);
    free(w.v);
}

static void *supervisor(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&E.lock);
    while (E.running) {
        E.woken = 0;
        pthread_mutex_unlock(&E.lock);
        reconcile();
        pthread_mutex_lock(&E.lock);
        if (E.running && !E.woken) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&E.cond, &E.lock, &ts);
        }
    }
    pthread_mutex_unlock(&E.lock);
    return NULL;
}

int firehose_engine_start(void)
{
    E.running = 1;
    if (pthread_create(&E.thread, NULL, supervisor, NULL)) {
        E.running = 0;
        return -1;
    }
    return 0;
}

void firehose_engine_stop(void)
{
    pthread_mutex_lock(&E.lock);
    if (!E.running) {
        pthread_mutex_unlock(&E.lock);
        return;
    }
    E.running = 0;
    pthread_cond_signal(&E.cond);
    pthread_mutex_unlock(&E.lock);
    pthread_join(E.thread, NULL);
    for (unsigned i = 0; i < E.n; i++)
        worker_stop(E.workers[i]);
    E.n = 0;
}

void firehose_engine_wake(void)
{
    pthread_mutex_lock(&E.lock);
    E.woken = 1;
    pthread_cond_signal(&E.cond);
    pthread_mutex_unlock(&E.lock);
}

static void time_or_null(struct jw *w, uint64_t ms)
{
    if (ms)
        jw_time_ms(w, ms);
    else
        jw_raw(w, "null", 4);
}

void firehose_engine_status(struct jw *w)
{
    jw_obj_begin(w);
    jw_key(w, "DeliveryStreams");
    jw_arr_begin(w);
    pthread_mutex_lock(&E.lock);
    for (unsigned i = 0; i < E.n; i++) {
        struct fh_worker *wk = E.workers[i];
        pthread_mutex_lock(&wk->lock);
        jw_obj_begin(w);
        jw_key(w, "DeliveryStreamName"); jw_str(w, wk->name);
        jw_key(w, "Region"); jw_str(w, wk->region);
        jw_key(w, "VersionId"); jw_int(w, wk->version);
        jw_key(w, "BufferedRecords"); jw_int(w, (long long)wk->buffered_records);
        jw_key(w, "BufferedBytes"); jw_int(w, (long long)wk->buffered_bytes);
        jw_key(w, "DeliveredObjects"); jw_int(w, (long long)wk->delivered_objects);
        jw_key(w, "DeliveredRecords"); jw_int(w, (long long)wk->delivered_records);
        jw_key(w, "LastDeliveryTimestamp"); time_or_null(w, wk->last_delivery_ms);
        jw_key(w, "LastError");
        if (wk->last_error[0])
            jw_str(w, wk->last_error);
        else
            jw_raw(w, "null", 4);
        jw_key(w, "LastErrorTimestamp"); time_or_null(w, wk->last_error_ms);
        jw_obj_end(w);
        pthread_mutex_unlock(&wk->lock);
    }
    pthread_mutex_unlock(&E.lock);
    jw_arr_end(w);
    jw_obj_end(w);
}
