/* Kinesis data plane: PutRecord, PutRecords, GetShardIterator, GetRecords.
 * Touches: streams, shards (lookups), segments (storage/records.c). */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"
#include "protocol/iterator.h"
#include "protocol/seqnum.h"
#include "storage/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GET_RECORDS_MAX_BYTES (10 * 1024 * 1024)

static void format_seq(uint64_t shard_created_ms, uint32_t shard_ix, uint64_t seq_ix, uint64_t arrival_ms,
                       char out[SEQNUM_DEC_MAX])
{
    struct seqnum sn = {shard_created_ms / 1000, shard_ix, seq_ix, arrival_ms / 1000};
    seqnum_format(&sn, out);
}

/* ---- PutRecord, PutRecords ---- */

struct put_job {
    int64_t stream_id;
    int encrypted;
    struct db_put_record *recs;
    size_t n;
    uint64_t arrival_ms;
};

static int put_job(struct db_conn *w, void *ctx)
{
    struct put_job *j = ctx;
    return db_records_append(w, j->stream_id, j->encrypted, j->recs, j->n, &j->arrival_ms);
}

/* Reads entries (each a {Data, PartitionKey, ExplicitHashKey} object) into
 * recs, checking what needs the stream: its record size limit, hash keys in
 * range, the request total. Returns 0, or the reply_error result. */
static int decode_entries(struct svc_ctx *c, const struct db_stream *s, const cJSON *const *entries, size_t n,
                          int single, struct db_put_record *recs)
{
    size_t total = 0, max_record = (size_t)s->max_record_kib * 1024;
    for (size_t i = 0; i < n; i++) {
        const char *pk = v_str(entries[i], "PartitionKey");
        const char *ehk = v_str(entries[i], "ExplicitHashKey");
        struct db_put_record *r = &recs[i];
        r->data = v_blob(entries[i], "Data", &r->data_len); /* decoded by validation */
        r->pk = pk;
        r->pk_len = strlen(pk);
        if (r->data_len + r->pk_len > max_record) {
            char path[48] = "data";
            if (!single)
                snprintf(path, sizeof path, "records.%zu.member.data", i + 1);
            return reply_error(c, ERR_VALIDATION,
                               "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]' "
                               "at '%s' failed to satisfy constraint: Member must have length less than or equal "
                               "to %zu", r->data_len, r->data_len, path, max_record - r->pk_len);
        }
        total += r->data_len + r->pk_len;
        if (ehk) {
            if (hashkey_parse(ehk, strlen(ehk), &r->hash) != HASHKEY_OK)
                return reply_error(c, ERR_INVALID_ARGUMENT,
                                   "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                                   "Specified value was %s", ehk);
        } else {
            r->hash = hashkey_of_partition_key(pk, r->pk_len);
        }
    }
    if (total > KINESIS_MAX_REQUEST_BYTES)
        return reply_error(c, ERR_INVALID_ARGUMENT, "Records size exceeds 10 MB limit");
    return 0;
}

/* Shared by PutRecord (single = 1) and PutRecords: look up, decode, append
 * through the group-commit writer, answer with one result per entry. */
static int put_generic(struct svc_ctx *c, const cJSON *in, const cJSON *const *entries, size_t n, int single)
{
    struct db_stream s;
    struct put_job j = {0};
    int rc = -1;

    if (kinesis_stream_lookup_or_reply(c, in, &s))
        return -1;
    if (strcmp(s.status, "ACTIVE") && strcmp(s.status, "UPDATING"))
        return kinesis_not_found(c, s.name);
    j.recs = calloc(n, sizeof *j.recs);
    if (!j.recs)
        return reply_error(c, ERR_INTERNAL, NULL);
    if (decode_entries(c, &s, entries, n, single, j.recs))
        goto out;
    j.stream_id = s.id;
    j.encrypted = !strcmp(s.encryption, "KMS");
    j.n = n;
    switch (db_write(put_job, &j)) {
    case TP_OK:
        break;
    case TP_ENOTFOUND:
        kinesis_not_found(c, s.name);
        goto out;
    default:
        reply_error(c, ERR_INTERNAL, NULL);
        goto out;
    }

    struct jw *w = &c->out;
    char seq[SEQNUM_DEC_MAX], id[24];
    jw_obj_begin(w);
    if (!single) {
        jw_key(w, "FailedRecordCount");
        jw_int(w, 0);
        jw_key(w, "Records");
        jw_arr_begin(w);
    }
    for (size_t i = 0; i < n; i++) {
        const struct db_put_record *r = &j.recs[i];
        format_seq(r->shard_created_ms, r->shard_ix, r->seq_ix, j.arrival_ms, seq);
        kinesis_shard_id(r->shard_ix, id);
        if (!single)
            jw_obj_begin(w);
        jw_key(w, "SequenceNumber");
        jw_str(w, seq);
        jw_key(w, "ShardId");
        jw_str(w, id);
        if (!single)
            jw_obj_end(w);
    }
    if (!single)
        jw_arr_end(w);
    jw_key(w, "EncryptionType");
    jw_str(w, j.encrypted ? "KMS" : "NONE");
    jw_obj_end(w);
    rc = 0;
out:
    free(j.recs);
    return rc;
}

/* PutRecord: one record, routed by ExplicitHashKey or MD5(PartitionKey).
 * Sequence numbers grow per shard, so SequenceNumberForOrdering holds by
 * construction; it only has to be a sequence number that is not from the
 * future, as AWS checks. Rules already enforced: PUT_RECORD. */
int kinesis_put_record(struct svc_ctx *c, const cJSON *in)
{
    const cJSON *entry = in;
    const char *order = v_str(in, "SequenceNumberForOrdering");
    struct seqnum sn;
    if (order && (seqnum_parse(order, strlen(order), &sn) || sn.record_secs * 1000 > c->now_ms)) {
        char name[STREAM_NAME_MAX + 1];
        if (kinesis_stream_name_or_reply(c, in, name))
            return -1;
        return reply_error(c, ERR_INVALID_ARGUMENT,
                           "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is "
                           "invalid.", order, name, g_cfg.account);
    }
    return put_generic(c, in, &entry, 1, 1);
}

/* PutRecords: up to 500 records, all or nothing per request (a stored batch
 * never fails part-way), one result per entry in order. Rules: PUT_RECORDS. */
int kinesis_put_records(struct svc_ctx *c, const cJSON *in)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(in, "Records"), *e;
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    const cJSON **entries = malloc(n * sizeof *entries);
    if (!entries)
        return reply_error(c, ERR_INTERNAL, NULL);
    cJSON_ArrayForEach(e, list)
        entries[i++] = e;
    int rc = put_generic(c, in, entries, n, 0);
    free(entries);
    return rc;
}

/* ---- GetShardIterator ---- */

static int shard_or_reply(struct svc_ctx *c, const struct db_stream *s, const char *shard_id, struct db_shard *out)
{
    struct db_shard *sh = NULL;
    unsigned n = 0;
    int64_t ix = kinesis_shard_ix(shard_id);
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_shards(db, s->id, &sh, &n);
    db_reader_release(db);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    for (unsigned i = 0; i < n; i++)
        if ((int64_t)sh[i].ix == ix) {
            *out = sh[i];
            free(sh);
            return 0;
        }
    free(sh);
    if (ix < 0)
        return reply_error(c, ERR_RESOURCE_NOT_FOUND, "Could not find shard %s in stream %s under account %s.",
                           shard_id, s->name, g_cfg.account);
    char id[24];
    kinesis_shard_id((uint32_t)ix, id);
    return reply_error(c, ERR_RESOURCE_NOT_FOUND, "Shard %s in stream %s under account %s does not exist", id,
                       s->name, g_cfg.account);
}

/* Writes "key": a fresh iterator at seq_ix of the shard. */
static void write_iterator(struct svc_ctx *c, const struct db_stream *s, uint32_t shard_ix, uint64_t seq_ix,
                           const char *key)
{
    struct shard_iterator it = {c->now_ms, s->created_ms, shard_ix, seq_ix, ""};
    char tok[ITERATOR_MAX_LEN + 1];
    snprintf(it.stream_name, sizeof it.stream_name, "%s", s->name);
    iterator_encode(&it, db_iterator_key(), tok);
    jw_key(&c->out, key);
    jw_str(&c->out, tok);
}

/* The sequence index StartingSequenceNumber names on this shard, with
 * kinesalite's (AWS's) texts when it names another shard or stream. */
static int start_seq_or_reply(struct svc_ctx *c, const struct db_stream *s, const struct db_shard *sh,
                              const char *seq, uint64_t *seq_ix)
{
    struct seqnum sn;
    char id[24];
    kinesis_shard_id(sh->ix, id);
    if (seqnum_parse(seq, strlen(seq), &sn))
        return reply_error(c, ERR_INVALID_ARGUMENT,
                           "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under "
                           "account %s is invalid.", seq, id, s->name, g_cfg.account);
    if (sn.shard_ix != sh->ix)
        return reply_error(c, ERR_INVALID_ARGUMENT,
                           "Invalid StartingSequenceNumber. It encodes shardId-%012u, while it was used in a call "
                           "to a shard with %s", sn.shard_ix, id);
    if (sn.shard_create_secs != sh->created_ms / 1000)
        return reply_error(c, ERR_INVALID_ARGUMENT,
                           "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under "
                           "account %s is invalid because it did not come from this stream.", seq, id, s->name,
                           g_cfg.account);
    *seq_ix = sn.seq_ix;
    return 0;
}

/* GetShardIterator: a position in one shard, of any of the five types.
 * Rules already enforced: GET_SHARD_ITERATOR. */
int kinesis_get_shard_iterator(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct db_shard sh;
    const char *type = v_str(in, "ShardIteratorType");
    const char *seq = v_str(in, "StartingSequenceNumber");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(in, "Timestamp");
    int by_seq = !strcmp(type, "AT_SEQUENCE_NUMBER") || !strcmp(type, "AFTER_SEQUENCE_NUMBER");
    uint64_t pos;

    if (kinesis_stream_lookup_or_reply(c, in, &s) || shard_or_reply(c, &s, v_str(in, "ShardId"), &sh))
        return -1;
    if (by_seq != (seq != NULL) && strcmp(type, "AT_TIMESTAMP"))
        return reply_error(c, ERR_INVALID_ARGUMENT,
                           "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                           "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                           "Request specified %s and %s StartingSequenceNumber.", type,
                           seq ? "also a" : "no");
    if (by_seq) {
        if (start_seq_or_reply(c, &s, &sh, seq, &pos))
            return -1;
        pos += type[1] == 'F'; /* AFTER_ */
    } else if (!strcmp(type, "TRIM_HORIZON")) {
        pos = 0; /* reads skip what retention removed */
    } else if (!strcmp(type, "LATEST")) {
        pos = sh.next_seq;
    } else {
        if (!ts || cJSON_IsNull(ts))
            return reply_error(c, ERR_INVALID_ARGUMENT,
                               "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                               "Current request has no timestamp parameter.");
        uint64_t at = v_time_ms(ts);
        if (at > c->now_ms)
            return reply_error(c, ERR_INVALID_ARGUMENT,
                               "The timestampInMillis parameter cannot be greater than the "
                               "currentTimestampInMillis. timestampInMillis: %llu, currentTimestampInMillis: %llu",
                               (unsigned long long)at, (unsigned long long)c->now_ms);
        struct db_conn *db = db_reader_acquire();
        int rc = db_records_seq_at(db, sh.id, at, sh.next_seq, &pos);
        db_reader_release(db);
        if (rc != TP_OK)
            return reply_error(c, ERR_INTERNAL, NULL);
    }
    jw_obj_begin(&c->out);
    write_iterator(c, &s, sh.ix, pos, "ShardIterator");
    jw_obj_end(&c->out);
    return 0;
}

/* ---- GetRecords ---- */

struct read_ctx {
    struct jw *w;
    const struct db_shard *sh;
    long limit, count;
    size_t bytes;
};

static int emit_record(void *ctx, const struct db_record *r)
{
    struct read_ctx *rc = ctx;
    char seq[SEQNUM_DEC_MAX];
    size_t size = r->data_len + r->pk_len;
    if (rc->count == rc->limit || (rc->count && rc->bytes + size > GET_RECORDS_MAX_BYTES))
        return 1;
    rc->count++;
    rc->bytes += size;
    format_seq(rc->sh->created_ms, rc->sh->ix, r->seq_ix, r->arrival_ms, seq);
    jw_obj_begin(rc->w);
    jw_key(rc->w, "SequenceNumber");
    jw_str(rc->w, seq);
    jw_key(rc->w, "ApproximateArrivalTimestamp");
    jw_time_ms(rc->w, r->arrival_ms);
    jw_key(rc->w, "Data");
    jw_blob(rc->w, r->data, r->data_len);
    jw_key(rc->w, "PartitionKey");
    jw_strn(rc->w, r->pk, r->pk_len);
    if (r->encrypted) {
        jw_key(rc->w, "EncryptionType");
        jw_str(rc->w, "KMS");
    }
    jw_obj_end(rc->w);
    return 0;
}

static void java_date(uint64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%a %b %d %H:%M:%S UTC %Y", &tm);
}

/* GetRecords: up to Limit records (10 MiB at most) from the iterator's
 * position, the iterator for what follows, and how far behind the tip the
 * reader is. Rules already enforced: GET_RECORDS. */
int kinesis_get_records(struct svc_ctx *c, const cJSON *in)
{
    struct shard_iterator it;
    struct db_stream s;
    struct db_shard sh;
    struct db_read_result res;
    const char *tok = v_str(in, "ShardIterator");
    char shard_id[24];

    if (iterator_decode(tok, strlen(tok), db_iterator_key(), &it))
        return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid ShardIterator.");
    if (iterator_expired(&it, c->now_ms)) {
        char then[64], now[64];
        java_date(it.created_ms, then, sizeof then);
        java_date(c->now_ms, now, sizeof now);
        return reply_error(c, ERR_EXPIRED_ITERATOR,
                           "Iterator expired. The iterator was created at time %s while right now it is %s which "
                           "is further in the future than the tolerated delay of %d milliseconds.",
                           then, now, ITERATOR_TTL_MS);
    }
    if (kinesis_token_stream_or_reply(c, it.stream_name, it.stream_created_ms, "Invalid ShardIterator.", &s))
        return -1;
    kinesis_shard_id(it.shard_ix, shard_id);
    if (shard_or_reply(c, &s, shard_id, &sh))
        return -1;

    struct read_ctx rc = {&c->out, &sh, v_int(in, "Limit", 10000), 0, 0};
    uint64_t horizon = (uint64_t)s.retention_hours * 3600000;
    horizon = c->now_ms > horizon ? c->now_ms - horizon : 0;
    jw_obj_begin(&c->out);
    jw_key(&c->out, "Records");
    jw_arr_begin(&c->out);
    struct db_conn *db = db_reader_acquire();
    int err = db_records_read(db, sh.id, it.seq_ix, horizon, emit_record, &rc, &res);
    db_reader_release(db);
    if (err != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    jw_arr_end(&c->out);
    write_iterator(c, &s, sh.ix, res.next_seq, "NextShardIterator");
    jw_key(&c->out, "MillisBehindLatest");
    jw_int(&c->out, res.more && c->now_ms > res.next_arrival_ms ? (long long)(c->now_ms - res.next_arrival_ms) : 0);
    jw_obj_end(&c->out);
    return 0;
}
