/* Inside the delivery engine. A worker owns one delivery stream and moves
 * records through three stages, all in memory between deliveries:
 *
 *   source (firehose_source.c)   records read after the durable position
 *     → pending                  raw records waiting for the Lambda hook
 *     → outputs (firehose_output.c) compressed object bodies being written
 *                                into unlinked blobs: the destination, the
 *                                error prefix (processing-failed), the backup
 *
 * A delivery first pushes everything pending through the transformation, so
 * the outputs then hold exactly the records read so far. One writer job then
 * links the objects and moves the durable position (deletes the DirectPut
 * rows, or advances the Kinesis checkpoints) past those records: a crash
 * before it re-reads them and builds the objects again; after it, they are
 * delivered. Nothing is lost and nothing is delivered twice. */
#ifndef TP_FIREHOSE_DELIVERY_H
#define TP_FIREHOSE_DELIVERY_H

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdint.h>

#include "protocol/checksum.h"
#include "protocol/compress.h"
#include "protocol/seqnum.h"
#include "server/firehose/firehose_settings.h"
#include "storage/firehose.h"
#include "storage/objects.h"

/* One source record (a de-aggregated user record for KPL aggregates). */
struct fh_record {
    unsigned char *data;
    size_t len;
    uint64_t arrival_ms;        /* approximate arrival time */
    /* Kinesis source only (formatted when a Lambda event needs them) */
    int kinesis;
    char shard_id[24];          /* "shardId-…" */
    const char *pk;             /* in the same allocation as data */
    struct seqnum sn;           /* the (outer) sequence number */
    uint32_t subseq;
    int aggregated;             /* from a KPL aggregate: subseq is meaningful */
};

/* One Kinesis shard being read. */
struct fh_shard {
    int64_t id;
    char shard_id[24];
    uint32_t ix;
    uint64_t created_ms;
    uint64_t next_seq;          /* next to read */
    uint64_t durable_seq;       /* the checkpoint as committed */
};

struct fh_source {
    int kinesis;
    /* DirectPut */
    int64_t last_row;           /* highest row id read */
    int64_t durable_row;        /* highest row id delivered (and deleted) */
    /* Kinesis */
    char stream_region[32], stream_name[STREAM_NAME_MAX + 1], stream_arn[600];
    uint64_t start_ms;          /* DeliveryStartTimestamp */
    struct fh_shard *shards;
    unsigned n_shards;
    uint64_t shards_at_ms;      /* when the shard list was last read */
};

/* One object being built. */
struct fh_output {
    const struct fh_s3 *dest;
    const char *error_type;     /* NULL, or "processing-failed" for the error output */
    struct compressor *z;
    struct db_blob_writer *bw;
    gnutls_hash_hd_t md5;
    uint64_t records, raw_bytes, stored_bytes;
    uint64_t oldest_arrival_ms;
    int failed;                 /* a write failed: the delivery is redone */
};

/* An object finished and waiting to be linked. */
struct fh_ready {
    char bucket[64];
    char *key;
    struct db_extent ext;
    char etag[CHECKSUM_ETAG_LEN + 1];
    const char *content_encoding;
};

struct fh_worker {
    int64_t id;
    char region[32], name[FH_NAME_MAX + 1], arn[256];
    unsigned version;
    struct fh_settings cfg;
    struct fh_source src;

    struct fh_record *pending;
    size_t n_pending, cap_pending;
    uint64_t pending_bytes, pending_since_ms;

    struct fh_output out_main, out_error, out_backup;
    uint64_t buffer_since_ms;   /* wall time the oldest buffered record was read; 0 = empty */
    uint64_t record_ids;        /* recordIds given to DirectPut records in Lambda events */

    struct fh_ready *ready;     /* a delivery whose link job failed, retried */
    unsigned n_ready;
    uint64_t retry_at_ms;

    pthread_t thread;
    volatile int stop;

    /* status, under `lock` */
    pthread_mutex_t lock;
    uint64_t buffered_records, buffered_bytes;
    uint64_t delivered_objects, delivered_records, last_delivery_ms;
    char last_error[512];
    uint64_t last_error_ms;
};

/* ---- source (firehose_source.c) ---- */
int fh_source_open(struct fh_worker *wk, const struct db_fh *f);
void fh_source_close(struct fh_source *s);
/* Reads up to max_bytes (at least one record when there is one) into
 * wk->pending. Returns the number of records read, -1 on a storage error. */
long fh_source_read(struct fh_worker *wk, uint64_t max_bytes);
/* The writer-job half of a delivery: makes the durable position the read one. */
int fh_source_commit(struct db_conn *w, struct fh_worker *wk);
/* After the commit: the durable position is now the read one. */
void fh_source_committed(struct fh_worker *wk);
/* After a failure: reads start again at the durable position. */
void fh_source_rewind(struct fh_worker *wk);
void fh_record_free(struct fh_record *r);

/* ---- outputs (firehose_output.c) ---- */
/* Appends a record to an output (opening it on first use). */
int fh_output_add(struct fh_output *o, const void *data, size_t len, uint64_t arrival_ms, const char *delimiter);
/* Finishes every non-empty output into wk->ready and links them, with the
 * source's commit, in one writer job. 0 when delivered; -1 when it must be
 * retried (wk->ready kept, wk->last_error set). */
int fh_deliver(struct fh_worker *wk);
/* Retries the link job of wk->ready. */
int fh_deliver_retry(struct fh_worker *wk);
void fh_output_abort(struct fh_output *o);
void fh_worker_error(struct fh_worker *wk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The worker's pause (firehose_engine.c). */
void fh_sleep_ms(unsigned ms);

/* ---- transformation (firehose_transform.c) ---- */
/* Moves the pending records to the outputs: through the Lambda hook when
 * there is one (in batches within its buffer size and the 6 MB payload
 * limit), straight to the destination otherwise. */
int fh_transform_pending(struct fh_worker *wk);

#endif
