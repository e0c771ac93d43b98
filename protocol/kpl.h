/* KPL-aggregated Kinesis records (protocols.md §1.8): data = magic
 * F3 89 9A C2 ‖ protobuf AggregatedRecord (protocol/kpl.proto) ‖ MD5 of the
 * protobuf bytes. De-aggregation as Firehose does before delivery;
 * aggregation as the KPL does for `tidepool replay -aggregate`. */
#ifndef TP_KPL_H
#define TP_KPL_H

#include <stddef.h>
#include <stdint.h>

/* One user record. Every pointer is valid only during the callback. */
struct kpl_record {
    const char *pk;            /* partition key, NUL-terminated */
    size_t pk_len;
    const char *ehk;           /* explicit hash key, NUL-terminated; NULL when none */
    const unsigned char *data;
    size_t len;
    uint32_t subseq;           /* 0-based position in the aggregated record */
};

enum {
    KPL_NOT_AGGREGATED = -1, /* treat data as one plain record */
    KPL_STOPPED = -2,        /* the callback returned non-zero */
    KPL_EINTERNAL = -3,      /* out of memory or MD5 unavailable: our failure, not the data's */
};

typedef int (*kpl_record_cb)(void *ctx, const struct kpl_record *r);

/* When data is a well-formed aggregated record (magic, a protobuf of at least
 * one byte and its MD5 all right, every table index in range), calls cb for
 * each user record in order and returns how many there were (0 when it has
 * tables but no records). Otherwise returns
 * KPL_NOT_AGGREGATED without calling cb, so the caller can fall back to the
 * plain record with nothing half-done. */
int kpl_deaggregate(const unsigned char *data, size_t len, kpl_record_cb cb, void *ctx);

/* One user record to aggregate. */
struct kpl_user_record {
    const char *pk; /* NUL-terminated */
    const unsigned char *data;
    size_t len;
};

/* Magic and MD5 around the protobuf. */
#define KPL_FRAMING 20
/* At most this many protobuf bytes per user record besides its data and
 * partition key, for records under 2 MiB and keys under 16 KiB: what a
 * caller adds up to keep an aggregated record under a size. */
#define KPL_RECORD_OVERHEAD 16

/* The aggregated record of recs in order, in a new buffer (*out_len gets its
 * size), partition keys shared through the table, no explicit hash keys.
 * NULL when out of memory or MD5 is unavailable. */
unsigned char *kpl_aggregate(const struct kpl_user_record *recs, size_t n, size_t *out_len);

#endif
