/* Where a delivery stream's records come from: its DirectPut buffer
 * (fh_records rows, read after the highest row read) or its Kinesis source
 * stream (every shard from its checkpoint; a shard without one starts at the
 * DeliveryStartTimestamp, or at its beginning when it was created later,
 * which covers children of resharding). KPL aggregates are de-aggregated
 * here, before the Lambda hook sees them, as Firehose does. */
#include "server/firehose/firehose_delivery.h"
#include "protocol/kinesis_ids.h"
#include "protocol/kpl.h"
#include "storage/records.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARD_REFRESH_MS 1000

void fh_record_free(struct fh_record *r)
{
    free(r->data);
}

static struct fh_record *push(struct fh_worker *wk)
{
    if (wk->n_pending == wk->cap_pending) {
        size_t cap = wk->cap_pending ? wk->cap_pending * 2 : 256;
        struct fh_record *p = realloc(wk->pending, cap * sizeof *p);
        if (!p)
            return NULL;
        wk->pending = p;
        wk->cap_pending = cap;
    }
    struct fh_record *r = &wk->pending[wk->n_pending];
    memset(r, 0, sizeof *r);
    return r;
}

/* Copies the record (and its partition key, NUL-terminated, after it) into
 * the pending list. */
static int take(struct fh_worker *wk, struct fh_record *r, const void *data, size_t len, const char *pk,
                size_t pk_len)
{
    r->data = malloc(len + pk_len + 1);
    if (!r->data)
        return -1;
    memcpy(r->data, data, len);
    r->len = len;
    if (pk) {
        char *p = (char *)r->data + len;
        memcpy(p, pk, pk_len);
        p[pk_len] = 0;
        r->pk = p;
    }
    if (!wk->n_pending)
        wk->pending_since_ms = db_now_ms();
    if (!wk->buffer_since_ms)
        wk->buffer_since_ms = db_now_ms();
    wk->n_pending++;
    wk->pending_bytes += len;
    return 0;
}

/* ---- opening ---- */

int fh_source_open(struct fh_worker *wk, const struct db_fh *f)
{
    struct fh_source *s = &wk->src;
    memset(s, 0, sizeof *s);
    s->kinesis = !strcmp(f->type, "KinesisStreamAsSource");
    if (!s->kinesis)
        return 0;
    cJSON *src = cJSON_Parse(f->source ? f->source : "{}");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(src, "KinesisStreamSourceDescription");
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(k, "KinesisStreamARN");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(k, "DeliveryStartTimestamp");
    int rc = -1;
    if (cJSON_IsString(arn) && cJSON_IsNumber(start) &&
        !kinesis_parse_arn(arn->valuestring, s->stream_region, sizeof s->stream_region, s->stream_name)) {
        snprintf(s->stream_arn, sizeof s->stream_arn, "%s", arn->valuestring);
        s->start_ms = (uint64_t)(start->valuedouble * 1000.0 + 0.5);
        rc = 0;
    }
    cJSON_Delete(src);
    return rc;
}

void fh_source_close(struct fh_source *s)
{
    free(s->shards);
    s->shards = NULL;
    s->n_shards = 0;
}

/* Brings the shard list up to date, keeping the read positions of known
 * shards and placing new ones. */
static int refresh_shards(struct db_conn *c, struct fh_source *s, int64_t fh_id)
{
    struct db_stream st;
    struct db_shard *sh;
    unsigned n;
    uint64_t now = db_now_ms();
    if (db_stream_get(c, s->stream_region, s->stream_name, now, &st) != TP_OK) {
        fh_source_close(s); /* gone (perhaps for good): nothing to read */
        return 0;
    }
    if (db_stream_shards(c, st.id, &sh, &n) != TP_OK)
        return -1;
    struct fh_shard *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        free(sh);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        struct fh_shard *x = &v[i];
        x->id = sh[i].id;
        x->ix = sh[i].ix;
        x->created_ms = sh[i].created_ms;
        kinesis_shard_id(sh[i].ix, x->shard_id);
        int known = 0;
        for (unsigned j = 0; j < s->n_shards && !known; j++)
            if (s->shards[j].id == x->id) {
                x->next_seq = s->shards[j].next_seq;
                x->durable_seq = s->shards[j].durable_seq;
                known = 1;
            }
        if (known)
            continue;
        uint64_t seq;
        if (db_fh_checkpoint_get(c, fh_id, x->id, &seq) == TP_OK)
            x->next_seq = seq;
        else if (x->created_ms < s->start_ms && db_records_seq_at(c, x->id, s->start_ms, sh[i].next_seq, &seq) == TP_OK)
            x->next_seq = seq;
        else
            x->next_seq = 0;
        x->durable_seq = x->next_seq;
    }
    free(sh);
    free(s->shards);
    s->shards = v;
    s->n_shards = n;
    s->shards_at_ms = now;
    return 0;
}

/* ---- reading ---- */

struct kread {
    struct fh_worker *wk;
    struct fh_shard *shard;
    uint64_t budget;
    int failed;
};

struct kuser {
    struct kread *kr;
    const struct db_record *outer;
};

static int add_kinesis(struct kread *kr, const struct db_record *outer, const char *pk, size_t pk_len,
                       const void *data, size_t len, int aggregated, uint32_t subseq)
{
    struct fh_record *r = push(kr->wk);
    if (!r || take(kr->wk, r, data, len, pk, pk_len)) {
        kr->failed = 1;
        return -1;
    }
    r->arrival_ms = outer->arrival_ms;
    r->kinesis = 1;
    memcpy(r->shard_id, kr->shard->shard_id, sizeof r->shard_id);
    r->sn = (struct seqnum){kr->shard->created_ms / 1000, kr->shard->ix, outer->seq_ix, outer->arrival_ms / 1000};
    r->aggregated = aggregated;
    r->subseq = subseq;
    return 0;
}

static int user_record(void *ctx, const struct kpl_record *u)
{
    struct kuser *k = ctx;
    return add_kinesis(k->kr, k->outer, u->pk, u->pk_len, u->data, u->len, 1, u->subseq);
}

static int kinesis_record(void *ctx, const struct db_record *rec)
{
    struct kread *kr = ctx;
    if (kr->budget == 0)
        return 1;
    struct kuser k = {kr, rec};
    size_t before = kr->wk->n_pending;
    int n = kpl_deaggregate(rec->data, rec->data_len, user_record, &k);
    if (n == KPL_NOT_AGGREGATED)
        add_kinesis(kr, rec, rec->pk, rec->pk_len, rec->data, rec->data_len, 0, 0);
    else if (n < 0)
        kr->failed = 1;
    if (kr->failed) {
        /* take the whole aggregate or none of it */
        while (kr->wk->n_pending > before) {
            struct fh_record *r = &kr->wk->pending[--kr->wk->n_pending];
            kr->wk->pending_bytes -= r->len;
            fh_record_free(r);
        }
        return 1;
    }
    kr->budget = rec->data_len >= kr->budget ? 0 : kr->budget - rec->data_len;
    return 0;
}

static long read_kinesis(struct fh_worker *wk, struct db_conn *c, uint64_t max_bytes)
{
    struct fh_source *s = &wk->src;
    uint64_t now = db_now_ms();
    size_t before = wk->n_pending;
    if ((!s->n_shards || now - s->shards_at_ms >= SHARD_REFRESH_MS) && refresh_shards(c, s, wk->id))
        return -1;
    /* an equal share of the budget per shard, so no shard starves */
    uint64_t share = s->n_shards ? (max_bytes + s->n_shards - 1) / s->n_shards : 0;
    for (unsigned i = 0; i < s->n_shards; i++) {
        struct kread kr = {wk, &s->shards[i], share, 0};
        struct db_read_result res;
        if (db_records_read(c, s->shards[i].id, s->shards[i].next_seq, 0, kinesis_record, &kr, &res) != TP_OK ||
            kr.failed)
            return -1;
        s->shards[i].next_seq = res.next_seq;
    }
    return (long)(wk->n_pending - before);
}

struct dread {
    struct fh_worker *wk;
    uint64_t budget;
    int failed;
};

static int direct_record(void *ctx, int64_t id, uint64_t arrival_ms, const void *data, size_t len)
{
    struct dread *d = ctx;
    if (d->budget == 0)
        return 1;
    struct fh_record *r = push(d->wk);
    if (!r || take(d->wk, r, data, len, NULL, 0)) {
        d->failed = 1;
        return 1;
    }
    r->arrival_ms = arrival_ms;
    d->wk->src.last_row = id;
    d->budget = len >= d->budget ? 0 : d->budget - len;
    return 0;
}

long fh_source_read(struct fh_worker *wk, uint64_t max_bytes)
{
    struct db_conn *c = db_reader_acquire();
    long n;
    if (wk->src.kinesis) {
        n = read_kinesis(wk, c, max_bytes);
    } else {
        struct dread d = {wk, max_bytes ? max_bytes : 1, 0};
        size_t before = wk->n_pending;
        n = db_fh_records_read(c, wk->id, wk->src.last_row, 10000, direct_record, &d) != TP_OK || d.failed
                ? -1
                : (long)(wk->n_pending - before);
    }
    db_reader_release(c);
    return n;
}

int fh_source_commit(struct db_conn *w, struct fh_worker *wk)
{
    struct fh_source *s = &wk->src;
    if (!s->kinesis)
        return db_fh_records_delete(w, wk->id, s->last_row);
    int rc = TP_OK;
    for (unsigned i = 0; i < s->n_shards && rc == TP_OK; i++)
        if (s->shards[i].next_seq != s->shards[i].durable_seq)
            rc = db_fh_checkpoint_set(w, wk->id, s->shards[i].id, s->shards[i].next_seq);
    return rc;
}

void fh_source_committed(struct fh_worker *wk)
{
    wk->src.durable_row = wk->src.last_row;
    for (unsigned i = 0; i < wk->src.n_shards; i++)
        wk->src.shards[i].durable_seq = wk->src.shards[i].next_seq;
}

void fh_source_rewind(struct fh_worker *wk)
{
    wk->src.last_row = wk->src.durable_row;
    for (unsigned i = 0; i < wk->src.n_shards; i++)
        wk->src.shards[i].next_seq = wk->src.shards[i].durable_seq;
    wk->buffer_since_ms = 0;
}
