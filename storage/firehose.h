/* Firehose delivery streams, their DirectPut buffers and Kinesis-source
 * checkpoints (tables delivery_streams, fh_records, fh_checkpoints; tags in
 * `tags` under -id; see schema.c). Readers call the lookups on a reader
 * connection; functions taking `w` run only inside a db_write job. */
#ifndef TP_FIREHOSE_STORE_H
#define TP_FIREHOSE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/db.h"
#include "storage/streams.h"

#define FH_NAME_MAX 64

struct db_fh {
    int64_t id;
    char region[32];
    char name[FH_NAME_MAX + 1];
    char type[24];             /* DirectPut | KinesisStreamAsSource */
    char status[12];           /* effective at the time of the lookup */
    unsigned version;
    uint64_t created_ms, updated_ms;
    char *source;              /* JSON text or NULL; owned (db_fh_clear) */
    char *destination;         /* JSON text; owned */
    char *encryption;          /* JSON text or NULL; owned */
};

void db_fh_clear(struct db_fh *f);

/* TP_OK, or TP_ENOTFOUND when absent or deleted by now. */
int db_fh_get(struct db_conn *c, const char *region, const char *name, uint64_t now, struct db_fh *out);
int db_fh_get_id(struct db_conn *c, int64_t id, uint64_t now, struct db_fh *out);
/* Delivery streams of a region (every region when region is NULL) by name,
 * strictly after `after`, of one type when type is not NULL; cb returns
 * non-zero to stop. The struct passed to cb is valid during the call only. */
int db_fh_list(struct db_conn *c, const char *region, const char *type, const char *after, uint64_t now,
               int (*cb)(void *ctx, const struct db_fh *f), void *ctx);

/* Tags: the Kinesis tag functions of streams.h with this stream id. */
static inline int64_t db_fh_tag_owner(int64_t fh_id) { return -fh_id; }

/* ---- writer side ---- */

/* Inserts f (its id is set here); TP_EEXISTS when the name is taken. */
int db_fh_insert(struct db_conn *w, struct db_fh *f, uint64_t status_until_ms, const struct db_tag *tags,
                 unsigned n_tags);
/* Writes status, version, updated_ms, destination and encryption back. */
int db_fh_update(struct db_conn *w, const struct db_fh *f, uint64_t status_until_ms);
/* Drops a delivery stream with its buffer, checkpoints and tags. */
int db_fh_remove(struct db_conn *w, int64_t id);
/* Removes delivery streams whose DELETING ended (the writer's tick). */
int db_fh_tick(struct db_conn *w, uint64_t now);

/* ---- DirectPut buffer ---- */

struct db_fh_put {
    const unsigned char *data;
    size_t len;
    int64_t id;                /* set by db_fh_records_append */
};

/* Stores records arrived at arrival_ms, in order. */
int db_fh_records_append(struct db_conn *w, int64_t fh_id, uint64_t arrival_ms, struct db_fh_put *recs, size_t n);
/* Buffered records with id > after_id in id order, at most max of them; cb
 * returns non-zero to stop. data is valid during the call only. */
int db_fh_records_read(struct db_conn *c, int64_t fh_id, int64_t after_id, size_t max,
                       int (*cb)(void *ctx, int64_t id, uint64_t arrival_ms, const void *data, size_t len),
                       void *ctx);
/* Deletes the buffered records with id <= upto_id (they were delivered). */
int db_fh_records_delete(struct db_conn *w, int64_t fh_id, int64_t upto_id);

/* ---- Kinesis-source checkpoints ---- */

/* TP_ENOTFOUND when the shard has none yet. */
int db_fh_checkpoint_get(struct db_conn *c, int64_t fh_id, int64_t shard_id, uint64_t *next_seq);
int db_fh_checkpoint_set(struct db_conn *w, int64_t fh_id, int64_t shard_id, uint64_t next_seq);

#endif
