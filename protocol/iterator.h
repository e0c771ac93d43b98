/* Shard iterators: opaque, tamper-evident tokens. Base64 (URL-unsafe standard
 * alphabet, as AWS's) of a version byte, the fields below and a truncated
 * HMAC-SHA256 under a per-database secret. Expire 5 minutes after creation. */
#ifndef TP_ITERATOR_H
#define TP_ITERATOR_H

#include <stdint.h>
#include <stddef.h>

#define ITERATOR_KEY_LEN 32
#define ITERATOR_MAX_LEN 512
#define ITERATOR_TTL_MS 300000

struct shard_iterator {
    uint64_t created_ms;        /* when the iterator was issued */
    uint64_t stream_created_ms; /* tells a re-created stream of the same name apart */
    uint32_t shard_ix;
    uint64_t seq_ix;            /* next record to return: the first with index >= seq_ix */
    char stream_name[129];
};

/* Writes a NUL-terminated token into out (ITERATOR_MAX_LEN + 1 bytes). Returns its length. */
size_t iterator_encode(const struct shard_iterator *it, const unsigned char key[ITERATOR_KEY_LEN],
                       char *out);
/* 0 when the token is well-formed and its MAC verifies, else -1. Expiry is the
 * caller's business (it needs created_ms to word the error). */
int iterator_decode(const char *tok, size_t len, const unsigned char key[ITERATOR_KEY_LEN],
                    struct shard_iterator *out);

/* Whether an iterator issued at it->created_ms is past its 5 minutes at now_ms. */
int iterator_expired(const struct shard_iterator *it, uint64_t now_ms);

#endif
