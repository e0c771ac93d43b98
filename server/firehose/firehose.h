/* Amazon Data Firehose (JSON 1.1, Firehose_20150804): handlers and the
 * helpers they share. The operation table and the validation rules live in
 * firehose_api.c; handlers in firehose_streams.c (lifecycle, describe, list,
 * UpdateDestination, encryption), firehose_put.c and firehose_tags.c. The
 * stored configuration and what the delivery engine reads of it are in
 * firehose_config.c; the engine itself in firehose_engine.c. */
#ifndef TP_FIREHOSE_H
#define TP_FIREHOSE_H

#include "server/net/service.h"
#include "storage/firehose.h"

/* The operation table (firehose_api.c), which main.c gives the router. */
extern const struct svc_service firehose_service;

/* AWS's limits (protocols.md §2). */
#define FH_MAX_RECORD_BYTES 1024000
#define FH_MAX_BATCH_RECORDS 500
#define FH_MAX_BATCH_BYTES (4 * 1024 * 1024)
#define FH_MAX_TAGS 50
#define FH_DESTINATION_ID "destinationId-000000000001"

/* The delivery stream the request's DeliveryStreamName names in c->region;
 * replies ResourceNotFoundException and returns -1 when there is none. The
 * caller clears *f (db_fh_clear). */
int firehose_lookup_or_reply(struct svc_ctx *c, const cJSON *in, struct db_fh *f);
int firehose_not_found(struct svc_ctx *c, const char *name);
void firehose_arn(const char *region, const char *name, char *out, size_t outlen);

/* A change to one delivery stream as a writer job: looked up again on the
 * writer connection, then apply() changes f and writes it. apply returns
 * TP_OK or an ERR_* code with its message in msg. */
struct firehose_change {
    const char *region, *name;
    uint64_t now;
    int (*apply)(struct db_conn *w, struct db_fh *f, struct firehose_change *ch);
    const cJSON *in;
    int arg;          /* what apply needs beyond `in` */
    char msg[512];
};
/* Runs ch; replies on failure and returns -1, else answers {} (what every
 * such operation answers) and returns 0. */
int firehose_change_or_reply(struct svc_ctx *c, struct firehose_change *ch);

/* ---- configuration (firehose_config.c) ---- */

/* The ExtendedS3DestinationDescription (as JSON text, defaults filled in) of
 * an S3DestinationConfiguration or ExtendedS3DestinationConfiguration; NULL
 * with an InvalidArgumentException message in msg when AWS would refuse it. */
char *firehose_destination_from_config(const cJSON *cfg, int extended, char *msg, size_t msglen);
/* Applies an S3DestinationUpdate / ExtendedS3DestinationUpdate to a stored
 * description; the new JSON text, or NULL with a message. */
char *firehose_destination_update(const char *stored, const cJSON *update, char *msg, size_t msglen);
/* Writes the Destinations list of DescribeDeliveryStream from the stored text. */
void firehose_write_destinations(struct jw *w, const char *stored);

int firehose_create_delivery_stream(struct svc_ctx *c, const cJSON *in);
int firehose_delete_delivery_stream(struct svc_ctx *c, const cJSON *in);
int firehose_describe_delivery_stream(struct svc_ctx *c, const cJSON *in);
int firehose_list_delivery_streams(struct svc_ctx *c, const cJSON *in);
int firehose_update_destination(struct svc_ctx *c, const cJSON *in);
int firehose_start_encryption(struct svc_ctx *c, const cJSON *in);
int firehose_stop_encryption(struct svc_ctx *c, const cJSON *in);
int firehose_put_record(struct svc_ctx *c, const cJSON *in);
int firehose_put_record_batch(struct svc_ctx *c, const cJSON *in);
int firehose_tag_delivery_stream(struct svc_ctx *c, const cJSON *in);
int firehose_untag_delivery_stream(struct svc_ctx *c, const cJSON *in);
int firehose_list_tags(struct svc_ctx *c, const cJSON *in);

#endif
