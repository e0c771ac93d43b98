/* Kinesis records, packed into segments (table segments; see schema.c). */
#ifndef TP_RECORDS_H
#define TP_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/hashkey.h"
#include "storage/db.h"
#include "storage/streams.h"

struct db_put_record {
    const char *pk;
    size_t pk_len;
    const unsigned char *data;
    size_t data_len;
    hashkey_t hash;            /* the ExplicitHashKey, or MD5 of the partition key */
    /* filled by db_records_append */
    uint32_t shard_ix;
    uint64_t shard_created_ms;
    uint64_t seq_ix;
};

struct db_record {
    uint64_t seq_ix;
    uint64_t arrival_ms;
    int encrypted;
    const char *pk;
    size_t pk_len;
    const unsigned char *data; /* valid during the callback only */
    size_t data_len;
};

struct db_read_result {
    uint64_t next_seq;         /* where the next read starts */
    int more;                  /* records remain after what was taken */
    uint64_t next_arrival_ms;  /* arrival of the first record not taken, when more */
};

/* Writer side: routes each record to the open shard whose hash range holds
 * its hash, gives it the shard's next sequence index and stores it, one
 * segment per shard touched. *arrival_ms gets the arrival time stamped on
 * them. TP_ENOTFOUND when the stream has no open shard for a hash. */
int db_records_append(struct db_conn *w, int64_t stream_id, int encrypted,
                      struct db_put_record *recs, size_t n, uint64_t *arrival_ms);

/* Reads a shard from sequence index from_seq on, skipping records that
 * arrived before min_arrival_ms (past retention). cb returns 0 to take the
 * record and go on, non-zero to stop without taking it. */
int db_records_read(struct db_conn *c, int64_t shard_id, uint64_t from_seq, uint64_t min_arrival_ms,
                    int (*cb)(void *ctx, const struct db_record *r), void *ctx,
                    struct db_read_result *res);

/* The sequence index of the first record that arrived at or after ts_ms, or
 * next_seq when there is none. */
int db_records_seq_at(struct db_conn *c, int64_t shard_id, uint64_t ts_ms, uint64_t next_seq,
                      uint64_t *seq);

#endif
