/* Kinesis hash keys: 128-bit unsigned integers written in decimal. A partition
 * key maps to MD5(key bytes) read big-endian; N shards split [0, 2^128-1] as AWS
 * does (each gets floor(2^128/N) keys, the last one ends at 2^128-1). */
#ifndef TP_HASHKEY_H
#define TP_HASHKEY_H

#include <stddef.h>

typedef unsigned __int128 hashkey_t;

#define HASHKEY_MAX (~(hashkey_t)0)
#define HASHKEY_DEC_MAX 40 /* 39 digits + NUL */

enum hashkey_status { HASHKEY_OK = 0, HASHKEY_ESYNTAX, HASHKEY_ERANGE };

/* Parses a decimal string of exactly len chars: digits only, no sign, no leading
 * zero (except "0"). ERANGE when above 2^128-1. */
enum hashkey_status hashkey_parse(const char *s, size_t len, hashkey_t *out);
/* Decimal, NUL-terminated, into out[HASHKEY_DEC_MAX]. Returns the length. */
size_t hashkey_format(hashkey_t v, char *out);
/* MD5 of the partition key's bytes as a big-endian 128-bit integer. */
hashkey_t hashkey_of_partition_key(const char *key, size_t len);
/* Range [start, end] of shard i (0-based) out of n equal shards. */
void hashkey_split(unsigned n, unsigned i, hashkey_t *start, hashkey_t *end);

#endif
