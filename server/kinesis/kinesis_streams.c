/* Kinesis stream lifecycle: CreateStream, DeleteStream, DescribeStream,
 * DescribeStreamSummary, ListStreams. Every handler runs after its rules
 * (kinesis_api.c) passed; the checks here are the ones that need state.
 * Touches: streams, shards, tags (storage/streams.c). */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"
#include "protocol/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CreateStream ---- */

struct create_job {
    struct db_stream s;
    uint64_t until;
    unsigned shards;
    struct db_tag *tags;
    unsigned n_tags;
    unsigned open_shards; /* out, for the limit message */
};

static int create_job(struct db_conn *w, void *ctx)
{
    struct create_job *j = ctx;
    unsigned on_demand;
    int rc = db_region_counts(w, j->s.region, j->s.created_ms, &j->open_shards, &on_demand);
    if (rc != TP_OK)
        return rc;
    if (j->open_shards + j->shards > g_cfg.shard_limit)
        return ERR_LIMIT_EXCEEDED;
    return db_stream_insert(w, &j->s, j->until, j->shards, j->tags, j->n_tags);
}

/* CreateStream: a provisioned stream of ShardCount shards, or an on-demand one
 * (4 shards, as AWS starts them). Rules already enforced: CREATE_STREAM. */
int kinesis_create_stream(struct svc_ctx *c, const cJSON *in)
{
    struct create_job j;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(in, "StreamModeDetails");
    const char *mode = md ? v_str(md, "StreamMode") : NULL;
    int shard_count = v_int(in, "ShardCount", -1);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags"), *t;
    int rc;

    memset(&j, 0, sizeof j);
    if (mode && !strcmp(mode, "ON_DEMAND") && shard_count >= 0)
        return reply_error(c, ERR_INVALID_ARGUMENT, "ShardCount is not expected when StreamMode=ON_DEMAND");
    if (mode && !strcmp(mode, "PROVISIONED") && shard_count < 0)
        return reply_error(c, ERR_INVALID_ARGUMENT, "ShardCount is expected when StreamMode=PROVISIONED");
    if (!mode)
        mode = shard_count >= 0 ? "PROVISIONED" : "ON_DEMAND";
    j.shards = shard_count >= 0 ? (unsigned)shard_count : KINESIS_ON_DEMAND_SHARDS;

    snprintf(j.s.region, sizeof j.s.region, "%s", c->region);
    snprintf(j.s.name, sizeof j.s.name, "%s", v_str(in, "StreamName"));
    snprintf(j.s.mode, sizeof j.s.mode, "%s", mode);
    strcpy(j.s.encryption, "NONE");
    strcpy(j.s.status, g_cfg.stream_delay_ms ? "CREATING" : "ACTIVE");
    j.s.created_ms = c->now_ms;
    j.until = c->now_ms + g_cfg.stream_delay_ms;
    j.s.retention_hours = KINESIS_DEFAULT_RETENTION;
    j.s.max_record_kib = v_int(in, "MaxRecordSizeInKiB", 1024);
    j.s.warm_mibps = v_int(in, "WarmThroughputMiBps", -1);
    if (tags) {
        j.tags = calloc((size_t)cJSON_GetArraySize(tags) + 1, sizeof *j.tags);
        if (!j.tags)
            return reply_error(c, ERR_INTERNAL, NULL);
        cJSON_ArrayForEach(t, tags) {
            j.tags[j.n_tags].key = t->string;
            j.tags[j.n_tags++].value = cJSON_IsString(t) ? t->valuestring : "";
        }
    }
    rc = db_write(create_job, &j);
    free(j.tags);
    switch (rc) {
    case TP_OK:
        return 0;
    case TP_EEXISTS:
        return reply_error(c, ERR_RESOURCE_IN_USE, "Stream %s under account %s already exists.", j.s.name,
                           g_cfg.account);
    case ERR_LIMIT_EXCEEDED:
        return reply_error(c, ERR_LIMIT_EXCEEDED,
                           "This request would exceed the shard limit for the account %s in %s. Current shard "
                           "count for the account: %u. Limit: %u. Number of additional shards that would have "
                           "resulted from this request: %u. Refer to the AWS Service Limits page "
                           "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
                           "limits and how to request higher limits.",
                           g_cfg.account, c->region, j.open_shards, g_cfg.shard_limit, j.shards);
    default:
        return reply_error(c, ERR_INTERNAL, NULL);
    }
}

/* ---- DeleteStream ---- */

static int delete_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    if (!g_cfg.stream_delay_ms)
        return db_stream_remove(w, s->id);
    strcpy(s->status, "DELETING");
    return db_stream_update(w, s, ch->now + g_cfg.stream_delay_ms);
}

/* DeleteStream: DELETING for --stream-delay-ms, then gone with its records. */
int kinesis_delete_stream(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = delete_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* ---- DescribeStream, DescribeStreamSummary ---- */

/* DescribeStream: the stream and a page of its shards (Limit ≤ 100 returned).
 * Rules already enforced: DESCRIBE_STREAM. */
int kinesis_describe_stream(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct db_shard *sh = NULL;
    unsigned n = 0, shown = 0, i = 0;
    int limit = v_int(in, "Limit", 100);
    const char *start = v_str(in, "ExclusiveStartShardId");
    int64_t after = start ? kinesis_shard_ix(start) : -1;

    if (kinesis_stream_lookup_or_reply(c, in, &s) || kinesis_shards_or_reply(c, &s, &sh, &n))
        return -1;
    if (limit > 100)
        limit = 100;
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "StreamDescription");
    jw_obj_begin(w);
    kinesis_write_stream_head(w, &s);
    jw_key(w, "Shards");
    jw_arr_begin(w);
    for (; i < n && (int)shown < limit; i++)
        if ((int64_t)sh[i].ix > after) {
            kinesis_write_shard(w, &sh[i]);
            shown++;
        }
    jw_arr_end(w);
    int more = 0;
    for (; i < n; i++)
        more |= (int64_t)sh[i].ix > after;
    jw_key(w, "HasMoreShards");
    jw_bool(w, more);
    jw_key(w, "RetentionPeriodHours");
    jw_int(w, s.retention_hours);
    jw_key(w, "StreamCreationTimestamp");
    jw_time_ms(w, s.created_ms);
    kinesis_write_monitoring(w, &s);
    kinesis_write_encryption(w, &s);
    jw_obj_end(w);
    jw_obj_end(w);
    free(sh);
    return 0;
}

/* DescribeStreamSummary: the stream without its shards. Rules: STREAM_ONLY. */
int kinesis_describe_stream_summary(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct db_shard *sh = NULL;
    unsigned n = 0, open = 0;

    if (kinesis_stream_lookup_or_reply(c, in, &s) || kinesis_shards_or_reply(c, &s, &sh, &n))
        return -1;
    for (unsigned i = 0; i < n; i++)
        open += sh[i].closed_seq < 0;
    free(sh);
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "StreamDescriptionSummary");
    jw_obj_begin(w);
    kinesis_write_stream_head(w, &s);
    jw_key(w, "RetentionPeriodHours");
    jw_int(w, s.retention_hours);
    jw_key(w, "StreamCreationTimestamp");
    jw_time_ms(w, s.created_ms);
    kinesis_write_monitoring(w, &s);
    kinesis_write_encryption(w, &s);
    jw_key(w, "OpenShardCount");
    jw_int(w, open);
    jw_key(w, "ConsumerCount");
    jw_int(w, 0);
    if (s.warm_mibps >= 0) {
        jw_key(w, "WarmThroughput");
        jw_obj_begin(w);
        jw_key(w, "TargetMiBps");
        jw_int(w, s.warm_mibps);
        jw_key(w, "CurrentMiBps");
        jw_int(w, s.warm_mibps);
        jw_obj_end(w);
    }
    jw_key(w, "MaxRecordSizeInKiB");
    jw_int(w, s.max_record_kib);
    jw_obj_end(w);
    jw_obj_end(w);
    return 0;
}

/* ---- ListStreams ---- */

struct list_streams {
    struct jw names, summaries;
    int limit, count, more;
    char last[STREAM_NAME_MAX + 1];
};

static int list_stream_row(void *ctx, const struct db_stream *s)
{
    struct list_streams *ls = ctx;
    if (ls->count == ls->limit) {
        ls->more = 1;
        return 1;
    }
    ls->count++;
    snprintf(ls->last, sizeof ls->last, "%s", s->name);
    jw_str(&ls->names, s->name);
    jw_obj_begin(&ls->summaries);
    kinesis_write_stream_head(&ls->summaries, s);
    jw_key(&ls->summaries, "StreamCreationTimestamp");
    jw_time_ms(&ls->summaries, s->created_ms);
    jw_obj_end(&ls->summaries);
    return 0;
}

/* ListStreams: names and summaries by name, pages of Limit (≤ 100) with
 * ExclusiveStartStreamName or NextToken (the base64 of the last name). */
int kinesis_list_streams(struct svc_ctx *c, const cJSON *in)
{
    struct list_streams ls;
    const char *start = v_str(in, "ExclusiveStartStreamName");
    const char *token = v_str(in, "NextToken");
    char after[STREAM_NAME_MAX + 1] = "";

    if (token) {
        unsigned char dec[STREAM_NAME_MAX + 3];
        size_t tl = strlen(token), dl;
        if (tl > base64_encoded_len(STREAM_NAME_MAX) ||
            base64_decode(token, tl, dec, &dl, NULL) != BASE64_OK || dl == 0 || dl > STREAM_NAME_MAX ||
            memchr(dec, 0, dl))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid NextToken.");
        memcpy(after, dec, dl);
        after[dl] = 0;
    } else if (start) {
        snprintf(after, sizeof after, "%s", start);
    }
    memset(&ls, 0, sizeof ls);
    ls.limit = v_int(in, "Limit", 100);
    if (ls.limit > 100)
        ls.limit = 100;
    jw_init_as(&ls.names, &c->out);
    jw_init_as(&ls.summaries, &c->out);
    jw_arr_begin(&ls.names);
    jw_arr_begin(&ls.summaries);
    struct db_conn *db = db_reader_acquire();
    int rc = db_streams_list(db, c->region, after, c->now_ms, list_stream_row, &ls);
    db_reader_release(db);
    jw_arr_end(&ls.names);
    jw_arr_end(&ls.summaries);
    if (rc == TP_OK) {
        size_t nl, sl;
        char *names = jw_take(&ls.names, &nl), *sums = jw_take(&ls.summaries, &sl);
        struct jw *w = &c->out;
        jw_obj_begin(w);
        jw_key(w, "StreamNames");
        jw_raw(w, names, nl);
        jw_key(w, "HasMoreStreams");
        jw_bool(w, ls.more);
        if (ls.more) {
            char tok[256];
            tok[base64_encode((const unsigned char *)ls.last, strlen(ls.last), tok)] = 0;
            jw_key(w, "NextToken");
            jw_str(w, tok);
        }
        jw_key(w, "StreamSummaries");
        jw_raw(w, sums, sl);
        jw_obj_end(w);
        free(names);
        free(sums);
    }
    jw_free(&ls.names);
    jw_free(&ls.summaries);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

