/* Kinesis sequence numbers: 56-57 digit decimal strings, laid out like AWS's
 * (and kinesalite's "version 2"): the hex digits
 *   '2' | shard create secs (9) | shard index & 0xf (1) | seq index (16) | "00" |
 *   record secs (9) | shard index (8) | '2'
 * (47 hex digits) printed in decimal. Within one shard numbers grow with the
 * sequence index, so comparing them numerically orders records. */
#ifndef TP_SEQNUM_H
#define TP_SEQNUM_H

#include <stdint.h>
#include <stddef.h>

#define SEQNUM_DEC_MAX 64
/* seq_ix of the EndingSequenceNumber of a closed shard */
#define SEQNUM_IX_END 0x7fffffffffffffffULL

struct seqnum {
    uint64_t shard_create_secs; /* < 2^36 */
    uint32_t shard_ix;
    uint64_t seq_ix;
    uint64_t record_secs;       /* < 2^36 */
};

/* Decimal, NUL-terminated, into out[SEQNUM_DEC_MAX]. Returns the length. */
size_t seqnum_format(const struct seqnum *sn, char *out);
/* Parses a decimal sequence number of len chars. Returns 0, or -1 when it is not
 * a number of this layout (wrong digit count, leading hex digit not 2, ...). */
int seqnum_parse(const char *s, size_t len, struct seqnum *out);

#endif
