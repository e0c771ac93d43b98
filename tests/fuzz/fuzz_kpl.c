/* libFuzzer target: KPL aggregated records that Firehose de-aggregates. With
 * the first byte odd, the rest is taken as the protobuf and framed with the
 * magic and the right MD5, so the fuzzer reaches the protobuf decoder instead
 * of stopping at the checksum; even, the rest is the record as it is. */
#include "protocol/kpl.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int on_record(void *ctx, const struct kpl_record *r)
{
    size_t *count = ctx;
    if (!r->pk || strlen(r->pk) != r->pk_len || (r->len && !r->data) || r->subseq != *count)
        __builtin_trap();
    ++*count;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char magic[4] = {0xF3, 0x89, 0x9A, 0xC2};
    size_t count = 0;
    if (size < 1)
        return 0;
    int frame = data[0] & 1;
    data++, size--;
    unsigned char *rec = malloc(size + sizeof magic + 16);
    if (!rec)
        return 0;
    size_t len = size;
    if (frame) {
        memcpy(rec, magic, sizeof magic);
        memcpy(rec + sizeof magic, data, size);
        if (gnutls_hash_fast(GNUTLS_DIG_MD5, data, size, rec + sizeof magic + size) != 0)
            __builtin_trap();
        len = sizeof magic + size + 16;
    } else {
        memcpy(rec, data, size);
    }
    int n = kpl_deaggregate(rec, len, on_record, &count);
    if (n >= 0 && (size_t)n != count)
        __builtin_trap();
    free(rec);
    return 0;
}
