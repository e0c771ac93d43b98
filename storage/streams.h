/* Kinesis streams, their shards and tags (tables streams, shards, tags; see
 * schema.c). Readers call the lookups on a reader connection; functions taking
 * `w` run only inside a db_write job, on the writer connection. */
#ifndef TP_STREAMS_H
#define TP_STREAMS_H

#include <stdint.h>

#include "protocol/hashkey.h"
#include "storage/db.h"

#define STREAM_NAME_MAX 128
#define KEY_ID_MAX 2048

struct db_stream {
    int64_t id;
    char region[32];
    char name[STREAM_NAME_MAX + 1];
    uint64_t created_ms;
    char status[12];          /* effective at the time of the lookup */
    int retention_hours;
    char mode[16];            /* PROVISIONED | ON_DEMAND */
    char encryption[8];       /* NONE | KMS */
    char key_id[KEY_ID_MAX + 1];
    char metrics[256];        /* comma-separated ShardLevelMetrics */
    int max_record_kib;
    int warm_mibps;           /* -1 when never set */
    uint32_t next_shard_ix;
};

struct db_shard {
    int64_t id;
    uint32_t ix;
    int64_t parent_ix, adjacent_ix; /* -1 when none */
    hashkey_t start, end;
    uint64_t created_ms;
    uint64_t next_seq;
    int64_t closed_seq;             /* -1 while open */
};

struct db_tag {
    const char *key;
    const char *value;
};

/* TP_OK, or TP_ENOTFOUND when absent or deleted by now. */
int db_stream_get(struct db_conn *c, const char *region, const char *name, uint64_t now,
                  struct db_stream *out);
/* All shards of a stream by shard index; *out is malloc'd. */
int db_stream_shards(struct db_conn *c, int64_t stream_id, struct db_shard **out, unsigned *n);
/* Only the open shards (no closed_seq). */
int db_stream_shards_open(struct db_conn *c, int64_t stream_id, struct db_shard **out, unsigned *n);
/* Streams of a region by name, strictly after `after` (may be ""); cb returns
 * non-zero to stop. */
int db_streams_list(struct db_conn *c, const char *region, const char *after, uint64_t now,
                    int (*cb)(void *ctx, const struct db_stream *s), void *ctx);
/* Open shards and on-demand streams of a region, for limits. */
int db_region_counts(struct db_conn *c, const char *region, uint64_t now, unsigned *open_shards,
                     unsigned *on_demand_streams);
/* Tags by key, strictly after `after` (may be ""); cb returns non-zero to stop. */
int db_stream_tags(struct db_conn *c, int64_t stream_id, const char *after,
                   int (*cb)(void *ctx, const char *key, const char *value), void *ctx);
int db_stream_tag_count(struct db_conn *c, int64_t stream_id, unsigned *n);

/* ---- writer side ---- */

/* Inserts s (id, next_shard_ix are set here) with n equal shards. TP_EEXISTS
 * when the name is taken. status_until_ms: when CREATING ends. */
int db_stream_insert(struct db_conn *w, struct db_stream *s, uint64_t status_until_ms,
                     unsigned n_shards, const struct db_tag *tags, unsigned n_tags);
/* Writes every mutable column of s back, with the status holding until `until`. */
int db_stream_update(struct db_conn *w, const struct db_stream *s, uint64_t until);
/* Drops a stream with everything it owns. */
int db_stream_remove(struct db_conn *w, int64_t stream_id);
int db_tags_put(struct db_conn *w, int64_t stream_id, const struct db_tag *tags, unsigned n);
int db_tags_remove(struct db_conn *w, int64_t stream_id, const char *const *keys, unsigned n);
/* Background upkeep: removes streams whose DELETING ended and trims records
 * past each stream's retention, as of *(uint64_t *)at, or now when at is NULL
 * (the writer's once-a-second tick). */
int db_streams_tick(struct db_conn *w, void *at);

#endif
