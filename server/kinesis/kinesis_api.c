/* Kinesis Data Streams: validation rules per operation (data, checked by
 * server/validate.c before any handler runs), the helpers handlers share, and
 * the operation table the router dispatches on. */
#include "server/kinesis/kinesis.h"
#include "server/runtime/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- members several operations share ---- */

#define NAME_RULE(n) {.name = n, .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 128, .pattern = "[a-zA-Z0-9_.-]+", .ere = "[a-zA-Z0-9_.-]+"}
#define STREAM_NAME NAME_RULE("StreamName")
#define STREAM_NAME_REQUIRED {.name = "StreamName", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 128, .pattern = "[a-zA-Z0-9_.-]+", .ere = "[a-zA-Z0-9_.-]+"}
#define STREAM_ARN {.name = "StreamARN", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 2048, \
    .pattern = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", .ere = "arn:aws.*:kinesis:.*:[0-9]{12}:stream/[^[:space:]]+"}
#define RESOURCE_ARN {.name = "ResourceARN", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 2048, \
    .pattern = "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+", .ere = "arn:aws.*:kinesis:.*:[0-9]{12}:.*stream/[^[:space:]]+"}
#define SHARD_ID(n, f) {.name = n, .type = VT_STRING, .flags = (f) | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 128, .pattern = "[a-zA-Z0-9_.-]+", .ere = "[a-zA-Z0-9_.-]+"}
#define HASH_KEY {.name = "ExplicitHashKey", .type = VT_STRING, .flags = 0, .pattern = "0|([1-9]\\d{0,38})", .ere = "0|([1-9][0-9]{0,38})"}
#define SEQ_NUM(n) {.name = n, .type = VT_STRING, .flags = 0, .pattern = "0|([1-9]\\d{0,128})", .ere = "0|([1-9][0-9]{0,128})"}
#define PARTITION_KEY {.name = "PartitionKey", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 256}
#define DATA {.name = "Data", .type = VT_BLOB, .flags = V_NOT_NULL | V_LEN_MAX, .len_min = 0, .len_max = 10485760}
#define LIMIT(n, hi) {.name = n, .type = VT_INT, .flags = V_MIN | V_MAX, .min = 1, .max = hi}
#define NEXT_TOKEN {.name = "NextToken", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 1048576}
#define TAG_MAP(f) {.name = "Tags", .type = VT_MAP, .flags = (f) | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 200, .member = &TAG_VALUE}
#define TAG_KEYS {.name = "TagKeys", .type = VT_LIST, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 50, .member = &TAG_KEY}
#define END {0}

static const struct v_rule TAG_VALUE = {.name = "member", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 0, .len_max = 256};
static const struct v_rule TAG_KEY = {.name = "member", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 128};
static const char *const ITERATOR_TYPES[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON",
                                             "LATEST", "AT_TIMESTAMP", NULL};
static const char *const FILTER_TYPES[] = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
                                           "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP", NULL};
static const char *const STREAM_MODES[] = {"PROVISIONED", "ON_DEMAND", NULL};
static const char *const ENCRYPTION_TYPES[] = {"NONE", "KMS", NULL};
static const char *const METRICS[] = {"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
                                      "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
                                      "IteratorAgeMilliseconds", "ALL", NULL};
static const struct v_rule METRIC = {.name = "member", .type = VT_STRING, .flags = 0, .enums = METRICS};

static const struct v_rule STREAM_MODE_DETAILS[] = {
    {.name = "StreamMode", .type = VT_STRING, .flags = V_NOT_NULL, .enums = STREAM_MODES}, END};
static const struct v_rule SHARD_FILTER[] = {
    {.name = "Type", .type = VT_STRING, .flags = V_NOT_NULL, .enums = FILTER_TYPES}, SHARD_ID("ShardId", 0),
    {.name = "Timestamp", .type = VT_TIMESTAMP, .flags = 0}, END};
static const struct v_rule PUT_RECORDS_ENTRY[] = {DATA, HASH_KEY, PARTITION_KEY, END};
static const struct v_rule PUT_RECORDS_MEMBER = {.name = "member", .type = VT_STRUCT, .flags = 0, .children = PUT_RECORDS_ENTRY};

/* ---- rules per operation ---- */

static const struct v_rule STREAM_ONLY[] = {STREAM_NAME, STREAM_ARN, END};
static const struct v_rule NOTHING[] = {END};
static const struct v_rule CREATE_STREAM[] = {
    STREAM_NAME_REQUIRED, {.name = "ShardCount", .type = VT_INT, .flags = V_MIN, .min = 1},
    {.name = "StreamModeDetails", .type = VT_STRUCT, .flags = 0, .children = STREAM_MODE_DETAILS}, TAG_MAP(0),
    {.name = "WarmThroughputMiBps", .type = VT_INT, .flags = V_MIN, .min = 0},
    {.name = "MaxRecordSizeInKiB", .type = VT_INT, .flags = V_MIN | V_MAX, .min = 1024, .max = 10240}, END};
static const struct v_rule DELETE_STREAM[] = {STREAM_NAME, STREAM_ARN, {.name = "EnforceConsumerDeletion", .type = VT_BOOL, .flags = 0}, END};
static const struct v_rule DESCRIBE_STREAM[] = {STREAM_NAME, STREAM_ARN, LIMIT("Limit", 10000),
                                               SHARD_ID("ExclusiveStartShardId", 0), END};
static const struct v_rule LIST_STREAMS[] = {LIMIT("Limit", 10000), NAME_RULE("ExclusiveStartStreamName"),
                                            NEXT_TOKEN, END};
static const struct v_rule LIST_SHARDS[] = {
    STREAM_NAME, STREAM_ARN, NEXT_TOKEN, SHARD_ID("ExclusiveStartShardId", 0), LIMIT("MaxResults", 10000),
    {.name = "StreamCreationTimestamp", .type = VT_TIMESTAMP, .flags = 0},
    {.name = "ShardFilter", .type = VT_STRUCT, .flags = 0, .children = SHARD_FILTER}, END};
static const struct v_rule PUT_RECORD[] = {STREAM_NAME, STREAM_ARN, DATA, PARTITION_KEY, HASH_KEY,
                                          SEQ_NUM("SequenceNumberForOrdering"), END};
static const struct v_rule PUT_RECORDS[] = {
    {.name = "Records", .type = VT_LIST, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 500, .member = &PUT_RECORDS_MEMBER,
     .member_str = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"},
    STREAM_NAME, STREAM_ARN, END};
static const struct v_rule GET_SHARD_ITERATOR[] = {
    STREAM_NAME, STREAM_ARN, SHARD_ID("ShardId", V_NOT_NULL),
    {.name = "ShardIteratorType", .type = VT_STRING, .flags = V_NOT_NULL, .enums = ITERATOR_TYPES},
    SEQ_NUM("StartingSequenceNumber"), {.name = "Timestamp", .type = VT_TIMESTAMP, .flags = 0}, END};
static const struct v_rule GET_RECORDS[] = {
    {.name = "ShardIterator", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 512}, LIMIT("Limit", 10000),
    STREAM_ARN, END};
static const struct v_rule ADD_TAGS[] = {STREAM_NAME, STREAM_ARN, TAG_MAP(V_NOT_NULL), END};
static const struct v_rule REMOVE_TAGS[] = {STREAM_NAME, STREAM_ARN, TAG_KEYS, END};
static const struct v_rule LIST_TAGS_FOR_STREAM[] = {
    STREAM_NAME, STREAM_ARN, {.name = "ExclusiveStartTagKey", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 128},
    LIMIT("Limit", 50), END};
static const struct v_rule TAG_RESOURCE[] = {TAG_MAP(V_NOT_NULL), RESOURCE_ARN, END};
static const struct v_rule UNTAG_RESOURCE[] = {TAG_KEYS, RESOURCE_ARN, END};
static const struct v_rule RESOURCE_ONLY[] = {RESOURCE_ARN, END};
static const struct v_rule RETENTION[] = {STREAM_NAME, STREAM_ARN,
                                         {.name = "RetentionPeriodHours", .type = VT_INT, .flags = V_NOT_NULL}, END};
static const struct v_rule ENCRYPTION[] = {
    STREAM_NAME, STREAM_ARN, {.name = "EncryptionType", .type = VT_STRING, .flags = V_NOT_NULL, .enums = ENCRYPTION_TYPES},
    {.name = "KeyId", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 2048}, END};
static const struct v_rule MONITORING[] = {
    STREAM_NAME, STREAM_ARN,
    {.name = "ShardLevelMetrics", .type = VT_LIST, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 7, .member = &METRIC}, END};
static const struct v_rule MAX_RECORD_SIZE[] = {
    STREAM_ARN, {.name = "MaxRecordSizeInKiB", .type = VT_INT, .flags = V_NOT_NULL | V_MIN | V_MAX, .min = 1024, .max = 10240}, END};

/* ---- shared helpers ---- */

void kinesis_stream_arn(const struct db_stream *s, char *out, size_t outlen)
{
    snprintf(out, outlen, "arn:aws:kinesis:%s:%s:stream/%s", s->region, g_cfg.account, s->name);
}

int kinesis_not_found(struct svc_ctx *c, const char *name)
{
    return reply_error(c, ERR_RESOURCE_NOT_FOUND, "Stream %s under account %s not found.", name, g_cfg.account);
}


int kinesis_stream_name_or_reply(struct svc_ctx *c, const cJSON *in, char name[STREAM_NAME_MAX + 1])
{
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(in, "StreamName");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(in, "StreamARN");
    if (!cJSON_IsString(ja))
        ja = cJSON_GetObjectItemCaseSensitive(in, "ResourceARN");
    if (cJSON_IsString(ja)) {
        char region[32];
        if (kinesis_parse_arn(ja->valuestring, region, sizeof region, name))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid ARN: %s", ja->valuestring);
        if (cJSON_IsString(jn) && strcmp(jn->valuestring, name))
            return reply_error(c, ERR_INVALID_ARGUMENT,
                               "StreamARN %s and StreamName %s do not refer to the same stream.",
                               ja->valuestring, jn->valuestring);
        snprintf(c->region, sizeof c->region, "%s", region);
        return 0;
    }
    if (!cJSON_IsString(jn))
        return reply_error(c, ERR_INVALID_ARGUMENT, "Either StreamName or StreamARN should be provided.");
    snprintf(name, STREAM_NAME_MAX + 1, "%s", jn->valuestring);
    return 0;
}

int kinesis_stream_get_or_reply(struct svc_ctx *c, const char *name, struct db_stream *s)
{
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_get(db, c->region, name, c->now_ms, s);
    db_reader_release(db);
    if (rc == TP_ENOTFOUND)
        return kinesis_not_found(c, name);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

int kinesis_stream_lookup_or_reply(struct svc_ctx *c, const cJSON *in, struct db_stream *s)
{
    char name[STREAM_NAME_MAX + 1];
    if (kinesis_stream_name_or_reply(c, in, name))
        return -1;
    return kinesis_stream_get_or_reply(c, name, s);
}

int kinesis_token_stream_or_reply(struct svc_ctx *c, const char *name, uint64_t created_ms, const char *invalid,
                                  struct db_stream *s)
{
    if (kinesis_stream_get_or_reply(c, name, s))
        return -1;
    if (s->created_ms != created_ms)
        return reply_error(c, ERR_INVALID_ARGUMENT, "%s", invalid);
    return 0;
}

static int change_job(struct db_conn *w, void *ctx)
{
    struct kinesis_change *ch = ctx;
    int rc = db_stream_get(w, ch->region, ch->name, ch->now, &ch->s);
    return rc != TP_OK ? rc : ch->apply(w, &ch->s, ch);
}

int kinesis_change_or_reply(struct svc_ctx *c, struct kinesis_change *ch)
{
    char name[STREAM_NAME_MAX + 1];
    if (kinesis_stream_name_or_reply(c, ch->in, name))
        return -1;
    ch->region = c->region;
    ch->name = name;
    ch->now = c->now_ms;
    ch->msg[0] = 0;
    int rc = db_write(change_job, ch);
    ch->name = NULL;
    if (rc == TP_ENOTFOUND)
        return kinesis_not_found(c, name);
    if (rc != TP_OK)
        return reply_error(c, (enum tp_err)rc, ch->msg[0] ? "%s" : NULL, ch->msg);
    return 0;
}

/* ---- the operation table (sorted by wire name) ---- */

static const struct svc_op OPS[] = {
    {"AddTagsToStream", kinesis_add_tags_to_stream, ADD_TAGS},
    {"CreateStream", kinesis_create_stream, CREATE_STREAM},
    {"DecreaseStreamRetentionPeriod", kinesis_decrease_stream_retention_period, RETENTION},
    {"DeleteStream", kinesis_delete_stream, DELETE_STREAM},
    {"DescribeAccountSettings", kinesis_describe_account_settings, NOTHING},
    {"DescribeLimits", kinesis_describe_limits, NOTHING},
    {"DescribeStream", kinesis_describe_stream, DESCRIBE_STREAM},
    {"DescribeStreamSummary", kinesis_describe_stream_summary, STREAM_ONLY},
    {"DisableEnhancedMonitoring", kinesis_disable_enhanced_monitoring, MONITORING},
    {"EnableEnhancedMonitoring", kinesis_enable_enhanced_monitoring, MONITORING},
    {"GetRecords", kinesis_get_records, GET_RECORDS},
    {"GetShardIterator", kinesis_get_shard_iterator, GET_SHARD_ITERATOR},
    {"IncreaseStreamRetentionPeriod", kinesis_increase_stream_retention_period, RETENTION},
    {"ListShards", kinesis_list_shards, LIST_SHARDS},
    {"ListStreams", kinesis_list_streams, LIST_STREAMS},
    {"ListTagsForResource", kinesis_list_tags_for_resource, RESOURCE_ONLY},
    {"ListTagsForStream", kinesis_list_tags_for_stream, LIST_TAGS_FOR_STREAM},
    {"PutRecord", kinesis_put_record, PUT_RECORD},
    {"PutRecords", kinesis_put_records, PUT_RECORDS},
    {"RemoveTagsFromStream", kinesis_remove_tags_from_stream, REMOVE_TAGS},
    {"StartStreamEncryption", kinesis_start_stream_encryption, ENCRYPTION},
    {"StopStreamEncryption", kinesis_stop_stream_encryption, ENCRYPTION},
    {"TagResource", kinesis_tag_resource, TAG_RESOURCE},
    {"UntagResource", kinesis_untag_resource, UNTAG_RESOURCE},
    {"UpdateMaxRecordSize", kinesis_update_max_record_size, MAX_RECORD_SIZE},
};

const struct svc_service kinesis_service = {
    .target_prefix = "Kinesis_20131202",
    .content_type = "application/x-amz-json-1.1",
    .ops = OPS,
    .n_ops = sizeof OPS / sizeof *OPS,
    .validation = ERR_VALIDATION,
    .host_prefix = "kinesis",
};
