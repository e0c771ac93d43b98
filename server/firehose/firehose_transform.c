/* From pending records to the outputs. With a Lambda processor: batches
 * within its BufferSizeInMBs and Lambda's 6 MB payload limit, the event and
 * response of AWS's Firehose data transformation (protocols.md §2.6),
 * NumberOfRetries on failed invocations; Ok records go to the destination,
 * Dropped ones nowhere, failed ones (and every record of an invocation that
 * kept failing) to the error prefix as Firehose's failure JSON lines. The
 * source backup, when enabled, gets every record as read. */
#include "server/firehose/firehose_delivery.h"
#include "server/firehose/lambda.h"
#include "protocol/base64.h"
#include "protocol/fh_prefix.h"
#include "protocol/uuid.h"
#include "protocol/json_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_MAX 6000000         /* Lambda's synchronous payload limit (6 MB) */
#define EVENT_RECORD_OVERHEAD 400 /* JSON around one record's data, generously */
#define RECORD_ID_MAX 96

static const char *delimiter(const struct fh_worker *wk)
{
    return wk->cfg.append_delimiter ? "\n" : NULL;
}

static int deliver_ok(struct fh_worker *wk, const void *data, size_t len, uint64_t arrival_ms)
{
    return fh_output_add(&wk->out_main, data, len, arrival_ms, delimiter(wk));
}

/* One line of processing-failed output, as Firehose writes it. */
static int deliver_failed(struct fh_worker *wk, const struct fh_record *r, unsigned attempts, const char *code,
                          const char *message)
{
    struct jw w;
    size_t n;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "attemptsMade"); jw_int(&w, attempts);
    jw_key(&w, "arrivalTimestamp"); jw_int(&w, (long long)r->arrival_ms);
    jw_key(&w, "errorCode"); jw_str(&w, code);
    jw_key(&w, "errorMessage"); jw_str(&w, message);
    jw_key(&w, "attemptEndingTimestamp"); jw_int(&w, (long long)db_now_ms());
    jw_key(&w, "rawData"); jw_blob(&w, r->data, r->len);
    jw_key(&w, "lambdaArn"); jw_str(&w, wk->cfg.lambda_arn);
    jw_obj_end(&w);
    char *line = jw_take(&w, &n);
    int rc = -1;
    if (line) {
        line[n] = '\n'; /* jw_take leaves room for a NUL */
        rc = fh_output_add(&wk->out_error, line, n + 1, r->arrival_ms, NULL);
    }
    free(line);
    jw_free(&w);
    return rc;
}

static void record_id(struct fh_worker *wk, size_t i, char out[RECORD_ID_MAX])
{
    const struct fh_record *r = &wk->pending[i];
    char seq[SEQNUM_DEC_MAX];
    if (r->kinesis) {
        seqnum_format(&r->sn, seq);
        snprintf(out, RECORD_ID_MAX, "%s%010u", seq, r->subseq);
    } else {
        /* unique within the invocation (and beyond): a running count */
        snprintf(out, RECORD_ID_MAX, "%llu%08llu", (unsigned long long)r->arrival_ms,
                 (unsigned long long)(++wk->record_ids % 100000000));
    }
}

/* The invocation event for pending[from, to). */
static char *event_json(struct fh_worker *wk, size_t from, size_t to, char (*ids)[RECORD_ID_MAX], size_t *len)
{
    struct jw w;
    char uuid[40];
    uuid_v4(uuid);
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "invocationId"); jw_str(&w, uuid);
    if (wk->src.kinesis) {
        jw_key(&w, "sourceKinesisStreamArn");
        jw_str(&w, wk->src.stream_arn);
    }
    jw_key(&w, "deliveryStreamArn"); jw_str(&w, wk->arn);
    jw_key(&w, "region"); jw_str(&w, wk->region);
    jw_key(&w, "records");
    jw_arr_begin(&w);
    for (size_t i = from; i < to; i++) {
        const struct fh_record *r = &wk->pending[i];
        record_id(wk, i, ids[i - from]);
        jw_obj_begin(&w);
        jw_key(&w, "recordId"); jw_str(&w, ids[i - from]);
        jw_key(&w, "approximateArrivalTimestamp"); jw_int(&w, (long long)r->arrival_ms);
        jw_key(&w, "data"); jw_blob(&w, r->data, r->len);
        if (wk->src.kinesis) {
            jw_key(&w, "kinesisRecordMetadata");
            jw_obj_begin(&w);
            jw_key(&w, "shardId"); jw_str(&w, r->shard_id);
            jw_key(&w, "partitionKey"); jw_str(&w, r->pk);
            jw_key(&w, "approximateArrivalTimestamp"); jw_int(&w, (long long)r->arrival_ms);
            char seq[SEQNUM_DEC_MAX];
            seqnum_format(&r->sn, seq);
            jw_key(&w, "sequenceNumber"); jw_str(&w, seq);
            jw_key(&w, "subsequenceNumber"); jw_int(&w, r->subseq);
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    char *text = jw_take(&w, len);
    jw_free(&w);
    return text;
}

/* Invokes the hook for pending[from, to) and routes the outcome. */
static int transform_batch(struct fh_worker *wk, size_t from, size_t to)
{
    size_t n = to - from, len;
    char (*ids)[RECORD_ID_MAX] = calloc(n, sizeof *ids);
    const char **idp = calloc(n, sizeof *idp);
    struct lambda_record *out = calloc(n, sizeof *out);
    char *event = ids && idp && out ? event_json(wk, from, to, ids, &len) : NULL;
    struct lambda_failure fail;
    char *resp = NULL;
    size_t resp_len;
    unsigned attempts = 0;
    int rc = -1, invoked;

    if (!event)
        goto out;
    const struct lambda_hook *hook = lambda_find(wk->cfg.lambda_arn);
    do {
        if (attempts)
            fh_sleep_ms(200 * attempts);
        attempts++;
        invoked = lambda_invoke(hook, event, len, &resp, &resp_len, &fail) == 0;
    } while (!invoked && fail.retryable && attempts <= wk->cfg.lambda_retries && !wk->stop);

    for (size_t i = 0; i < n; i++)
        idp[i] = ids[i];
    if (invoked && lambda_check_response(resp, resp_len, idp, n, out, &fail) == 0) {
        rc = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            const struct fh_record *r = &wk->pending[from + i];
            if (out[i].result == LAMBDA_OK)
                rc = deliver_ok(wk, out[i].data, out[i].len, r->arrival_ms);
            else if (out[i].result == LAMBDA_FAILED)
                rc = deliver_failed(wk, r, attempts, out[i].code, out[i].message);
        }
        lambda_records_free(out, n);
    } else {
        fh_worker_error(wk, "%s: %s (%s)", fail.code, fail.message, fail.detail);
        rc = 0;
        for (size_t i = 0; i < n && !rc; i++)
            rc = deliver_failed(wk, &wk->pending[from + i], attempts, fail.code, fail.message);
    }
out:
    free(resp);
    free(event);
    free(out);
    free(idp);
    free(ids);
    return rc;
}

int fh_transform_pending(struct fh_worker *wk)
{
    int rc = 0;
    for (size_t i = 0; i < wk->n_pending && !rc && wk->cfg.backup; i++)
        rc = fh_output_add(&wk->out_backup, wk->pending[i].data, wk->pending[i].len, wk->pending[i].arrival_ms, NULL);
    if (!wk->cfg.lambda_arn[0]) {
        for (size_t i = 0; i < wk->n_pending && !rc; i++)
            rc = deliver_ok(wk, wk->pending[i].data, wk->pending[i].len, wk->pending[i].arrival_ms);
    } else {
        for (size_t from = 0; from < wk->n_pending && !rc;) {
            size_t to = from;
            uint64_t raw = 0, event = 0;
            do { /* at least one record; then while both limits hold */
                raw += wk->pending[to].len;
                event += base64_encoded_len(wk->pending[to].len) + EVENT_RECORD_OVERHEAD;
                to++;
            } while (to < wk->n_pending && raw + wk->pending[to].len <= wk->cfg.lambda_buffer_bytes &&
                     event + base64_encoded_len(wk->pending[to].len) + EVENT_RECORD_OVERHEAD <= EVENT_MAX);
            rc = transform_batch(wk, from, to);
            from = to;
        }
    }
    for (size_t i = 0; i < wk->n_pending; i++)
        fh_record_free(&wk->pending[i]);
    wk->n_pending = 0;
    wk->pending_bytes = 0;
    if (rc) {
        /* the records are still at the source: start over from there */
        fh_output_abort(&wk->out_main);
        fh_output_abort(&wk->out_error);
        fh_output_abort(&wk->out_backup);
        fh_source_rewind(wk);
        fh_worker_error(wk, "InternalFailure: buffering the records failed");
    }
    return rc;
}
