/* PutRecord and PutRecordBatch: records of a DirectPut delivery stream are
 * committed to its buffer (fh_records) before the answer, so an acknowledged
 * record survives a crash; the delivery engine takes them from there.
 * Touches: fh_records (storage/firehose.c). */
#include "server/runtime/config.h"
#include "server/firehose/firehose.h"
#include "protocol/base64.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct put_job {
    int64_t fh_id;
    uint64_t now;
    struct db_fh_put *recs;
    size_t n;
};

static int put_job(struct db_conn *w, void *ctx)
{
    struct put_job *j = ctx;
    return db_fh_records_append(w, j->fh_id, j->now, j->recs, j->n);
}

/* Opaque ids shaped as AWS's (224 base64 characters): the record's row, the
 * stream's id, then random bytes, drawn once per request, so that ids of a
 * stream created again under the same name never repeat. */
#define RECORD_ID_LEN 224
struct record_ids {
    unsigned char raw[RECORD_ID_LEN / 4 * 3];
};

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static void record_ids_init(struct record_ids *ids, int64_t fh_id)
{
    put_be64(ids->raw + 8, (uint64_t)fh_id);
    gnutls_rnd(GNUTLS_RND_NONCE, ids->raw + 16, sizeof ids->raw - 16);
}

static void record_id(struct record_ids *ids, int64_t rec_id, char out[RECORD_ID_LEN + 1])
{
    put_be64(ids->raw, (uint64_t)rec_id);
    out[base64_encode(ids->raw, sizeof ids->raw, out)] = 0;
}

/* The stream must take direct puts: ACTIVE and DirectPut. */
static int writable_or_reply(struct svc_ctx *c, const cJSON *in, struct db_fh *f)
{
    if (firehose_lookup_or_reply(c, in, f))
        return -1;
    if (!strcmp(f->status, "CREATING")) {
        db_fh_clear(f);
        return firehose_not_found(c, v_str(in, "DeliveryStreamName"));
    }
    if (strcmp(f->type, "DirectPut")) {
        reply_error(c, ERR_INVALID_ARGUMENT, "This operation is not permitted on KinesisStreamAsSource delivery "
                    "stream type.");
        db_fh_clear(f);
        return -1;
    }
    return 0;
}

static int encrypted(const struct db_fh *f)
{
    return f->encryption && strstr(f->encryption, "\"ENABLED\"") != NULL;
}

static int store(struct svc_ctx *c, const struct db_fh *f, struct db_fh_put *recs, size_t n)
{
    struct put_job j = {.fh_id = f->id, .now = c->now_ms, .recs = recs, .n = n};
    int rc = db_write(put_job, &j);
    if (rc == TP_OK)
        return 0;
    return reply_error(c, ERR_SERVICE_UNAVAILABLE, "Slow down.");
}

int firehose_put_record(struct svc_ctx *c, const cJSON *in)
{
    struct db_fh f;
    struct db_fh_put rec = {0};
    char id[RECORD_ID_LEN + 1];
    if (writable_or_reply(c, in, &f))
        return -1;
    rec.data = v_blob(cJSON_GetObjectItemCaseSensitive(in, "Record"), "Data", &rec.len);
    int rc = store(c, &f, &rec, 1);
    if (!rc) {
        struct record_ids ids;
        record_ids_init(&ids, f.id);
        record_id(&ids, rec.id, id);
        jw_obj_begin(&c->out);
        jw_key(&c->out, "RecordId"); jw_str(&c->out, id);
        jw_key(&c->out, "Encrypted"); jw_bool(&c->out, encrypted(&f));
        jw_obj_end(&c->out);
    }
    db_fh_clear(&f);
    return rc;
}

int firehose_put_record_batch(struct svc_ctx *c, const cJSON *in)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(in, "Records"), *r;
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0, total = 0;
    struct db_fh f;
    char id[RECORD_ID_LEN + 1];
    if (writable_or_reply(c, in, &f))
        return -1;
    struct db_fh_put *recs = calloc(n, sizeof *recs);
    if (!recs) {
        db_fh_clear(&f);
        return reply_error(c, ERR_SERVICE_UNAVAILABLE, "Slow down.");
    }
    cJSON_ArrayForEach(r, list) {
        recs[i].data = v_blob(r, "Data", &recs[i].len);
        total += recs[i++].len;
    }
    int rc;
    if (total > FH_MAX_BATCH_BYTES)
        rc = reply_error(c, ERR_INVALID_ARGUMENT, "Records size exceeds 4 MB limit");
    else
        rc = store(c, &f, recs, n);
    if (!rc) {
        struct jw *w = &c->out;
        jw_obj_begin(w);
        jw_key(w, "FailedPutCount"); jw_int(w, 0);
        jw_key(w, "Encrypted"); jw_bool(w, encrypted(&f));
        jw_key(w, "RequestResponses");
        jw_arr_begin(w);
        struct record_ids ids;
        record_ids_init(&ids, f.id);
        for (i = 0; i < n; i++) {
            record_id(&ids, recs[i].id, id);
            jw_obj_begin(w);
            jw_key(w, "RecordId"); jw_str(w, id);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        jw_obj_end(w);
    }
    free(recs);
    db_fh_clear(&f);
    return rc;
}
