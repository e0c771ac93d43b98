/* Kinesis stream lifecycle and settings: Create/Delete/Describe/List of
 * streams and shards, retention, encryption, enhanced monitoring, limits.
 * Every handler runs after its rules (kinesis_api.c) passed; the checks here
 * are the ones that need state. Touches: streams, shards (storage/streams.c). */
#include "server/config.h"
#include "server/kinesis.h"
#include "protocol/base64.h"
#include "protocol/seqnum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ALL_METRICS[] = {
    "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
    "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"};
#define N_METRICS (sizeof ALL_METRICS / sizeof *ALL_METRICS)

static int json_int(const cJSON *in, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return cJSON_IsNumber(v) ? (int)floor(v->valuedouble) : dflt;
}

static const char *json_str(const cJSON *in, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Request timestamps: epoch seconds as a number (or a numeric string). */
static uint64_t json_time_ms(const cJSON *v)
{
    double secs = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : v->valuedouble;
    return secs <= 0 ? 0 : (uint64_t)llround(secs * 1000.0);
}

/* For changes that need an ACTIVE stream: TP_OK, or ResourceInUse with AWS's text. */
static int require_active(const struct db_stream *s, struct kinesis_change *ch)
{
    if (!strcmp(s->status, "ACTIVE"))
        return TP_OK;
    snprintf(ch->msg, sizeof ch->msg, "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
             g_cfg.account, s->status);
    return ERR_RESOURCE_IN_USE;
}

/* ---- response pieces ---- */

static void write_mode(struct jw *w, const struct db_stream *s)
{
    jw_key(w, "StreamModeDetails");
    jw_obj_begin(w);
    jw_key(w, "StreamMode");
    jw_str(w, s->mode);
    jw_obj_end(w);
}

static void write_metric_list(struct jw *w, const char *csv)
{
    jw_arr_begin(w);
    for (unsigned i = 0; i < N_METRICS; i++) {
        size_t n = strlen(ALL_METRICS[i]);
        for (const char *p = csv; (p = strstr(p, ALL_METRICS[i])); p += n)
            if ((p == csv || p[-1] == ',') && (p[n] == ',' || !p[n])) {
                jw_str(w, ALL_METRICS[i]);
                break;
            }
    }
    jw_arr_end(w);
}

static void write_monitoring(struct jw *w, const struct db_stream *s)
{
    jw_key(w, "EnhancedMonitoring");
    jw_arr_begin(w);
    jw_obj_begin(w);
    jw_key(w, "ShardLevelMetrics");
    write_metric_list(w, s->metrics);
    jw_obj_end(w);
    jw_arr_end(w);
}

static void write_encryption(struct jw *w, const struct db_stream *s)
{
    jw_key(w, "EncryptionType");
    jw_str(w, s->encryption);
    if (s->key_id[0]) {
        jw_key(w, "KeyId");
        jw_str(w, s->key_id);
    }
}

static void write_name_arn_status(struct jw *w, const struct db_stream *s)
{
    char arn[512];
    kinesis_stream_arn(s, arn, sizeof arn);
    jw_key(w, "StreamName");
    jw_str(w, s->name);
    jw_key(w, "StreamARN");
    jw_str(w, arn);
    jw_key(w, "StreamStatus");
    jw_str(w, s->status);
}

static void write_shard(struct jw *w, const struct db_shard *sh)
{
    char id[24], hk[HASHKEY_DEC_MAX], seq[SEQNUM_DEC_MAX];
    struct seqnum sn = {sh->created_ms / 1000, sh->ix, 0, sh->created_ms / 1000};
    jw_obj_begin(w);
    kinesis_shard_id(sh->ix, id);
    jw_key(w, "ShardId");
    jw_str(w, id);
    if (sh->parent_ix >= 0) {
        kinesis_shard_id((uint32_t)sh->parent_ix, id);
        jw_key(w, "ParentShardId");
        jw_str(w, id);
    }
    if (sh->adjacent_ix >= 0) {
        kinesis_shard_id((uint32_t)sh->adjacent_ix, id);
        jw_key(w, "AdjacentParentShardId");
        jw_str(w, id);
    }
    jw_key(w, "HashKeyRange");
    jw_obj_begin(w);
    hashkey_format(sh->start, hk);
    jw_key(w, "StartingHashKey");
    jw_str(w, hk);
    hashkey_format(sh->end, hk);
    jw_key(w, "EndingHashKey");
    jw_str(w, hk);
    jw_obj_end(w);
    jw_key(w, "SequenceNumberRange");
    jw_obj_begin(w);
    seqnum_format(&sn, seq);
    jw_key(w, "StartingSequenceNumber");
    jw_str(w, seq);
    if (sh->closed_seq >= 0) {
        sn.seq_ix = (uint64_t)sh->closed_seq;
        seqnum_format(&sn, seq);
        jw_key(w, "EndingSequenceNumber");
        jw_str(w, seq);
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

static int load_shards_or_reply(struct svc_ctx *c, const struct db_stream *s, struct db_shard **sh, unsigned *n)
{
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_shards(db, s->id, sh, n);
    db_reader_release(db);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

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
    const char *mode = md ? json_str(md, "StreamMode") : NULL;
    int shard_count = json_int(in, "ShardCount", -1);
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
    snprintf(j.s.name, sizeof j.s.name, "%s", json_str(in, "StreamName"));
    snprintf(j.s.mode, sizeof j.s.mode, "%s", mode);
    strcpy(j.s.encryption, "NONE");
    strcpy(j.s.status, g_cfg.stream_delay_ms ? "CREATING" : "ACTIVE");
    j.s.created_ms = c->now_ms;
    j.until = c->now_ms + g_cfg.stream_delay_ms;
    j.s.retention_hours = KINESIS_DEFAULT_RETENTION;
    j.s.max_record_kib = json_int(in, "MaxRecordSizeInKiB", 1024);
    j.s.warm_mibps = json_int(in, "WarmThroughputMiBps", -1);
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
    int limit = json_int(in, "Limit", 100);
    const char *start = json_str(in, "ExclusiveStartShardId");
    int64_t after = start ? kinesis_shard_ix(start) : -1;

    if (kinesis_stream_lookup_or_reply(c, in, &s) || load_shards_or_reply(c, &s, &sh, &n))
        return -1;
    if (limit > 100)
        limit = 100;
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "StreamDescription");
    jw_obj_begin(w);
    write_name_arn_status(w, &s);
    write_mode(w, &s);
    jw_key(w, "Shards");
    jw_arr_begin(w);
    for (; i < n && (int)shown < limit; i++)
        if ((int64_t)sh[i].ix > after) {
            write_shard(w, &sh[i]);
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
    write_monitoring(w, &s);
    write_encryption(w, &s);
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

    if (kinesis_stream_lookup_or_reply(c, in, &s) || load_shards_or_reply(c, &s, &sh, &n))
        return -1;
    for (unsigned i = 0; i < n; i++)
        open += sh[i].closed_seq < 0;
    free(sh);
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "StreamDescriptionSummary");
    jw_obj_begin(w);
    write_name_arn_status(w, &s);
    write_mode(w, &s);
    jw_key(w, "RetentionPeriodHours");
    jw_int(w, s.retention_hours);
    jw_key(w, "StreamCreationTimestamp");
    jw_time_ms(w, s.created_ms);
    write_monitoring(w, &s);
    write_encryption(w, &s);
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
    write_name_arn_status(&ls->summaries, s);
    write_mode(&ls->summaries, s);
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
    const char *start = json_str(in, "ExclusiveStartStreamName");
    const char *token = json_str(in, "NextToken");
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
    ls.limit = json_int(in, "Limit", 100);
    if (ls.limit > 100)
        ls.limit = 100;
    jw_init(&ls.names);
    jw_init(&ls.summaries);
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

/* ---- ListShards ---- */

enum shard_filter { F_FROM_TRIM_HORIZON, F_AFTER_SHARD_ID, F_AT_TRIM_HORIZON, F_AT_LATEST, F_AT_TIMESTAMP,
                    F_FROM_TIMESTAMP };
static const char *const FILTER_NAMES[] = {"FROM_TRIM_HORIZON", "AFTER_SHARD_ID", "AT_TRIM_HORIZON",
                                           "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"};
#define LIST_SHARDS_TOKEN_TTL_MS 300000

/* The page state a ListShards NextToken carries (base64 of its text form). */
struct shards_page {
    uint64_t stream_created_ms, issued_ms, filter_ts;
    int64_t after_ix, filter_ix;
    int filter, max_results;
    char name[STREAM_NAME_MAX + 1];
};

static void token_encode(const struct shards_page *p, char *out, size_t outlen)
{
    char text[512];
    int n = snprintf(text, sizeof text, "1:%llu:%llu:%lld:%d:%lld:%llu:%d:%s",
                     (unsigned long long)p->stream_created_ms, (unsigned long long)p->issued_ms,
                     (long long)p->after_ix, p->filter, (long long)p->filter_ix,
                     (unsigned long long)p->filter_ts, p->max_results, p->name);
    if (base64_encoded_len((size_t)n) < outlen)
        out[base64_encode((const unsigned char *)text, (size_t)n, out)] = 0;
}

static int token_decode(const char *tok, struct shards_page *p)
{
    unsigned char text[513];
    size_t tl = strlen(tok), dl;
    unsigned long long created, issued, ts;
    long long after, fix;
    int used = 0;
    if (tl > 680 || base64_decode(tok, tl, text, &dl, NULL) != BASE64_OK)
        return -1;
    text[dl] = 0;
    if (sscanf((char *)text, "1:%llu:%llu:%lld:%d:%lld:%llu:%d:%n", &created, &issued, &after, &p->filter,
               &fix, &ts, &p->max_results, &used) != 7 || !used || p->filter < 0 || p->filter > F_FROM_TIMESTAMP ||
        strlen((char *)text + used) > STREAM_NAME_MAX || !text[used])
        return -1;
    p->stream_created_ms = created;
    p->issued_ms = issued;
    p->after_ix = after;
    p->filter_ix = fix;
    p->filter_ts = ts;
    strcpy(p->name, (char *)text + used);
    return 0;
}

/* Which shards a ShardFilter keeps. Shards never close before resharding
 * exists, so "open at a time" reduces to created by then or initial. */
static int filter_keeps(const struct shards_page *p, const struct db_shard *sh)
{
    switch (p->filter) {
    case F_AFTER_SHARD_ID: return (int64_t)sh->ix > p->filter_ix;
    case F_AT_TRIM_HORIZON: return sh->parent_ix < 0;
    case F_AT_LATEST: return sh->closed_seq < 0;
    case F_AT_TIMESTAMP: return sh->closed_seq < 0 && (sh->parent_ix < 0 || sh->created_ms <= p->filter_ts);
    default: return 1;
    }
}

/* ListShards: pages of MaxResults (≤ 1000) shards, by StreamName/StreamARN or
 * by NextToken (never both), with ExclusiveStartShardId and ShardFilter.
 * Rules already enforced: LIST_SHARDS. */
int kinesis_list_shards(struct svc_ctx *c, const cJSON *in)
{
    struct shards_page p;
    struct db_stream s;
    struct db_shard *sh = NULL;
    unsigned n = 0, shown = 0, i = 0;
    const char *token = json_str(in, "NextToken");
    int has_stream = json_str(in, "StreamName") || json_str(in, "StreamARN");
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(in, "ShardFilter");

    memset(&p, 0, sizeof p);
    if (token && has_stream)
        return reply_error(c, ERR_INVALID_ARGUMENT, "NextToken and StreamName cannot be provided together.");
    if (!token && !has_stream)
        return reply_error(c, ERR_INVALID_ARGUMENT, "Either NextToken or StreamName should be provided.");
    if (token) {
        if (token_decode(token, &p))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid NextToken.");
        if (c->now_ms > p.issued_ms + LIST_SHARDS_TOKEN_TTL_MS)
            return reply_error(c, ERR_EXPIRED_NEXT_TOKEN, "The requested token has expired.");
        cJSON *byname = cJSON_CreateObject();
        cJSON_AddStringToObject(byname, "StreamName", p.name);
        int rc = kinesis_stream_lookup_or_reply(c, byname, &s);
        cJSON_Delete(byname);
        if (rc)
            return -1;
        if (s.created_ms != p.stream_created_ms)
            return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid NextToken.");
        if (cJSON_GetObjectItemCaseSensitive(in, "MaxResults"))
            p.max_results = json_int(in, "MaxResults", 1000);
    } else {
        if (kinesis_stream_lookup_or_reply(c, in, &s))
            return -1;
        const char *start = json_str(in, "ExclusiveStartShardId");
        p.after_ix = start ? kinesis_shard_ix(start) : -1;
        p.max_results = json_int(in, "MaxResults", 1000);
        p.filter_ix = -1;
        if (filter) {
            const char *type = json_str(filter, "Type");
            const char *fid = json_str(filter, "ShardId");
            const cJSON *fts = cJSON_GetObjectItemCaseSensitive(filter, "Timestamp");
            for (unsigned k = 0; k < sizeof FILTER_NAMES / sizeof *FILTER_NAMES; k++)
                if (!strcmp(type, FILTER_NAMES[k]))
                    p.filter = (int)k;
            if (p.filter == F_AFTER_SHARD_ID && !fid)
                return reply_error(c, ERR_INVALID_ARGUMENT, "Must specify ShardId in ShardFilter when filter type is AFTER_SHARD_ID.");
            if ((p.filter == F_AT_TIMESTAMP || p.filter == F_FROM_TIMESTAMP) && !fts)
                return reply_error(c, ERR_INVALID_ARGUMENT, "Must specify Timestamp in ShardFilter when filter type is %s.", type);
            p.filter_ix = fid ? kinesis_shard_ix(fid) : -1;
            p.filter_ts = fts ? json_time_ms(fts) : 0;
        }
        p.stream_created_ms = s.created_ms;
        snprintf(p.name, sizeof p.name, "%s", s.name);
    }
    if (p.max_results > 1000)
        p.max_results = 1000;
    if (load_shards_or_reply(c, &s, &sh, &n))
        return -1;

    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "Shards");
    jw_arr_begin(w);
    for (; i < n && (int)shown < p.max_results; i++)
        if ((int64_t)sh[i].ix > p.after_ix && filter_keeps(&p, &sh[i])) {
            write_shard(w, &sh[i]);
            p.after_ix = sh[i].ix;
            shown++;
        }
    jw_arr_end(w);
    int more = 0;
    for (; i < n; i++)
        more |= (int64_t)sh[i].ix > p.after_ix && filter_keeps(&p, &sh[i]);
    if (more) {
        char tok[1024];
        p.issued_ms = c->now_ms;
        token_encode(&p, tok, sizeof tok);
        jw_key(w, "NextToken");
        jw_str(w, tok);
    }
    jw_obj_end(w);
    free(sh);
    return 0;
}

/* ---- retention ---- */

static int retention_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch, int increase)
{
    int hours = json_int(ch->in, "RetentionPeriodHours", 0);
    if (require_active(s, ch) != TP_OK)
        return ERR_RESOURCE_IN_USE;
    if (hours < KINESIS_DEFAULT_RETENTION) {
        snprintf(ch->msg, sizeof ch->msg, "Minimum allowed retention period is %d hours. Requested retention "
                 "period (%d hours) is too short.", KINESIS_DEFAULT_RETENTION, hours);
        return ERR_INVALID_ARGUMENT;
    }
    if (hours > KINESIS_MAX_RETENTION) {
        snprintf(ch->msg, sizeof ch->msg, "Maximum allowed retention period is %d hours. Requested retention "
                 "period (%d hours) is too long.", KINESIS_MAX_RETENTION, hours);
        return ERR_INVALID_ARGUMENT;
    }
    if (increase ? hours < s->retention_hours : hours > s->retention_hours) {
        snprintf(ch->msg, sizeof ch->msg, "Requested retention period (%d hours) for stream %s can not be %s "
                 "than existing retention period (%d hours). Use %s API.", hours, s->name,
                 increase ? "shorter" : "longer", s->retention_hours,
                 increase ? "DecreaseRetentionPeriod" : "IncreaseRetentionPeriod");
        return ERR_INVALID_ARGUMENT;
    }
    s->retention_hours = hours;
    return db_stream_update(w, s, ch->now);
}

static int increase_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return retention_apply(w, s, ch, 1);
}

static int decrease_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return retention_apply(w, s, ch, 0);
}

/* IncreaseStreamRetentionPeriod: 24..8760 hours, not below the current. */
int kinesis_increase_stream_retention_period(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = increase_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* DecreaseStreamRetentionPeriod: 24..8760 hours, not above the current;
 * records past the new period disappear at once (and are trimmed soon). */
int kinesis_decrease_stream_retention_period(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = decrease_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* ---- encryption ---- */

static int encryption_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch, int start)
{
    const char *type = json_str(ch->in, "EncryptionType");
    if (require_active(s, ch) != TP_OK)
        return ERR_RESOURCE_IN_USE;
    if (strcmp(type, "KMS")) {
        snprintf(ch->msg, sizeof ch->msg, "Encryption type %s is not supported. Only KMS is supported.", type);
        return ERR_INVALID_ARGUMENT;
    }
    strcpy(s->encryption, start ? "KMS" : "NONE");
    snprintf(s->key_id, sizeof s->key_id, "%s", start ? json_str(ch->in, "KeyId") : "");
    if (g_cfg.stream_delay_ms)
        strcpy(s->status, "UPDATING");
    return db_stream_update(w, s, ch->now + g_cfg.stream_delay_ms);
}

static int start_encryption_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return encryption_apply(w, s, ch, 1);
}

static int stop_encryption_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return encryption_apply(w, s, ch, 0);
}

/* StartStreamEncryption: records written from now on carry EncryptionType KMS. */
int kinesis_start_stream_encryption(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = start_encryption_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* StopStreamEncryption: records written from now on are unencrypted. */
int kinesis_stop_stream_encryption(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = stop_encryption_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* ---- enhanced monitoring ---- */

struct monitoring {
    char before[256];
};

static int metric_in(const cJSON *list, const char *m)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (cJSON_IsString(e) && (!strcmp(e->valuestring, m) || !strcmp(e->valuestring, "ALL")))
            return 1;
    }
    return 0;
}

static int monitoring_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch, int enable)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(ch->in, "ShardLevelMetrics");
    char next[256] = "";
    size_t len = 0;
    snprintf(ch->msg, sizeof ch->msg, "%s", s->metrics); /* the set before, for the answer */
    for (unsigned i = 0; i < N_METRICS; i++) {
        int had = strstr(s->metrics, ALL_METRICS[i]) != NULL;
        int want = metric_in(list, ALL_METRICS[i]);
        if (enable ? had || want : had && !want)
            len += (size_t)snprintf(next + len, sizeof next - len, "%s%s", len ? "," : "", ALL_METRICS[i]);
    }
    strcpy(s->metrics, next);
    return db_stream_update(w, s, ch->now);
}

static int enable_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return monitoring_apply(w, s, ch, 1);
}

static int disable_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return monitoring_apply(w, s, ch, 0);
}

static int monitoring_generic(struct svc_ctx *c, const cJSON *in, int enable)
{
    struct kinesis_change ch = {.apply = enable ? enable_apply : disable_apply, .in = in};
    char arn[512];
    if (kinesis_change_or_reply(c, &ch))
        return -1;
    kinesis_stream_arn(&ch.s, arn, sizeof arn);
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "StreamName");
    jw_str(w, ch.s.name);
    jw_key(w, "CurrentShardLevelMetrics");
    write_metric_list(w, ch.msg);
    jw_key(w, "DesiredShardLevelMetrics");
    write_metric_list(w, ch.s.metrics);
    jw_key(w, "StreamARN");
    jw_str(w, arn);
    jw_obj_end(w);
    return 0;
}

/* EnableEnhancedMonitoring: adds metrics (ALL = every one) to the set. */
int kinesis_enable_enhanced_monitoring(struct svc_ctx *c, const cJSON *in)
{
    return monitoring_generic(c, in, 1);
}

/* DisableEnhancedMonitoring: removes metrics from the set. */
int kinesis_disable_enhanced_monitoring(struct svc_ctx *c, const cJSON *in)
{
    return monitoring_generic(c, in, 0);
}

/* ---- limits and account ---- */

/* DescribeLimits: the shard limit and what the region uses of it. */
int kinesis_describe_limits(struct svc_ctx *c, const cJSON *in)
{
    (void)in;
    unsigned open, on_demand;
    struct db_conn *db = db_reader_acquire();
    int rc = db_region_counts(db, c->region, c->now_ms, &open, &on_demand);
    db_reader_release(db);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "ShardLimit");
    jw_int(w, g_cfg.shard_limit);
    jw_key(w, "OpenShardCount");
    jw_int(w, open);
    jw_key(w, "OnDemandStreamCount");
    jw_int(w, on_demand);
    jw_key(w, "OnDemandStreamCountLimit");
    jw_int(w, 50);
    jw_obj_end(w);
    return 0;
}

/* DescribeAccountSettings: no minimum-throughput billing commitment. */
int kinesis_describe_account_settings(struct svc_ctx *c, const cJSON *in)
{
    (void)in;
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "MinimumThroughputBillingCommitment");
    jw_obj_begin(w);
    jw_key(w, "Status");
    jw_str(w, "DISABLED");
    jw_obj_end(w);
    jw_obj_end(w);
    return 0;
}

static int max_record_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    if (require_active(s, ch) != TP_OK)
        return ERR_RESOURCE_IN_USE;
    s->max_record_kib = json_int(ch->in, "MaxRecordSizeInKiB", s->max_record_kib);
    return db_stream_update(w, s, ch->now);
}

/* UpdateMaxRecordSize: the largest record (data + partition key) the stream
 * accepts, 1024..10240 KiB. Rules already enforced: MAX_RECORD_SIZE. */
int kinesis_update_max_record_size(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = max_record_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}
