/* The objects a delivery writes: each output compresses its records as they
 * come into an unlinked blob (so a 128 MiB buffer never sits in memory), and
 * a delivery names them (protocol/fh_prefix.c), then links them to their
 * buckets together with the source's commit in one writer job. */
#include "server/firehose/firehose_delivery.h"
#include "server/runtime/config.h"
#include "protocol/fh_prefix.h"
#include "protocol/checksum.h"
#include "protocol/uuid.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fh_worker_error(struct fh_worker *wk, const char *fmt, ...)
{
    char msg[sizeof wk->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&wk->lock);
    memcpy(wk->last_error, msg, sizeof msg);
    wk->last_error_ms = db_now_ms();
    pthread_mutex_unlock(&wk->lock);
    log_msg(LOG_WARN, "firehose %s: %s", wk->name, msg);
}

static int sink(void *ctx, const void *p, size_t n)
{
    struct fh_output *o = ctx;
    gnutls_hash(o->md5, p, n);
    o->stored_bytes += n;
    return db_blob_write(o->bw, p, n) == TP_OK ? 0 : -1;
}

static int open_output(struct fh_output *o)
{
    char entry[64];
    /* a ZIP entry is named by a random UUID, unrelated to the object key */
    uuid_v4(entry);
    o->records = o->raw_bytes = o->stored_bytes = 0;
    o->oldest_arrival_ms = UINT64_MAX;
    o->failed = 0;
    if (gnutls_hash_init(&o->md5, GNUTLS_DIG_MD5) < 0)
        return -1;
    if (!(o->bw = db_blob_begin()) || !(o->z = compressor_new(o->dest->compression, entry, sink, o))) {
        fh_output_abort(o);
        return -1;
    }
    return 0;
}

void fh_output_abort(struct fh_output *o)
{
    if (o->z)
        compressor_free(o->z);
    if (o->bw)
        db_blob_abort(o->bw);
    if (o->md5)
        gnutls_hash_deinit(o->md5, NULL);
    o->z = NULL;
    o->bw = NULL;
    o->md5 = NULL;
    o->records = o->raw_bytes = 0;
}

int fh_output_add(struct fh_output *o, const void *data, size_t len, uint64_t arrival_ms, const char *delimiter)
{
    if (!o->z && open_output(o))
        return o->failed = -1;
    if ((delimiter && o->records && compressor_write(o->z, delimiter, strlen(delimiter))) ||
        compressor_write(o->z, data, len))
        return o->failed = -1;
    o->records++;
    o->raw_bytes += len;
    if (arrival_ms < o->oldest_arrival_ms)
        o->oldest_arrival_ms = arrival_ms;
    return 0;
}

/* Finishes o into r: the compressed tail, the blob, the key. */
static int finish_output(struct fh_worker *wk, struct fh_output *o, struct fh_ready *r)
{
    unsigned char md5[16];
    char key[DB_KEY_MAX + 1];
    int rc = compressor_finish(o->z);
    o->z = NULL;
    o->records = o->raw_bytes = 0;
    if (rc || o->failed) {
        fh_output_abort(o);
        return -1;
    }
    gnutls_hash_deinit(o->md5, md5);
    o->md5 = NULL;
    memset(r, 0, sizeof *r);
    checksum_etag(md5, r->etag);
    rc = db_blob_finish(o->bw, &r->ext);
    o->bw = NULL;
    if (rc != TP_OK)
        return -1;
    if (fh_object_key(o->dest->prefix, o->dest->error_prefix, o->error_type, wk->name, wk->version,
                      o->oldest_arrival_ms, o->dest->time_zone, o->dest->ext, key, sizeof key) < 0)
        return -1;
    snprintf(r->bucket, sizeof r->bucket, "%s", o->dest->bucket);
    r->key = strdup(key);
    r->content_encoding = fh_compression_content_encoding(o->dest->compression);
    return r->key ? 0 : -1;
}

static void free_ready(struct fh_worker *wk)
{
    for (unsigned i = 0; i < wk->n_ready; i++)
        free(wk->ready[i].key);
    free(wk->ready);
    wk->ready = NULL;
    wk->n_ready = 0;
}

struct link_job {
    struct fh_worker *wk;
    char missing[64];
};

static int link_one(struct db_conn *w, const struct fh_ready *r, struct link_job *j)
{
    struct db_bucket b;
    int rc = db_bucket_get(w, r->bucket, &b);
    if (rc == TP_ENOTFOUND)
        snprintf(j->missing, sizeof j->missing, "%s", r->bucket);
    if (rc != TP_OK)
        return rc;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "Content-Type", "application/octet-stream");
    if (r->content_encoding)
        cJSON_AddStringToObject(h, "Content-Encoding", r->content_encoding);
    struct db_object o = {
        .bucket_id = b.id, .key = r->key, .size = r->ext.size, .last_modified_ms = db_now_ms() / 1000 * 1000,
        .headers = cJSON_PrintUnformatted(h), .extents = (struct db_extent *)&r->ext, .n_extents = 1,
    };
    snprintf(o.etag, sizeof o.etag, "%s", r->etag);
    cJSON_Delete(h);
    rc = o.headers ? db_object_put(w, &o) : TP_EIO;
    free(o.headers);
    return rc;
}

static int link_job(struct db_conn *w, void *ctx)
{
    struct link_job *j = ctx;
    struct db_fh f;
    /* a stream deleted meanwhile delivers nothing more */
    int rc = db_fh_get_id(w, j->wk->id, db_now_ms(), &f);
    if (rc != TP_OK)
        return rc;
    db_fh_clear(&f);
    for (unsigned i = 0; i < j->wk->n_ready && rc == TP_OK; i++)
        rc = link_one(w, &j->wk->ready[i], j);
    return rc == TP_OK ? fh_source_commit(w, j->wk) : rc;
}

int fh_deliver_retry(struct fh_worker *wk)
{
    struct link_job j = {wk, ""};
    int rc = db_write(link_job, &j);
    if (rc == TP_OK || (rc == TP_ENOTFOUND && !j.missing[0])) { /* delivered, or the stream is gone */
        if (rc == TP_OK)
            fh_source_committed(wk);
        free_ready(wk);
        return 0;
    }
    if (j.missing[0])
        fh_worker_error(wk, "S3.NoSuchBucket: The specified bucket does not exist (%s). Create the bucket or use a "
                        "different bucket that does exist.", j.missing);
    else
        fh_worker_error(wk, "InternalFailure: storing the delivered objects failed");
    wk->retry_at_ms = db_now_ms() + 1000;
    return -1;
}

int fh_deliver(struct fh_worker *wk)
{
    struct fh_output *outs[] = {&wk->out_main, &wk->out_error, &wk->out_backup};
    uint64_t records = wk->out_main.records;
    wk->ready = calloc(3, sizeof *wk->ready);
    if (!wk->ready)
        return -1;
    for (unsigned i = 0; i < 3; i++) {
        if (!outs[i]->z)
            continue;
        if (finish_output(wk, outs[i], &wk->ready[wk->n_ready])) {
            /* the records are still at the source: build it all again */
            for (unsigned k = 0; k < 3; k++)
                fh_output_abort(outs[k]);
            free_ready(wk);
            fh_worker_error(wk, "InternalFailure: writing the object failed");
            return -1;
        }
        wk->n_ready++;
    }
    unsigned n = wk->n_ready;
    wk->buffer_since_ms = 0;
    if (fh_deliver_retry(wk))
        return -1;
    pthread_mutex_lock(&wk->lock);
    wk->delivered_objects += n;
    wk->delivered_records += records;
    wk->last_delivery_ms = db_now_ms();
    pthread_mutex_unlock(&wk->lock);
    return 0;
}
