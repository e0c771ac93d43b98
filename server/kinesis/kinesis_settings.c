/* Kinesis stream settings: retention period, encryption, enhanced monitoring,
 * maximum record size; and the account-level DescribeLimits and
 * DescribeAccountSettings. Touches: streams. */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"

#include <stdio.h>
#include <string.h>

/* For changes that need an ACTIVE stream: TP_OK, or ResourceInUse with AWS's text. */
static int require_active(const struct db_stream *s, struct kinesis_change *ch)
{
    if (!strcmp(s->status, "ACTIVE"))
        return TP_OK;
    snprintf(ch->msg, sizeof ch->msg, "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
             g_cfg.account, s->status);
    return ERR_RESOURCE_IN_USE;
}

/* ---- retention ---- */

static int retention_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch, int increase)
{
    int hours = v_int(ch->in, "RetentionPeriodHours", 0);
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
    const char *type = v_str(ch->in, "EncryptionType");
    if (require_active(s, ch) != TP_OK)
        return ERR_RESOURCE_IN_USE;
    if (strcmp(type, "KMS")) {
        snprintf(ch->msg, sizeof ch->msg, "Encryption type %s is not supported. Only KMS is supported.", type);
        return ERR_INVALID_ARGUMENT;
    }
    strcpy(s->encryption, start ? "KMS" : "NONE");
    snprintf(s->key_id, sizeof s->key_id, "%s", start ? v_str(ch->in, "KeyId") : "");
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
    for (unsigned i = 0; i < KINESIS_N_METRICS; i++) {
        int had = strstr(s->metrics, KINESIS_METRICS[i]) != NULL;
        int want = metric_in(list, KINESIS_METRICS[i]);
        if (enable ? had || want : had && !want)
            len += (size_t)snprintf(next + len, sizeof next - len, "%s%s", len ? "," : "", KINESIS_METRICS[i]);
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
    kinesis_write_metrics(w, ch.msg);
    jw_key(w, "DesiredShardLevelMetrics");
    kinesis_write_metrics(w, ch.s.metrics);
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
    s->max_record_kib = v_int(ch->in, "MaxRecordSizeInKiB", s->max_record_kib);
    return db_stream_update(w, s, ch->now);
}

/* UpdateMaxRecordSize: the largest record (data + partition key) the stream
 * accepts, 1024..10240 KiB. Rules already enforced: MAX_RECORD_SIZE. */
int kinesis_update_max_record_size(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = max_record_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

