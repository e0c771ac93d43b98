/* Kinesis Data Streams (JSON 1.1, Kinesis_20131202): handlers and the helpers
 * they share. The operation table and the validation rules live in
 * kinesis_api.c; handlers in kinesis_streams.c (stream lifecycle),
 * kinesis_shards.c (ListShards), kinesis_settings.c (retention, encryption,
 * monitoring, limits), kinesis_records.c (put and get) and kinesis_tags.c. */
#ifndef TP_KINESIS_H
#define TP_KINESIS_H

#include "protocol/kinesis_ids.h"
#include "server/net/service.h"
#include "storage/streams.h"

_Static_assert(STREAM_NAME_MAX == KINESIS_STREAM_NAME_MAX, "one stream-name limit");

/* The operation table (kinesis_api.c), which main.c gives the router. */
extern const struct svc_service kinesis_service;

/* AWS's defaults and limits (protocols.md §1). */
#define KINESIS_DEFAULT_RETENTION 24
#define KINESIS_MAX_RETENTION 8760
#define KINESIS_ON_DEMAND_SHARDS 4
#define KINESIS_MAX_REQUEST_BYTES (10 * 1024 * 1024)
#define KINESIS_MAX_TAGS 50

/* Looks the stream named by StreamName/StreamARN (or ResourceARN) up on a
 * reader connection. Replies ResourceNotFoundException / InvalidArgument and
 * returns -1 when it cannot. Sets c->region from an ARN. */
int kinesis_stream_lookup_or_reply(struct svc_ctx *c, const cJSON *in, struct db_stream *s);
/* The stream of that name in c->region, or ResourceNotFoundException. */
int kinesis_stream_get_or_reply(struct svc_ctx *c, const char *name, struct db_stream *s);
/* The stream a token (shard iterator, NextToken) names: it must still be the
 * same stream, not a new one of the same name; else InvalidArgument `invalid`. */
int kinesis_token_stream_or_reply(struct svc_ctx *c, const char *name, uint64_t created_ms, const char *invalid,
                                  struct db_stream *s);
/* Just the name (and region) of the stream the request addresses. */
int kinesis_stream_name_or_reply(struct svc_ctx *c, const cJSON *in, char name[STREAM_NAME_MAX + 1]);
int kinesis_not_found(struct svc_ctx *c, const char *name);
void kinesis_stream_arn(const struct db_stream *s, char *out, size_t outlen);

/* Response members shared by several operations (kinesis_shapes.c). */
extern const char *const KINESIS_METRICS[];
#define KINESIS_N_METRICS 7
/* StreamName, StreamARN, StreamStatus, StreamModeDetails */
void kinesis_write_stream_head(struct jw *w, const struct db_stream *s);
void kinesis_write_monitoring(struct jw *w, const struct db_stream *s);
void kinesis_write_metrics(struct jw *w, const char *csv);
void kinesis_write_encryption(struct jw *w, const struct db_stream *s);
void kinesis_write_shard(struct jw *w, const struct db_shard *sh);
/* All shards of s (malloc'd), or the reply_error result. */
int kinesis_shards_or_reply(struct svc_ctx *c, const struct db_stream *s, struct db_shard **sh, unsigned *n);

/* A change to one stream, done as a writer job: the stream is looked up again
 * on the writer connection, then apply() changes s and writes it. apply returns
 * TP_OK or an ERR_* code, with its message in msg. */
struct kinesis_change {
    const char *region, *name;
    uint64_t now;
    int (*apply)(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch);
    const cJSON *in;
    char msg[512];
    struct db_stream s;
};
/* Runs ch; replies on failure and returns -1, else 0 with ch->s updated. */
int kinesis_change_or_reply(struct svc_ctx *c, struct kinesis_change *ch);

int kinesis_add_tags_to_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_create_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_decrease_stream_retention_period(struct svc_ctx *c, const cJSON *in);
int kinesis_delete_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_describe_account_settings(struct svc_ctx *c, const cJSON *in);
int kinesis_describe_limits(struct svc_ctx *c, const cJSON *in);
int kinesis_describe_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_describe_stream_summary(struct svc_ctx *c, const cJSON *in);
int kinesis_disable_enhanced_monitoring(struct svc_ctx *c, const cJSON *in);
int kinesis_enable_enhanced_monitoring(struct svc_ctx *c, const cJSON *in);
int kinesis_get_records(struct svc_ctx *c, const cJSON *in);
int kinesis_get_shard_iterator(struct svc_ctx *c, const cJSON *in);
int kinesis_increase_stream_retention_period(struct svc_ctx *c, const cJSON *in);
int kinesis_list_shards(struct svc_ctx *c, const cJSON *in);
int kinesis_list_streams(struct svc_ctx *c, const cJSON *in);
int kinesis_list_tags_for_resource(struct svc_ctx *c, const cJSON *in);
int kinesis_list_tags_for_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_put_record(struct svc_ctx *c, const cJSON *in);
int kinesis_put_records(struct svc_ctx *c, const cJSON *in);
int kinesis_remove_tags_from_stream(struct svc_ctx *c, const cJSON *in);
int kinesis_start_stream_encryption(struct svc_ctx *c, const cJSON *in);
int kinesis_stop_stream_encryption(struct svc_ctx *c, const cJSON *in);
int kinesis_tag_resource(struct svc_ctx *c, const cJSON *in);
int kinesis_untag_resource(struct svc_ctx *c, const cJSON *in);
int kinesis_update_max_record_size(struct svc_ctx *c, const cJSON *in);

#endif
