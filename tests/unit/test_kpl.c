/* Unit tests of KPL de-aggregation. Aggregated records are built here with
 * protobuf-c's generated packer (magic ‖ protobuf ‖ MD5), then decoded:
 * round trips with partition and explicit hash key tables, an empty record
 * list, large data, a callback that stops early, and every way a record can
 * fail to be one (magic, MD5, truncation, bad protobuf, missing required
 * field, index out of range), none of which may call the callback. A record
 * made by the npm package aws-kinesis-agg (argv[1], a hex fixture) checks
 * that we read what another implementation writes, and mutated records
 * with a recomputed MD5 must never crash (run under ASan). The encoder
 * (kpl_aggregate) round-trips through the decoder, sharing repeated
 * partition keys in the table. */
#include "protocol/kpl.h"
#include "protocol/kpl.pb-c.h"

#include <gnutls/crypto.h>

#include "tests/unit/check.h"

/* ---- building aggregated records ---- */

struct user_rec {
    size_t pk;       /* index into the partition key table */
    long ehk;        /* index into the explicit hash key table, -1 for none */
    const unsigned char *data;
    size_t len;
};

/* magic ‖ pb ‖ MD5(pb) in a new exactly sized buffer. */
static unsigned char *wrap(const unsigned char *pb, size_t pb_len, size_t *out_len)
{
    static const unsigned char magic[4] = {0xF3, 0x89, 0x9A, 0xC2};
    unsigned char *out = malloc(4 + pb_len + 16);

    CHECK(out != NULL);
    memcpy(out, magic, 4);
    if (pb_len)
        memcpy(out + 4, pb, pb_len);
    CHECK(gnutls_hash_fast(GNUTLS_DIG_MD5, pb, pb_len, out + 4 + pb_len) == 0);
    *out_len = 4 + pb_len + 16;
    return out;
}

static unsigned char *aggregate(char **pks, size_t npk, char **ehks, size_t nehk,
                                const struct user_rec *recs, size_t n, size_t *out_len)
{
    Kpl__AggregatedRecord ar = KPL__AGGREGATED_RECORD__INIT;
    Kpl__Record *rs = calloc(n ? n : 1, sizeof *rs);
    Kpl__Record **rp = calloc(n ? n : 1, sizeof *rp);

    CHECK(rs != NULL && rp != NULL);
    for (size_t i = 0; i < n; i++) {
        kpl__record__init(&rs[i]);
        rs[i].partition_key_index = recs[i].pk;
        if (recs[i].ehk >= 0) {
            rs[i].has_explicit_hash_key_index = 1;
            rs[i].explicit_hash_key_index = (uint64_t)recs[i].ehk;
        }
        rs[i].data.data = (uint8_t *)recs[i].data;
        rs[i].data.len = recs[i].len;
        rp[i] = &rs[i];
    }
    ar.partition_key_table = pks;
    ar.n_partition_key_table = npk;
    ar.explicit_hash_key_table = ehks;
    ar.n_explicit_hash_key_table = nehk;
    ar.records = rp;
    ar.n_records = n;

    size_t pb_len = kpl__aggregated_record__get_packed_size(&ar);
    unsigned char *pb = malloc(pb_len ? pb_len : 1);
    CHECK(pb != NULL);
    CHECK(kpl__aggregated_record__pack(&ar, pb) == pb_len);
    unsigned char *out = wrap(pb, pb_len, out_len);
    free(pb);
    free(rp);
    free(rs);
    return out;
}

/* ---- collecting what kpl_deaggregate yields ---- */

struct got {
    size_t n;
    size_t stop_after; /* 0 = never stop */
    char pk[16][64];
    char ehk[16][64];  /* "" when none */
    int has_ehk[16];
    unsigned char *data[16];
    size_t len[16];
    uint32_t subseq[16];
};

static int collect(void *ctx, const struct kpl_record *r)
{
    struct got *g = ctx;

    CHECK(g->n < 16);
    CHECK(r->pk != NULL && strlen(r->pk) == r->pk_len && r->pk_len < 64);
    CHECK(r->data != NULL);
    memcpy(g->pk[g->n], r->pk, r->pk_len + 1);
    g->has_ehk[g->n] = r->ehk != NULL;
    if (r->ehk) {
        CHECK(strlen(r->ehk) < 64);
        strcpy(g->ehk[g->n], r->ehk);
    }
    g->data[g->n] = malloc(r->len ? r->len : 1);
    CHECK(g->data[g->n] != NULL);
    memcpy(g->data[g->n], r->data, r->len);
    g->len[g->n] = r->len;
    g->subseq[g->n] = r->subseq;
    g->n++;
    return g->stop_after && g->n == g->stop_after;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->data[i]);
}

static int never_called(void *ctx, const struct kpl_record *r)
{
    (void)ctx;
    (void)r;
    CHECK(!"callback called for a record that is not aggregated");
    return 1;
}

/* ---- tests ---- */

static char *pks[] = {"alpha", "beta", "user-1234"};
static char *ehks[] = {"0", "340282366920938463463374607431768211455"};

static const struct user_rec sample[] = {
    {0, -1, (const unsigned char *)"first", 5},
    {1, 1, (const unsigned char *)"{\"a\":1}", 7},
    {2, 0, (const unsigned char *)"", 0},
    {0, 1, (const unsigned char *)"\xF3\x89\x9A\xC2 nested magic", 18},
    {1, -1, (const unsigned char *)"last", 4},
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

static void test_round_trip(void)
{
    size_t len;
    unsigned char *agg = aggregate(pks, 3, ehks, 2, sample, NSAMPLE, &len);
    struct got g = {0};

    CHECK(kpl_deaggregate(agg, len, collect, &g) == (int)NSAMPLE);
    CHECK(g.n == NSAMPLE);
    for (size_t i = 0; i < NSAMPLE; i++) {
        CHECK_STREQ(g.pk[i], pks[sample[i].pk]);
        CHECK(g.has_ehk[i] == (sample[i].ehk >= 0));
        if (sample[i].ehk >= 0)
            CHECK_STREQ(g.ehk[i], ehks[sample[i].ehk]);
        CHECK(g.len[i] == sample[i].len);
        CHECK(memcmp(g.data[i], sample[i].data, sample[i].len) == 0);
        CHECK(g.subseq[i] == i);
    }
    got_free(&g);
    free(agg);
}

static void test_stop(void)
{
    size_t len;
    unsigned char *agg = aggregate(pks, 3, ehks, 2, sample, NSAMPLE, &len);
    struct got g = {.stop_after = 2};

    CHECK(kpl_deaggregate(agg, len, collect, &g) == KPL_STOPPED);
    CHECK(g.n == 2);
    got_free(&g);
    free(agg);
}

static void test_empty(void)
{
    size_t len;
    unsigned char *agg = aggregate(NULL, 0, NULL, 0, NULL, 0, &len);

    CHECK(len == 20); /* an empty message packs to no bytes at all */
    /* the KCL and aws-kinesis-agg want more than an MD5 after the magic:
     * this one is a plain record, not an empty aggregate */
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    free(agg);
    /* tables but no records */
    agg = aggregate(pks, 3, ehks, 2, NULL, 0, &len);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == 0);
    free(agg);
}

static void test_large(void)
{
    size_t big_len = 1024 * 1024 + 7, len;
    unsigned char *big = malloc(big_len);
    CHECK(big != NULL);
    test_rand_bytes(big, big_len);
    struct user_rec recs[] = {
        {0, -1, (const unsigned char *)"small", 5},
        {1, 0, big, big_len},
        {2, -1, big + 1, 300000},
    };
    unsigned char *agg = aggregate(pks, 3, ehks, 2, recs, 3, &len);
    struct got g = {0};

    CHECK(kpl_deaggregate(agg, len, collect, &g) == 3);
    CHECK(g.len[1] == big_len && memcmp(g.data[1], big, big_len) == 0);
    CHECK(g.len[2] == 300000 && memcmp(g.data[2], big + 1, 300000) == 0);
    CHECK_STREQ(g.ehk[1], "0");
    got_free(&g);
    free(agg);
    free(big);
}

static void test_not_aggregated(void)
{
    size_t len;
    unsigned char *agg = aggregate(pks, 3, ehks, 2, sample, NSAMPLE, &len);

    /* bad MD5: any bit of the digest or the payload */
    agg[len - 1] ^= 1;
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    agg[len - 1] ^= 1;
    agg[10] ^= 0x40;
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    agg[10] ^= 0x40;
    /* wrong magic */
    for (int i = 0; i < 4; i++) {
        agg[i] ^= 0x01;
        CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
        agg[i] ^= 0x01;
    }
    /* truncated anywhere, each prefix in its own exact buffer for ASan */
    for (size_t n = 0; n < len; n++) {
        unsigned char *p = malloc(n ? n : 1);
        CHECK(p != NULL);
        memcpy(p, agg, n);
        CHECK(kpl_deaggregate(p, n, never_called, NULL) == KPL_NOT_AGGREGATED);
        free(p);
    }
    /* plain JSON, as most records are */
    const char *json = "{\"id\":1,\"msg\":\"a plain record of some length\"}";
    CHECK(kpl_deaggregate((const unsigned char *)json, strlen(json), never_called, NULL) ==
          KPL_NOT_AGGREGATED);
    free(agg);
}

static void test_bad_index(void)
{
    size_t len;
    struct user_rec pk_out[] = {{0, -1, (const unsigned char *)"x", 1},
                                {3, -1, (const unsigned char *)"y", 1}};
    unsigned char *agg = aggregate(pks, 3, ehks, 2, pk_out, 2, &len);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    free(agg);

    struct user_rec ehk_out[] = {{0, 2, (const unsigned char *)"x", 1}};
    agg = aggregate(pks, 3, ehks, 2, ehk_out, 1, &len);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    free(agg);

    /* an ehk index with no ehk table at all */
    struct user_rec no_table[] = {{0, 0, (const unsigned char *)"x", 1}};
    agg = aggregate(pks, 3, NULL, 0, no_table, 1, &len);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    free(agg);

    /* records but no partition key table */
    struct user_rec no_pk[] = {{0, -1, (const unsigned char *)"x", 1}};
    agg = aggregate(NULL, 0, NULL, 0, no_pk, 1, &len);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
    free(agg);
}

static void test_bad_protobuf(void)
{
    /* partition_key_table ["a"], then a record with partition_key_index 0
     * but without its required data */
    static const unsigned char missing_data[] = {0x0a, 0x01, 'a', 0x1a, 0x02, 0x08, 0x00};
    /* a length that runs past the end */
    static const unsigned char overrun[] = {0x0a, 0x05, 'a'};
    /* field 3 with the wrong wire type (varint) */
    static const unsigned char wire_type[] = {0x0a, 0x01, 'a', 0x18, 0x01};
    const unsigned char *cases[] = {missing_data, overrun, wire_type};
    size_t lens[] = {sizeof missing_data, sizeof overrun, sizeof wire_type};

    for (size_t i = 0; i < 3; i++) {
        size_t len;
        unsigned char *agg = wrap(cases[i], lens[i], &len);
        CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED);
        free(agg);
    }
    /* and the well-formed variant of the first one does decode */
    static const unsigned char ok[] = {0x0a, 0x01, 'a', 0x1a, 0x04, 0x08, 0x00, 0x1a, 0x00};
    size_t len;
    unsigned char *agg = wrap(ok, sizeof ok, &len);
    struct got g = {0};
    CHECK(kpl_deaggregate(agg, len, collect, &g) == 1);
    CHECK_STREQ(g.pk[0], "a");
    CHECK(g.len[0] == 0 && !g.has_ehk[0]);
    got_free(&g);
    free(agg);
}

/* Random byte flips in the protobuf with the MD5 fixed up: either a count or
 * KPL_NOT_AGGREGATED, never a crash or a read out of bounds. */
static void test_mutations(void)
{
    size_t len;
    unsigned char *agg = aggregate(pks, 3, ehks, 2, sample, NSAMPLE, &len);
    size_t pb_len = len - 20;

    for (int iter = 0; iter < 20000; iter++) {
        unsigned char *pb = malloc(pb_len);
        CHECK(pb != NULL);
        memcpy(pb, agg + 4, pb_len);
        int flips = 1 + (int)(test_rand() % 3);
        for (int f = 0; f < flips; f++)
            pb[test_rand() % pb_len] = (unsigned char)(test_rand() >> 56);
        size_t cut = pb_len - (size_t)(test_rand() % 4);
        size_t mlen;
        unsigned char *m = wrap(pb, cut, &mlen);
        struct got g = {0};
        int rc = kpl_deaggregate(m, mlen, collect, &g);
        CHECK(rc == KPL_NOT_AGGREGATED || (rc >= 0 && (size_t)rc == g.n));
        got_free(&g);
        free(m);
        free(pb);
    }
    free(agg);
}

/* kpl_aggregate → kpl_deaggregate gives the records back; the partition key
 * table holds each key once; an empty aggregate is the bare framing. */
static void test_encoder_round_trip(void)
{
    static const unsigned char binary[] = {0, 0xF3, 0x89, 0x9A, 0xC2, 0xff};
    const struct kpl_user_record recs[] = {
        {"-1520311453", (const unsigned char *)"{\"trip_id\":1}\n", 14},
        {"23", (const unsigned char *)"", 0},
        {"-1520311453", binary, sizeof binary},
        {"\xc3\xa9t\xc3\xa9", (const unsigned char *)"x", 1},
    };
    size_t n = sizeof recs / sizeof recs[0], len, budget = KPL_FRAMING;
    unsigned char *agg = kpl_aggregate(recs, n, &len);
    struct got g = {0};

    CHECK(agg != NULL);
    for (size_t i = 0; i < n; i++)
        budget += recs[i].len + strlen(recs[i].pk) + KPL_RECORD_OVERHEAD;
    CHECK(len <= budget);
    CHECK(kpl_deaggregate(agg, len, collect, &g) == (int)n);
    for (size_t i = 0; i < n; i++) {
        CHECK_STREQ(g.pk[i], recs[i].pk);
        CHECK(!g.has_ehk[i]);
        CHECK(g.len[i] == recs[i].len && memcmp(g.data[i], recs[i].data, recs[i].len) == 0);
        CHECK(g.subseq[i] == i);
    }
    got_free(&g);
    Kpl__AggregatedRecord *ar = kpl__aggregated_record__unpack(NULL, len - KPL_FRAMING, agg + 4);
    CHECK(ar != NULL);
    CHECK(ar->n_partition_key_table == 3 && ar->n_explicit_hash_key_table == 0);
    CHECK(ar->records[2]->partition_key_index == 0);
    kpl__aggregated_record__free_unpacked(ar, NULL);
    free(agg);

    agg = kpl_aggregate(NULL, 0, &len);
    CHECK(agg != NULL && len == KPL_FRAMING);
    CHECK(kpl_deaggregate(agg, len, never_called, NULL) == KPL_NOT_AGGREGATED); /* see test_empty */
    free(agg);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads the hex lines of the fixture, skipping '#' comments. */
static unsigned char *read_fixture(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    unsigned char *out = malloc(65536);
    CHECK(out != NULL);
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        for (char *p = line; hexval(p[0]) >= 0 && hexval(p[1]) >= 0; p += 2) {
            CHECK(n < 65536);
            out[n++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
        }
    }
    fclose(f);
    *out_len = n;
    return out;
}

static void test_aws_kinesis_agg_fixture(const char *path)
{
    size_t len;
    unsigned char *agg = read_fixture(path, &len);
    struct got g = {0};
    static const unsigned char binary[] = {0, 1, 2, 0xf3, 0x89, 0x9a, 0xc2, 0xff};

    CHECK(len > 20);
    CHECK(kpl_deaggregate(agg, len, collect, &g) == 5);
    CHECK_STREQ(g.pk[0], "alpha");
    CHECK(!g.has_ehk[0]);
    CHECK(g.len[0] == 22 && memcmp(g.data[0], "{\"id\":1,\"msg\":\"hello\"}", 22) == 0);
    CHECK_STREQ(g.pk[1], "beta");
    CHECK(g.has_ehk[1]);
    CHECK_STREQ(g.ehk[1], "170141183460469231731687303715884105728");
    CHECK(g.len[1] == 8 && memcmp(g.data[1], "{\"id\":2}", 8) == 0);
    CHECK_STREQ(g.pk[2], "alpha");
    CHECK(g.len[2] == 0);
    CHECK_STREQ(g.pk[3], "gamma");
    CHECK(g.len[3] == sizeof binary && memcmp(g.data[3], binary, sizeof binary) == 0);
    CHECK_STREQ(g.pk[4], "beta");
    CHECK(!g.has_ehk[4]);
    CHECK(g.len[4] == 4 && memcmp(g.data[4], "last", 4) == 0);
    for (uint32_t i = 0; i < 5; i++)
        CHECK(g.subseq[i] == i);
    got_free(&g);
    free(agg);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2); /* the aws-kinesis-agg fixture */
    test_round_trip();
    test_stop();
    test_empty();
    test_large();
    test_not_aggregated();
    test_bad_index();
    test_bad_protobuf();
    test_mutations();
    test_encoder_round_trip();
    test_aws_kinesis_agg_fixture(argv[1]);
    puts("kpl: ok");
    return 0;
}
