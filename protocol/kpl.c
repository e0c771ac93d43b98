/* KPL aggregation and de-aggregation; see kpl.h. In de-aggregation
 * everything is checked before the first callback, because a record that
 * fails any check is delivered whole as a plain record and must not also
 * yield user records.
 *
 * What is not a well-formed aggregate: Firehose's documentation says only
 * that it de-aggregates KPL records (FHDG basic-deliver, KDSDG
 * kpl-with-firehose), so tidepool follows AWS's published de-aggregators, the
 * KCL's AggregatorUtil.deaggregate and the aws-kinesis-agg modules: the magic
 * with no more than an MD5 after it, a wrong MD5, or a protobuf that does not
 * parse make the record a plain one, delivered as it is. One departure: a
 * table index out of range, which the KCL logs and drops the rest of the
 * record for, also makes it a plain record here, so nothing is lost. */
#include "protocol/kpl.h"

#include <gnutls/crypto.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kpl.pb-c.h"

static const unsigned char magic[4] = {0xF3, 0x89, 0x9A, 0xC2};
#define MD5_LEN 16

/* protobuf-c reports an allocation failure as a malformed message; this
 * allocator remembers it so that it is not mistaken for a plain record. */
struct alloc_state {
    int failed;
};

static void *pb_alloc(void *data, size_t size)
{
    void *p = malloc(size);

    if (!p)
        ((struct alloc_state *)data)->failed = 1;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static int indices_valid(const Kpl__AggregatedRecord *ar)
{
    if (ar->n_records > INT_MAX)
        return 0;
    for (size_t i = 0; i < ar->n_records; i++) {
        const Kpl__Record *r = ar->records[i];

        if (r->partition_key_index >= ar->n_partition_key_table)
            return 0;
        if (r->has_explicit_hash_key_index &&
            r->explicit_hash_key_index >= ar->n_explicit_hash_key_table)
            return 0;
    }
    return 1;
}

int kpl_deaggregate(const unsigned char *data, size_t len, kpl_record_cb cb, void *ctx)
{
    if (len <= sizeof magic + MD5_LEN || memcmp(data, magic, sizeof magic) != 0)
        return KPL_NOT_AGGREGATED;

    const unsigned char *pb = data + sizeof magic;
    size_t pb_len = len - sizeof magic - MD5_LEN;
    unsigned char md5[MD5_LEN];

    if (gnutls_hash_fast(GNUTLS_DIG_MD5, pb, pb_len, md5) != 0)
        return KPL_EINTERNAL;
    if (memcmp(md5, pb + pb_len, MD5_LEN) != 0)
        return KPL_NOT_AGGREGATED;

    struct alloc_state st = {0};
    ProtobufCAllocator allocator = {pb_alloc, pb_free, &st};
    Kpl__AggregatedRecord *ar = kpl__aggregated_record__unpack(&allocator, pb_len, pb);

    if (!ar)
        return st.failed ? KPL_EINTERNAL : KPL_NOT_AGGREGATED;
    int n = KPL_NOT_AGGREGATED;
    if (indices_valid(ar)) {
        n = (int)ar->n_records;
        for (size_t i = 0; i < ar->n_records; i++) {
            const Kpl__Record *r = ar->records[i];
            const char *pk = ar->partition_key_table[r->partition_key_index];
            struct kpl_record out = {
                .pk = pk,
                .pk_len = strlen(pk),
                .ehk = r->has_explicit_hash_key_index
                           ? ar->explicit_hash_key_table[r->explicit_hash_key_index]
                           : NULL,
                /* never NULL, so callers may memcpy an empty record */
                .data = r->data.len ? r->data.data : (const unsigned char *)"",
                .len = r->data.len,
                .subseq = (uint32_t)i,
            };
            if (cb(ctx, &out) != 0) {
                n = KPL_STOPPED;
                break;
            }
        }
    }
    kpl__aggregated_record__free_unpacked(ar, &allocator);
    return n;
}

/* The index of pk in the table so far, adding it when new. A linear scan:
 * an aggregated record holds a few hundred user records at most. */
static size_t pk_index(char **table, size_t *n, const char *pk)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(table[i], pk))
            return i;
    table[*n] = (char *)pk; /* protobuf-c's field is not const; packing only reads it */
    return (*n)++;
}

unsigned char *kpl_aggregate(const struct kpl_user_record *recs, size_t n, size_t *out_len)
{
    Kpl__AggregatedRecord ar = KPL__AGGREGATED_RECORD__INIT;
    Kpl__Record *rs = calloc(n ? n : 1, sizeof *rs);
    Kpl__Record **rp = calloc(n ? n : 1, sizeof *rp);
    char **pks = calloc(n ? n : 1, sizeof *pks);
    unsigned char *out = NULL;

    if (!rs || !rp || !pks)
        goto done;
    for (size_t i = 0; i < n; i++) {
        kpl__record__init(&rs[i]);
        rs[i].partition_key_index = pk_index(pks, &ar.n_partition_key_table, recs[i].pk);
        rs[i].data.data = (uint8_t *)recs[i].data;
        rs[i].data.len = recs[i].len;
        rp[i] = &rs[i];
    }
    ar.partition_key_table = pks;
    ar.records = rp;
    ar.n_records = n;

    size_t pb_len = kpl__aggregated_record__get_packed_size(&ar);
    out = malloc(pb_len + KPL_FRAMING);
    if (!out)
        goto done;
    memcpy(out, magic, sizeof magic);
    kpl__aggregated_record__pack(&ar, out + sizeof magic);
    if (gnutls_hash_fast(GNUTLS_DIG_MD5, out + sizeof magic, pb_len, out + sizeof magic + pb_len) != 0) {
        free(out);
        out = NULL;
        goto done;
    }
    *out_len = pb_len + KPL_FRAMING;
done:
    free(pks);
    free(rp);
    free(rs);
    return out;
}
