/* Firehose delivery stream lifecycle: CreateDeliveryStream,
 * DeleteDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams,
 * UpdateDestination, Start/StopDeliveryStreamEncryption. Every handler runs
 * after its rules (firehose_api.c) passed; the checks here need state or
 * span several members. Touches: delivery_streams, tags (storage/firehose.c);
 * streams (a Kinesis source must exist). */
#include "server/runtime/config.h"
#include "server/firehose/firehose.h"
#include "server/firehose/firehose_engine.h"
#include "protocol/kinesis_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OTHER_DESTINATIONS[] = {
    "RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration", "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration", NULL};

static int present(const cJSON *in, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return v && !cJSON_IsNull(v);
}

static char *encryption_json(const cJSON *input, const char *status)
{
    cJSON *e = cJSON_CreateObject();
    if (input) {
        const char *arn = v_str(input, "KeyARN");
        if (arn)
            cJSON_AddStringToObject(e, "KeyARN", arn);
        cJSON_AddStringToObject(e, "KeyType", v_str(input, "KeyType"));
    }
    cJSON_AddStringToObject(e, "Status", status);
    char *t = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    return t;
}

/* ---- CreateDeliveryStream ---- */

struct create_job {
    struct db_fh f;
    uint64_t until;
    struct db_tag *tags;
    unsigned n_tags;
};

static int create_job(struct db_conn *w, void *ctx)
{
    struct create_job *j = ctx;
    return db_fh_insert(w, &j->f, j->until, j->tags, j->n_tags);
}

/* The source member of the description, or -1 after replying. */
static int kinesis_source(struct svc_ctx *c, const cJSON *src, uint64_t now, char **out)
{
    const char *arn = v_str(src, "KinesisStreamARN");
    char region[32], name[STREAM_NAME_MAX + 1];
    struct db_stream s;
    if (kinesis_parse_arn(arn, region, sizeof region, name))
        return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid ARN: %s", arn);
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_get(db, region, name, now, &s);
    db_reader_release(db);
    if (rc == TP_ENOTFOUND)
        return reply_error(c, ERR_INVALID_ARGUMENT, "Stream %s under account %s not found.", name, g_cfg.account);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    cJSON *d = cJSON_CreateObject(), *k = cJSON_AddObjectToObject(d, "KinesisStreamSourceDescription");
    cJSON_AddStringToObject(k, "KinesisStreamARN", arn);
    cJSON_AddStringToObject(k, "RoleARN", v_str(src, "RoleARN"));
    cJSON_AddNumberToObject(k, "DeliveryStartTimestamp", (double)now / 1000.0);
    *out = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return 0;
}

int firehose_create_delivery_stream(struct svc_ctx *c, const cJSON *in)
{
    const char *type = v_str(in, "DeliveryStreamType");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(in, "DeliveryStreamEncryptionConfigurationInput");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags"), *t;
    int n_dest = present(in, "S3DestinationConfiguration") + present(in, "ExtendedS3DestinationConfiguration");
    int other = 0;
    char msg[512] = "";
    struct create_job j;
    int rc;

    for (unsigned i = 0; OTHER_DESTINATIONS[i]; i++)
        other += present(in, OTHER_DESTINATIONS[i]);
    if (n_dest + other != 1)
        return reply_error(c, ERR_INVALID_ARGUMENT, "Exactly one destination configuration is supported for a Firehose");
    if (other)
        return reply_error(c, ERR_INVALID_ARGUMENT, "tidepool delivers to Amazon S3 only: use "
                           "ExtendedS3DestinationConfiguration or S3DestinationConfiguration.");
    if (!type)
        type = "DirectPut";
    if (strcmp(type, "DirectPut") && strcmp(type, "KinesisStreamAsSource"))
        return reply_error(c, ERR_INVALID_ARGUMENT, "DeliveryStreamType %s is not supported by tidepool.", type);
    int kinesis = !strcmp(type, "KinesisStreamAsSource");
    if (kinesis != present(in, "KinesisStreamSourceConfiguration"))
        return reply_error(c, ERR_INVALID_ARGUMENT, kinesis
                           ? "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource delivery streams."
                           : "KinesisStreamSourceConfiguration is only valid for KinesisStreamAsSource delivery streams.");
    if (kinesis && enc && !cJSON_IsNull(enc))
        return reply_error(c, ERR_INVALID_ARGUMENT, "Server-side encryption cannot be enabled for a delivery stream "
                           "that uses a Kinesis data stream as its source.");
    cJSON_ArrayForEach(t, tags) {
        if (!strncmp(v_str(t, "Key"), "aws:", 4))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Tag keys starting with 'aws:' are reserved.");
    }

    memset(&j, 0, sizeof j);
    int extended = present(in, "ExtendedS3DestinationConfiguration");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(in, extended ? "ExtendedS3DestinationConfiguration"
                                                                     : "S3DestinationConfiguration");
    if (!(j.f.destination = firehose_destination_from_config(cfg, extended, msg, sizeof msg)))
        return reply_error(c, ERR_INVALID_ARGUMENT, "%s", msg);
    if (kinesis && kinesis_source(c, cJSON_GetObjectItemCaseSensitive(in, "KinesisStreamSourceConfiguration"),
                                  c->now_ms, &j.f.source)) {
        db_fh_clear(&j.f);
        return -1;
    }
    /* AWS shows no encryption configuration for a Kinesis source */
    if (!kinesis)
        j.f.encryption = encryption_json(enc && !cJSON_IsNull(enc) ? enc : NULL,
                                         enc && !cJSON_IsNull(enc) ? "ENABLED" : "DISABLED");
    snprintf(j.f.region, sizeof j.f.region, "%s", c->region);
    snprintf(j.f.name, sizeof j.f.name, "%s", v_str(in, "DeliveryStreamName"));
    snprintf(j.f.type, sizeof j.f.type, "%s", type);
    strcpy(j.f.status, g_cfg.stream_delay_ms ? "CREATING" : "ACTIVE");
    j.f.version = 1;
    j.f.created_ms = j.f.updated_ms = c->now_ms;
    j.until = c->now_ms + g_cfg.stream_delay_ms;
    j.tags = calloc((size_t)cJSON_GetArraySize(tags) + 1, sizeof *j.tags);
    cJSON_ArrayForEach(t, tags) {
        j.tags[j.n_tags].key = v_str(t, "Key");
        j.tags[j.n_tags++].value = v_str(t, "Value") ? v_str(t, "Value") : "";
    }
    rc = db_write(create_job, &j);
    free(j.tags);
    db_fh_clear(&j.f);
    if (rc == TP_EEXISTS)
        return reply_error(c, ERR_RESOURCE_IN_USE, "Firehose %s under accountId %s already exists", j.f.name,
                           g_cfg.account);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    firehose_engine_wake();
    char arn[256];
    firehose_arn(c->region, j.f.name, arn, sizeof arn);
    jw_obj_begin(&c->out);
    jw_key(&c->out, "DeliveryStreamARN");
    jw_str(&c->out, arn);
    jw_obj_end(&c->out);
    return 0;
}

/* ---- DeleteDeliveryStream ---- */

static int delete_apply(struct db_conn *w, struct db_fh *f, struct firehose_change *ch)
{
    if (!strcmp(f->status, "DELETING"))
        return TP_ENOTFOUND;
    if (!strcmp(f->status, "CREATING")) {
        snprintf(ch->msg, sizeof ch->msg, "Firehose %s under account %s cannot be deleted in CREATING state",
                 f->name, g_cfg.account);
        return ERR_RESOURCE_IN_USE;
    }
    strcpy(f->status, "DELETING");
    /* with no delay the row goes at once; else the tick removes it */
    return g_cfg.stream_delay_ms ? db_fh_update(w, f, ch->now + g_cfg.stream_delay_ms) : db_fh_remove(w, f->id);
}

int firehose_delete_delivery_stream(struct svc_ctx *c, const cJSON *in)
{
    struct firehose_change ch = {.apply = delete_apply, .in = in};
    return firehose_change_or_reply(c, &ch);
}

/* ---- DescribeDeliveryStream ---- */

static void write_json_text(struct jw *w, const char *text)
{
    jw_raw(w, text, strlen(text));
}

int firehose_describe_delivery_stream(struct svc_ctx *c, const cJSON *in)
{
    struct db_fh f;
    char arn[256], version[16];
    const char *start = v_str(in, "ExclusiveStartDestinationId");
    if (firehose_lookup_or_reply(c, in, &f))
        return -1;
    firehose_arn(f.region, f.name, arn, sizeof arn);
    snprintf(version, sizeof version, "%u", f.version);
    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "DeliveryStreamDescription");
    jw_obj_begin(w);
    jw_key(w, "DeliveryStreamName"); jw_str(w, f.name);
    jw_key(w, "DeliveryStreamARN"); jw_str(w, arn);
    jw_key(w, "DeliveryStreamStatus"); jw_str(w, f.status);
    if (f.encryption) {
        jw_key(w, "DeliveryStreamEncryptionConfiguration");
        write_json_text(w, f.encryption);
    }
    jw_key(w, "DeliveryStreamType"); jw_str(w, f.type);
    jw_key(w, "VersionId"); jw_str(w, version);
    jw_key(w, "CreateTimestamp"); jw_time_ms(w, f.created_ms);
    if (f.version > 1) {
        jw_key(w, "LastUpdateTimestamp");
        jw_time_ms(w, f.updated_ms);
    }
    if (f.source) {
        jw_key(w, "Source");
        write_json_text(w, f.source);
    }
    jw_key(w, "Destinations");
    if (start && !strcmp(start, FH_DESTINATION_ID)) {
        jw_arr_begin(w);
        jw_arr_end(w);
    } else {
        firehose_write_destinations(w, f.destination);
    }
    jw_key(w, "HasMoreDestinations"); jw_bool(w, 0);
    jw_obj_end(w);
    jw_obj_end(w);
    db_fh_clear(&f);
    return 0;
}

/* ---- ListDeliveryStreams ---- */

struct list_page {
    struct jw *w;
    int limit, count, more;
};

static int list_one(void *ctx, const struct db_fh *f)
{
    struct list_page *p = ctx;
    if (p->count == p->limit) {
        p->more = 1;
        return 1;
    }
    jw_str(p->w, f->name);
    p->count++;
    return 0;
}

int firehose_list_delivery_streams(struct svc_ctx *c, const cJSON *in)
{
    struct list_page p = {.w = &c->out, .limit = v_int(in, "Limit", 10)};
    const char *after = v_str(in, "ExclusiveStartDeliveryStreamName");
    jw_obj_begin(&c->out);
    jw_key(&c->out, "DeliveryStreamNames");
    jw_arr_begin(&c->out);
    struct db_conn *db = db_reader_acquire();
    int rc = db_fh_list(db, c->region, v_str(in, "DeliveryStreamType"), after ? after : "", c->now_ms, list_one, &p);
    db_reader_release(db);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    jw_arr_end(&c->out);
    jw_key(&c->out, "HasMoreDeliveryStreams");
    jw_bool(&c->out, p.more);
    jw_obj_end(&c->out);
    return 0;
}

/* ---- UpdateDestination ---- */

static int update_apply(struct db_conn *w, struct db_fh *f, struct firehose_change *ch)
{
    const char *current = v_str(ch->in, "CurrentDeliveryStreamVersionId");
    const char *dest = v_str(ch->in, "DestinationId");
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(ch->in, "ExtendedS3DestinationUpdate");
    if (!up || cJSON_IsNull(up))
        up = cJSON_GetObjectItemCaseSensitive(ch->in, "S3DestinationUpdate");
    if (strcmp(f->status, "ACTIVE")) {
        snprintf(ch->msg, sizeof ch->msg, "Cannot update firehose: %s when it is in %s status", f->name, f->status);
        return ERR_RESOURCE_IN_USE;
    }
    if (strtoull(current, NULL, 10) != f->version) {
        snprintf(ch->msg, sizeof ch->msg, "Cannot update firehose: %s since the current version id: %u and "
                 "specified version id: %s do not match", f->name, f->version, current);
        return ERR_CONCURRENT_MODIFICATION;
    }
    if (strcmp(dest, FH_DESTINATION_ID)) {
        snprintf(ch->msg, sizeof ch->msg, "Destination Id %s not found.", dest);
        return ERR_INVALID_ARGUMENT;
    }
    if (!up || cJSON_IsNull(up)) {
        snprintf(ch->msg, sizeof ch->msg, "tidepool delivers to Amazon S3 only: use ExtendedS3DestinationUpdate "
                 "or S3DestinationUpdate.");
        return ERR_INVALID_ARGUMENT;
    }
    char *text = firehose_destination_update(f->destination, up, ch->msg, sizeof ch->msg);
    if (!text)
        return ERR_INVALID_ARGUMENT;
    int rc = TP_OK;
    if (strcmp(text, f->destination)) {
        free(f->destination);
        f->destination = text;
        text = NULL;
        f->version++;
        f->updated_ms = ch->now;
        rc = db_fh_update(w, f, ch->now);
    }
    free(text);
    return rc;
}

int firehose_update_destination(struct svc_ctx *c, const cJSON *in)
{
    struct firehose_change ch = {.apply = update_apply, .in = in};
    return firehose_change_or_reply(c, &ch);
}

/* ---- Start/StopDeliveryStreamEncryption ---- */

static int encryption_apply(struct db_conn *w, struct db_fh *f, struct firehose_change *ch)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(ch->in, "DeliveryStreamEncryptionConfigurationInput");
    if (!strcmp(f->type, "KinesisStreamAsSource")) {
        snprintf(ch->msg, sizeof ch->msg, "This operation is not supported for delivery stream %s under account "
                 "%s with source type KinesisStreamAsSource.", f->name, g_cfg.account);
        return ERR_INVALID_ARGUMENT;
    }
    free(f->encryption);
    if (!ch->arg) {
        f->encryption = encryption_json(NULL, "DISABLED");
    } else if (input && !cJSON_IsNull(input)) {
        f->encryption = encryption_json(input, "ENABLED");
    } else { /* no input: an AWS-owned key */
        cJSON *dflt = cJSON_CreateObject();
        cJSON_AddStringToObject(dflt, "KeyType", "AWS_OWNED_CMK");
        f->encryption = encryption_json(dflt, "ENABLED");
        cJSON_Delete(dflt);
    }
    return db_fh_update(w, f, ch->now);
}

static int set_encryption(struct svc_ctx *c, const cJSON *in, int start)
{
    struct firehose_change ch = {.apply = encryption_apply, .in = in, .arg = start};
    return firehose_change_or_reply(c, &ch);
}

int firehose_start_encryption(struct svc_ctx *c, const cJSON *in)
{
    return set_encryption(c, in, 1);
}

int firehose_stop_encryption(struct svc_ctx *c, const cJSON *in)
{
    return set_encryption(c, in, 0);
}
