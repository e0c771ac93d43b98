/* Amazon Data Firehose: validation rules per operation (data, checked by
 * server/validate.c before any handler runs; constraints as in AWS's model),
 * the helpers handlers share, and the operation table the router dispatches
 * on. */
#include "server/runtime/config.h"
#include "server/firehose/firehose.h"
#include "server/firehose/firehose_engine.h"

#include <stdio.h>
#include <string.h>

#define END {0}
#define STR(n, f, lo, hi) {.name = n, .type = VT_STRING, .flags = (f) | V_LEN_MIN | V_LEN_MAX, .len_min = lo, .len_max = hi}
#define STR_RE(n, f, lo, hi, pat, re) {.name = n, .type = VT_STRING, .flags = (f) | V_LEN_MIN | V_LEN_MAX, .len_min = lo, .len_max = hi, .pattern = pat, .ere = re}
#define ENUM(n, f, values) {.name = n, .type = VT_STRING, .flags = (f), .enums = values}
#define STRUCT(n, f, kids) {.name = n, .type = VT_STRUCT, .flags = (f), .children = kids}
#define LIST(n, f, lo, hi, m) {.name = n, .type = VT_LIST, .flags = (f) | V_LEN_MIN | V_LEN_MAX, .len_min = lo, .len_max = hi, .member = m}
#define INT(n, f, lo, hi) {.name = n, .type = VT_INT, .flags = (f) | V_MIN | V_MAX, .min = lo, .max = hi}
#define BOOL(n) {.name = n, .type = VT_BOOL, .flags = 0}
#define ANY_STRUCT(n) {.name = n, .type = VT_STRUCT, .flags = 0}

#define STREAM_NAME(n, f) STR_RE(n, f, 1, 64, "[a-zA-Z0-9_.-]+", "[a-zA-Z0-9_.-]+")
#define ROLE_ARN(f) STR_RE("RoleARN", f, 1, 512, "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+", \
                           "arn:.*:iam::[0-9]{12}:role/[a-zA-Z_0-9+=,.@_/-]+")
#define BUCKET_ARN(f) STR_RE("BucketARN", f, 1, 2048, "arn:.*:s3:::[\\w\\.\\-]{1,255}", "arn:.*:s3:::[[:alnum:]_.-]{1,255}")
#define KMS_ARN(n, f) STR_RE(n, f, 1, 512, "arn:.*:kms:[a-zA-Z0-9\\-]+:\\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\\-_/]+", \
                             "arn:.*:kms:[a-zA-Z0-9-]+:[0-9]{12}:(key|alias)/[a-zA-Z_0-9+=,.@_/-]+")

static const char *const STREAM_TYPES[] = {"DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource", NULL};
static const char *const KEY_TYPES[] = {"AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK", NULL};
static const char *const COMPRESSION[] = {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", NULL};
static const char *const NO_ENCRYPTION[] = {"NoEncryption", NULL};
static const char *const BACKUP_MODES[] = {"Disabled", "Enabled", NULL};
static const char *const PROCESSOR_TYPES[] = {"RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda",
                                              "MetadataExtraction", "AppendDelimiterToRecord", NULL};
static const char *const PARAMETER_NAMES[] = {
    "LambdaArn", "NumberOfRetries", "MetadataExtractionQuery", "JsonParsingEngine", "RoleArn", "BufferSizeInMBs",
    "BufferIntervalInSeconds", "SubRecordType", "Delimiter", "CompressionFormat", "DataMessageExtraction", NULL};

/* ---- S3 destination shapes ---- */

static const struct v_rule BUFFERING_HINTS[] = {INT("SizeInMBs", 0, 1, 128), INT("IntervalInSeconds", 0, 0, 900), END};
static const struct v_rule KMS_CONFIG[] = {KMS_ARN("AWSKMSKeyARN", V_NOT_NULL), END};
static const struct v_rule ENCRYPTION_CONFIG[] = {ENUM("NoEncryptionConfig", 0, NO_ENCRYPTION),
                                                  STRUCT("KMSEncryptionConfig", 0, KMS_CONFIG), END};
static const struct v_rule LOGGING[] = {
    BOOL("Enabled"), STR_RE("LogGroupName", 0, 0, 512, "[\\.\\-_/#A-Za-z0-9]*", "[._/#A-Za-z0-9-]*"),
    STR_RE("LogStreamName", 0, 0, 512, "[^:*]*", "[^:*]*"), END};
static const struct v_rule PARAMETER[] = {ENUM("ParameterName", V_NOT_NULL, PARAMETER_NAMES),
                                          STR("ParameterValue", V_NOT_NULL, 1, 5120), END};
static const struct v_rule PARAMETER_MEMBER = STRUCT("member", 0, PARAMETER);
static const struct v_rule PROCESSOR[] = {ENUM("Type", V_NOT_NULL, PROCESSOR_TYPES),
                                          {.name = "Parameters", .type = VT_LIST, .flags = 0, .member = &PARAMETER_MEMBER}, END};
static const struct v_rule PROCESSOR_MEMBER = STRUCT("member", 0, PROCESSOR);
static const struct v_rule PROCESSING[] = {
    BOOL("Enabled"), {.name = "Processors", .type = VT_LIST, .flags = 0, .member = &PROCESSOR_MEMBER}, END};
static const struct v_rule RETRY[] = {INT("DurationInSeconds", 0, 0, 7200), END};
static const struct v_rule DYNAMIC_PARTITIONING[] = {STRUCT("RetryOptions", 0, RETRY), BOOL("Enabled"), END};

#define S3_COMMON(f)                                                                          \
    ROLE_ARN(f), BUCKET_ARN(f), STR("Prefix", 0, 0, 1024), STR("ErrorOutputPrefix", 0, 0, 1024), \
    STRUCT("BufferingHints", 0, BUFFERING_HINTS), ENUM("CompressionFormat", 0, COMPRESSION),  \
    STRUCT("EncryptionConfiguration", 0, ENCRYPTION_CONFIG), STRUCT("CloudWatchLoggingOptions", 0, LOGGING)
#define S3_EXTENDED(backup)                                                                   \
    STRUCT("ProcessingConfiguration", 0, PROCESSING), ENUM("S3BackupMode", 0, BACKUP_MODES),  \
    STRUCT(backup, 0, S3_CONFIG), ANY_STRUCT("DataFormatConversionConfiguration"),           \
    STRUCT("DynamicPartitioningConfiguration", 0, DYNAMIC_PARTITIONING),                     \
    STR_RE("FileExtension", 0, 0, 128, "^$|\\.[0-9a-z!\\-_.*'()]+", "(\\.[0-9a-z!_.*'()-]+)?"), \
    STR_RE("CustomTimeZone", 0, 0, 50, "^$|[a-zA-Z/_]+", "[a-zA-Z/_]*")

static const struct v_rule S3_CONFIG[] = {S3_COMMON(V_NOT_NULL), END};
static const struct v_rule S3_UPDATE[] = {S3_COMMON(0), END};
static const struct v_rule EXTENDED_S3_CONFIG[] = {S3_COMMON(V_NOT_NULL), S3_EXTENDED("S3BackupConfiguration"), END};
static const struct v_rule EXTENDED_S3_UPDATE[] = {S3_COMMON(0), S3_EXTENDED("S3BackupUpdate"), END};

/* ---- other shapes ---- */

static const struct v_rule KINESIS_SOURCE[] = {
    STR_RE("KinesisStreamARN", V_NOT_NULL, 1, 512, "arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+",
           "arn:.*:kinesis:[a-zA-Z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]+"),
    ROLE_ARN(V_NOT_NULL), END};
static const struct v_rule DIRECT_PUT_SOURCE[] = {INT("ThroughputHintInMBs", 0, 1, 100), END};
static const struct v_rule ENCRYPTION_INPUT[] = {KMS_ARN("KeyARN", 0), ENUM("KeyType", V_NOT_NULL, KEY_TYPES), END};
static const struct v_rule TAG[] = {STR("Key", V_NOT_NULL, 1, 128), STR("Value", 0, 0, 256), END};
static const struct v_rule TAG_MEMBER = STRUCT("member", 0, TAG);
static const struct v_rule TAG_KEY = STR("member", 0, 1, 128);
static const struct v_rule RECORD[] = {{.name = "Data", .type = VT_BLOB, .flags = V_NOT_NULL | V_LEN_MAX, .len_max = FH_MAX_RECORD_BYTES}, END};
static const struct v_rule RECORD_MEMBER = STRUCT("member", 0, RECORD);

/* ---- rules per operation ---- */

static const struct v_rule CREATE[] = {
    STREAM_NAME("DeliveryStreamName", V_NOT_NULL), ENUM("DeliveryStreamType", 0, STREAM_TYPES),
    STRUCT("DirectPutSourceConfiguration", 0, DIRECT_PUT_SOURCE),
    STRUCT("KinesisStreamSourceConfiguration", 0, KINESIS_SOURCE),
    STRUCT("DeliveryStreamEncryptionConfigurationInput", 0, ENCRYPTION_INPUT),
    STRUCT("S3DestinationConfiguration", 0, S3_CONFIG),
    STRUCT("ExtendedS3DestinationConfiguration", 0, EXTENDED_S3_CONFIG),
    ANY_STRUCT("RedshiftDestinationConfiguration"), ANY_STRUCT("ElasticsearchDestinationConfiguration"),
    ANY_STRUCT("AmazonopensearchserviceDestinationConfiguration"), ANY_STRUCT("SplunkDestinationConfiguration"),
    ANY_STRUCT("HttpEndpointDestinationConfiguration"), ANY_STRUCT("AmazonOpenSearchServerlessDestinationConfiguration"),
    ANY_STRUCT("SnowflakeDestinationConfiguration"), ANY_STRUCT("IcebergDestinationConfiguration"),
    ANY_STRUCT("MSKSourceConfiguration"), ANY_STRUCT("DatabaseSourceConfiguration"),
    LIST("Tags", 0, 1, 50, &TAG_MEMBER), END};
static const struct v_rule DELETE[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL), BOOL("AllowForceDelete"), END};
static const struct v_rule DESCRIBE[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL), INT("Limit", 0, 1, 10000),
                                         STR_RE("ExclusiveStartDestinationId", 0, 1, 100, "[a-zA-Z0-9-]+", "[a-zA-Z0-9-]+"), END};
static const struct v_rule LIST_STREAMS[] = {INT("Limit", 0, 1, 10000), ENUM("DeliveryStreamType", 0, STREAM_TYPES),
                                             STREAM_NAME("ExclusiveStartDeliveryStreamName", 0), END};
static const struct v_rule UPDATE[] = {
    STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
    STR_RE("CurrentDeliveryStreamVersionId", V_NOT_NULL, 1, 50, "[0-9]+", "[0-9]+"),
    STR_RE("DestinationId", V_NOT_NULL, 1, 100, "[a-zA-Z0-9-]+", "[a-zA-Z0-9-]+"),
    STRUCT("S3DestinationUpdate", 0, S3_UPDATE), STRUCT("ExtendedS3DestinationUpdate", 0, EXTENDED_S3_UPDATE),
    ANY_STRUCT("RedshiftDestinationUpdate"), ANY_STRUCT("ElasticsearchDestinationUpdate"),
    ANY_STRUCT("AmazonopensearchserviceDestinationUpdate"), ANY_STRUCT("SplunkDestinationUpdate"),
    ANY_STRUCT("HttpEndpointDestinationUpdate"), ANY_STRUCT("AmazonOpenSearchServerlessDestinationUpdate"),
    ANY_STRUCT("SnowflakeDestinationUpdate"), ANY_STRUCT("IcebergDestinationUpdate"), END};
static const struct v_rule START_ENCRYPTION[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
                                                 STRUCT("DeliveryStreamEncryptionConfigurationInput", 0, ENCRYPTION_INPUT), END};
static const struct v_rule STOP_ENCRYPTION[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL), END};
static const struct v_rule PUT_RECORD[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL), STRUCT("Record", V_NOT_NULL, RECORD), END};
static const struct v_rule PUT_RECORD_BATCH[] = {
    STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
    {.name = "Records", .type = VT_LIST, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = FH_MAX_BATCH_RECORDS,
     .member = &RECORD_MEMBER}, END};
static const struct v_rule TAG_STREAM[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
                                           LIST("Tags", V_NOT_NULL, 1, 50, &TAG_MEMBER), END};
static const struct v_rule UNTAG_STREAM[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
                                             LIST("TagKeys", V_NOT_NULL, 1, 50, &TAG_KEY), END};
static const struct v_rule LIST_TAGS[] = {STREAM_NAME("DeliveryStreamName", V_NOT_NULL),
                                          STR("ExclusiveStartTagKey", 0, 1, 128), INT("Limit", 0, 1, 50), END};

/* ---- shared helpers ---- */

void firehose_arn(const char *region, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "arn:aws:firehose:%s:%s:deliverystream/%s", region, g_cfg.account, name);
}

int firehose_not_found(struct svc_ctx *c, const char *name)
{
    return reply_error(c, ERR_RESOURCE_NOT_FOUND, "Firehose %s under account %s not found.", name, g_cfg.account);
}

int firehose_lookup_or_reply(struct svc_ctx *c, const cJSON *in, struct db_fh *f)
{
    const char *name = v_str(in, "DeliveryStreamName");
    struct db_conn *db = db_reader_acquire();
    int rc = db_fh_get(db, c->region, name, c->now_ms, f);
    db_reader_release(db);
    if (rc == TP_ENOTFOUND)
        return firehose_not_found(c, name);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

static int change_job(struct db_conn *w, void *ctx)
{
    struct firehose_change *ch = ctx;
    struct db_fh f;
    int rc = db_fh_get(w, ch->region, ch->name, ch->now, &f);
    if (rc != TP_OK)
        return rc;
    rc = ch->apply(w, &f, ch);
    db_fh_clear(&f);
    return rc;
}

int firehose_change_or_reply(struct svc_ctx *c, struct firehose_change *ch)
{
    ch->region = c->region;
    ch->name = v_str(ch->in, "DeliveryStreamName");
    ch->now = c->now_ms;
    ch->msg[0] = 0;
    int rc = db_write(change_job, ch);
    if (rc == TP_ENOTFOUND)
        return firehose_not_found(c, ch->name);
    if (rc != TP_OK)
        return reply_error(c, (enum tp_err)rc, ch->msg[0] ? "%s" : NULL, ch->msg);
    firehose_engine_wake(); /* a change the workers may need to see */
    jw_obj_begin(&c->out);
    jw_obj_end(&c->out);
    return 0;
}

/* ---- the operation table (sorted by wire name) ---- */

static const struct svc_op OPS[] = {
    {"CreateDeliveryStream", firehose_create_delivery_stream, CREATE},
    {"DeleteDeliveryStream", firehose_delete_delivery_stream, DELETE},
    {"DescribeDeliveryStream", firehose_describe_delivery_stream, DESCRIBE},
    {"ListDeliveryStreams", firehose_list_delivery_streams, LIST_STREAMS},
    {"ListTagsForDeliveryStream", firehose_list_tags, LIST_TAGS},
    {"PutRecord", firehose_put_record, PUT_RECORD},
    {"PutRecordBatch", firehose_put_record_batch, PUT_RECORD_BATCH},
    {"StartDeliveryStreamEncryption", firehose_start_encryption, START_ENCRYPTION},
    {"StopDeliveryStreamEncryption", firehose_stop_encryption, STOP_ENCRYPTION},
    {"TagDeliveryStream", firehose_tag_delivery_stream, TAG_STREAM},
    {"UntagDeliveryStream", firehose_untag_delivery_stream, UNTAG_STREAM},
    {"UpdateDestination", firehose_update_destination, UPDATE},
};

const struct svc_service firehose_service = {
    .target_prefix = "Firehose_20150804",
    .content_type = "application/x-amz-json-1.1",
    .ops = OPS,
    .n_ops = sizeof OPS / sizeof *OPS,
    .validation = ERR_VALIDATION,
    .host_prefix = "firehose",
};
