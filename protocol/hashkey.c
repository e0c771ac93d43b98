/* Kinesis hash keys: parsing and printing the 128-bit decimal strings of
 * ExplicitHashKey / HashKeyRange, routing a partition key to its hash key
 * (MD5, as AWS does, so records land on the same shard index they would on
 * AWS) and splitting the key space into the ranges AWS gives N new shards. */
#include "protocol/hashkey.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>

enum hashkey_status hashkey_parse(const char *s, size_t len, hashkey_t *out)
{
    if (len == 0 || (s[0] == '0' && len > 1))
        return HASHKEY_ESYNTAX;
    /* Syntax first, over the whole string, so "9999...x" is a syntax error
     * rather than a range error whatever its length. */
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return HASHKEY_ESYNTAX;

    hashkey_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        /* v * 10 + d > MAX  <=>  v > (MAX - d) / 10, checked before it wraps. */
        if (v > (HASHKEY_MAX - d) / 10)
            return HASHKEY_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return HASHKEY_OK;
}

size_t hashkey_format(hashkey_t v, char *out)
{
    char tmp[HASHKEY_DEC_MAX];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

hashkey_t hashkey_of_partition_key(const char *key, size_t len)
{
    unsigned char md5[16];

    /* Only fails when MD5 is unavailable (a FIPS-only GnuTLS build); no record
     * could ever be routed then, so there is nothing sensible to return. */
    if (gnutls_hash_fast(GNUTLS_DIG_MD5, key, len, md5) < 0) {
        fprintf(stderr, "tidepool: GnuTLS cannot compute MD5, needed for partition keys\n");
        abort();
    }
    hashkey_t v = 0;
    for (size_t i = 0; i < sizeof md5; i++)
        v = v << 8 | md5[i];
    return v;
}

void hashkey_split(unsigned n, unsigned i, hashkey_t *start, hashkey_t *end)
{
    /* Keys per shard, floor(2^128 / n), without the unrepresentable 2^128:
     * floor((2^128 - 1) / n) is one short exactly when n divides 2^128, i.e.
     * when (2^128 - 1) % n == n - 1. For n == 1 the size wraps to 0, which is
     * harmless: shard 0 starts at 0 and, being the last, ends at MAX. */
    hashkey_t size = HASHKEY_MAX / n + (HASHKEY_MAX % n == n - 1 ? 1 : 0);

    *start = size * i;
    *end = i == n - 1 ? HASHKEY_MAX : *start + size - 1;
}
