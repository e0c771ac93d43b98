/* The stored S3 destination of a delivery stream: built from the request's
 * (Extended)S3DestinationConfiguration with AWS's defaults filled in, kept as
 * the JSON text DescribeDeliveryStream shows (ExtendedS3DestinationDescription),
 * merged with UpdateDestination's updates, and read by the delivery engine
 * (firehose_settings). One text, so what Describe shows is what runs. */
#include "server/firehose/firehose.h"
#include "server/firehose/firehose_settings.h"
#include "protocol/compress.h"
#include "protocol/fh_prefix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lambda processor defaults (AWS developer guide, data transformation). */
#define LAMBDA_DEFAULT_RETRIES 3
#define LAMBDA_DEFAULT_BUFFER_MB 1.0
#define LAMBDA_DEFAULT_INTERVAL 60

static void copy_or(cJSON *out, const cJSON *in, const char *key, cJSON *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, key);
    if (v && !cJSON_IsNull(v)) {
        cJSON_AddItemToObject(out, key, cJSON_Duplicate(v, 1));
        cJSON_Delete(dflt);
    } else if (dflt) {
        cJSON_AddItemToObject(out, key, dflt);
    }
}

static cJSON *obj1(const char *k, cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, k, v);
    return o;
}

/* The members every S3 destination has, defaults filled in, in AWS's order. */
static cJSON *s3_common(const cJSON *cfg)
{
    cJSON *d = cJSON_CreateObject();
    const cJSON *bh = cJSON_GetObjectItemCaseSensitive(cfg, "BufferingHints");
    copy_or(d, cfg, "RoleARN", NULL);
    copy_or(d, cfg, "BucketARN", NULL);
    copy_or(d, cfg, "Prefix", NULL);
    copy_or(d, cfg, "ErrorOutputPrefix", NULL);
    cJSON *hints = cJSON_AddObjectToObject(d, "BufferingHints");
    cJSON_AddNumberToObject(hints, "SizeInMBs", v_int(bh, "SizeInMBs", 5));
    cJSON_AddNumberToObject(hints, "IntervalInSeconds", v_int(bh, "IntervalInSeconds", 300));
    copy_or(d, cfg, "CompressionFormat", cJSON_CreateString("UNCOMPRESSED"));
    copy_or(d, cfg, "EncryptionConfiguration", obj1("NoEncryptionConfig", cJSON_CreateString("NoEncryption")));
    copy_or(d, cfg, "CloudWatchLoggingOptions", obj1("Enabled", cJSON_CreateFalse()));
    return d;
}

static const char *param(const cJSON *proc, const char *name)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(proc, "Parameters")) {
        const char *n = v_str(p, "ParameterName");
        if (n && !strcmp(n, name))
            return v_str(p, "ParameterValue");
    }
    return NULL;
}

static int enabled(const cJSON *o)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "Enabled"));
}

/* A Lambda processor's numeric parameters within AWS's ranges. */
static int check_lambda(const cJSON *proc, char *msg, size_t msglen)
{
    static const struct { const char *name; double lo, hi; int integer; } RANGES[] = {
        {"NumberOfRetries", 0, 300, 1}, {"BufferSizeInMBs", 0.2, 3, 0}, {"BufferIntervalInSeconds", 0, 900, 1}};
    for (unsigned i = 0; i < sizeof RANGES / sizeof *RANGES; i++) {
        const char *v = param(proc, RANGES[i].name);
        char *end;
        if (!v)
            continue;
        double d = strtod(v, &end);
        /* written so that NaN ("nan" parses) is out of range, and nothing is converted */
        if (end == v || *end || !(d >= RANGES[i].lo && d <= RANGES[i].hi) || (RANGES[i].integer && d != floor(d))) {
            snprintf(msg, msglen, "Invalid value %s for parameter %s: it must be %s between %g and %g.", v,
                     RANGES[i].name, RANGES[i].integer ? "an integer" : "a number", RANGES[i].lo, RANGES[i].hi);
            return -1;
        }
    }
    return 0;
}

/* The checks AWS makes on a destination that need more than its model. */
static int check(const cJSON *d, int dynamic, char *msg, size_t msglen)
{
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(d, "ProcessingConfiguration"), *p;
    if (fh_prefix_validate(v_str(d, "Prefix"), v_str(d, "ErrorOutputPrefix"), dynamic, v_str(d, "CustomTimeZone"),
                           msg, msglen))
        return -1;
    int lambdas = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pc, "Processors")) {
        const char *type = v_str(p, "Type");
        if (!strcmp(type, "Lambda") && (lambdas++ || !param(p, "LambdaArn") || check_lambda(p, msg, msglen))) {
            if (lambdas > 1)
                snprintf(msg, msglen, "Only one processor of type Lambda is supported.");
            else if (!param(p, "LambdaArn"))
                snprintf(msg, msglen, "LambdaArn is a required parameter for processor type Lambda.");
            return -1;
        }
        if (strcmp(type, "Lambda") && strcmp(type, "AppendDelimiterToRecord") && strcmp(type, "RecordDeAggregation") &&
            enabled(pc)) {
            snprintf(msg, msglen, "Processor type %s is not supported by tidepool.", type);
            return -1;
        }
    }
    if (enabled(cJSON_GetObjectItemCaseSensitive(d, "DataFormatConversionConfiguration"))) {
        snprintf(msg, msglen, "DataFormatConversionConfiguration (Parquet/ORC) is not supported by tidepool.");
        return -1;
    }
    if (dynamic) {
        snprintf(msg, msglen, "DynamicPartitioningConfiguration is not supported by tidepool.");
        return -1;
    }
    const char *mode = v_str(d, "S3BackupMode");
    if (mode && !strcmp(mode, "Enabled") && !cJSON_GetObjectItemCaseSensitive(d, "S3BackupDescription")) {
        snprintf(msg, msglen, "S3BackupConfiguration must be specified when S3BackupMode is Enabled.");
        return -1;
    }
    return 0;
}

char *firehose_destination_from_config(const cJSON *cfg, int extended, char *msg, size_t msglen)
{
    cJSON *d = s3_common(cfg);
    if (extended) {
        const cJSON *backup = cJSON_GetObjectItemCaseSensitive(cfg, "S3BackupConfiguration");
        copy_or(d, cfg, "ProcessingConfiguration", NULL);
        copy_or(d, cfg, "S3BackupMode", cJSON_CreateString("Disabled"));
        if (backup && !cJSON_IsNull(backup))
            cJSON_AddItemToObject(d, "S3BackupDescription", s3_common(backup));
        copy_or(d, cfg, "DataFormatConversionConfiguration", NULL);
        copy_or(d, cfg, "DynamicPartitioningConfiguration", NULL);
        copy_or(d, cfg, "FileExtension", NULL);
        copy_or(d, cfg, "CustomTimeZone", NULL);
    } else {
        cJSON_AddStringToObject(d, "S3BackupMode", "Disabled");
    }
    char *text = NULL;
    if (!check(d, enabled(cJSON_GetObjectItemCaseSensitive(d, "DynamicPartitioningConfiguration")), msg, msglen))
        text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return text;
}

/* Objects merge member by member; anything else replaces. */
static void merge(cJSON *dst, const cJSON *src)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, src) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, s->string);
        if (cJSON_IsObject(d) && cJSON_IsObject(s))
            merge(d, s);
        else if (d)
            cJSON_ReplaceItemInObjectCaseSensitive(dst, s->string, cJSON_Duplicate(s, 1));
        else
            cJSON_AddItemToObject(dst, s->string, cJSON_Duplicate(s, 1));
    }
}

char *firehose_destination_update(const char *stored, const cJSON *update, char *msg, size_t msglen)
{
    cJSON *cfg = cJSON_Parse(stored);
    cJSON *up = cJSON_Duplicate(update, 1);
    char *text = NULL;
    if (cfg && up) {
        /* the description names the backup as the configuration does not */
        cJSON *b = cJSON_DetachItemFromObjectCaseSensitive(cfg, "S3BackupDescription");
        if (b)
            cJSON_AddItemToObject(cfg, "S3BackupConfiguration", b);
        if ((b = cJSON_DetachItemFromObjectCaseSensitive(up, "S3BackupUpdate")))
            cJSON_AddItemToObject(up, "S3BackupConfiguration", b);
        const char *was = v_str(cfg, "S3BackupMode");
        int backup_on = was && !strcmp(was, "Enabled");
        merge(cfg, up);
        const char *now = v_str(cfg, "S3BackupMode");
        if (backup_on && now && strcmp(now, "Enabled"))
            snprintf(msg, msglen, "S3BackupMode cannot be changed from Enabled to Disabled.");
        else
            text = firehose_destination_from_config(cfg, 1, msg, msglen);
    } else {
        snprintf(msg, msglen, "Internal error.");
    }
    cJSON_Delete(cfg);
    cJSON_Delete(up);
    return text;
}

static void write_json(struct jw *w, const cJSON *v)
{
    char *t = cJSON_PrintUnformatted(v);
    if (t)
        jw_raw(w, t, strlen(t));
    free(t);
}

void firehose_write_destinations(struct jw *w, const char *stored)
{
    static const char *const S3_MEMBERS[] = {"RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
                                             "CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions"};
    cJSON *d = cJSON_Parse(stored);
    jw_arr_begin(w);
    jw_obj_begin(w);
    jw_key(w, "DestinationId");
    jw_str(w, FH_DESTINATION_ID);
    jw_key(w, "S3DestinationDescription");
    jw_obj_begin(w);
    for (unsigned i = 0; i < sizeof S3_MEMBERS / sizeof *S3_MEMBERS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, S3_MEMBERS[i]);
        if (v) {
            jw_key(w, S3_MEMBERS[i]);
            write_json(w, v);
        }
    }
    jw_obj_end(w);
    jw_key(w, "ExtendedS3DestinationDescription");
    write_json(w, d);
    jw_obj_end(w);
    jw_arr_end(w);
    cJSON_Delete(d);
}

/* ---- what the engine reads ---- */

static int bucket_of(const char *arn, char *out, size_t outlen)
{
    const char *p = arn ? strstr(arn, ":::") : NULL;
    if (!p || strlen(p + 3) >= outlen)
        return -1;
    strcpy(out, p + 3);
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int s3_settings(const cJSON *d, struct fh_s3 *s)
{
    const cJSON *bh = cJSON_GetObjectItemCaseSensitive(d, "BufferingHints");
    const char *comp = v_str(d, "CompressionFormat"), *ext = v_str(d, "FileExtension");
    if (bucket_of(v_str(d, "BucketARN"), s->bucket, sizeof s->bucket) ||
        fh_compression_parse(comp ? comp : "UNCOMPRESSED", &s->compression))
        return -1;
    s->prefix = dup_or_null(v_str(d, "Prefix"));
    s->error_prefix = dup_or_null(v_str(d, "ErrorOutputPrefix"));
    s->size_bytes = (uint64_t)v_int(bh, "SizeInMBs", 5) * 1024 * 1024;
    s->interval_ms = (uint64_t)v_int(bh, "IntervalInSeconds", 300) * 1000;
    snprintf(s->ext, sizeof s->ext, "%s", ext && *ext ? ext : fh_compression_extension(s->compression));
    snprintf(s->time_zone, sizeof s->time_zone, "%s", v_str(d, "CustomTimeZone") ? v_str(d, "CustomTimeZone") : "");
    return 0;
}

static void processors(const cJSON *d, struct fh_settings *s)
{
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(d, "ProcessingConfiguration"), *p;
    if (!enabled(pc))
        return;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pc, "Processors")) {
        const char *type = v_str(p, "Type"), *v;
        if (!strcmp(type, "AppendDelimiterToRecord")) {
            s->append_delimiter = 1;
        } else if (!strcmp(type, "Lambda")) {
            snprintf(s->lambda_arn, sizeof s->lambda_arn, "%s", param(p, "LambdaArn"));
            s->lambda_retries = (v = param(p, "NumberOfRetries")) ? (unsigned)atoi(v) : LAMBDA_DEFAULT_RETRIES;
            s->lambda_buffer_bytes =
                (uint64_t)(((v = param(p, "BufferSizeInMBs")) ? atof(v) : LAMBDA_DEFAULT_BUFFER_MB) * 1024 * 1024);
            s->lambda_interval_ms =
                (uint64_t)((v = param(p, "BufferIntervalInSeconds")) ? atoi(v) : LAMBDA_DEFAULT_INTERVAL) * 1000;
        }
    }
}

int firehose_settings_parse(const char *stored, struct fh_settings *s)
{
    cJSON *d = cJSON_Parse(stored);
    int rc = -1;
    memset(s, 0, sizeof *s);
    if (d && !s3_settings(d, &s->dest)) {
        const char *mode = v_str(d, "S3BackupMode");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(d, "S3BackupDescription");
        s->backup = mode && !strcmp(mode, "Enabled") && b && !s3_settings(b, &s->backup_dest);
        processors(d, s);
        rc = 0;
    }
    cJSON_Delete(d);
    return rc;
}

static void s3_free(struct fh_s3 *s)
{
    free(s->prefix);
    free(s->error_prefix);
}

void firehose_settings_free(struct fh_settings *s)
{
    s3_free(&s->dest);
    if (s->backup)
        s3_free(&s->backup_dest);
}
