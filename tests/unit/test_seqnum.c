/* Unit tests of sequence numbers: known values (kinesalite's, and ones worked
 * out independently with Python's big integers), round trips, the numeric
 * ordering clients rely on, and rejection of what is not one of ours. */
#include "protocol/seqnum.h"

#include <inttypes.h>

#include "tests/unit/check.h"

#define SECS_MAX ((1ULL << 36) - 1)
/* A sequence number from kinesalite (same layout). */
#define KINESALITE "49680567256272182470606291107837358240963461317249728514"

static int parse(const char *s, struct seqnum *out)
{
    return seqnum_parse(s, strlen(s), out);
}

static void check_same(const struct seqnum *a, const struct seqnum *b)
{
    CHECK(a->shard_create_secs == b->shard_create_secs);
    CHECK(a->shard_ix == b->shard_ix);
    CHECK(a->seq_ix == b->seq_ix);
    CHECK(a->record_secs == b->record_secs);
}

/* format(sn) == dec, and parse(dec) == sn. */
static void check_vector(struct seqnum sn, const char *dec)
{
    char buf[SEQNUM_DEC_MAX];
    struct seqnum back;

    CHECK(seqnum_format(&sn, buf) == strlen(dec));
    CHECK_STREQ(buf, dec);
    CHECK(parse(dec, &back) == 0);
    check_same(&back, &sn);
}

/* Numeric comparison of two canonical (no leading zero) decimal strings. */
static int dec_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static struct seqnum random_seqnum(void)
{
    struct seqnum sn = {
        .shard_create_secs = test_rand() & SECS_MAX,
        .shard_ix = (uint32_t)test_rand(),
        .seq_ix = test_rand(),
        .record_secs = test_rand() & SECS_MAX,
    };
    /* small values are the common case in practice */
    if (test_rand() & 1) {
        sn.shard_ix %= 20;
        sn.seq_ix %= 100000;
    }
    return sn;
}

static void test_kinesalite(void)
{
    struct seqnum sn;
    char buf[SEQNUM_DEC_MAX];

    CHECK(parse(KINESALITE, &sn) == 0);
    printf("kinesalite: shard_create_secs=%" PRIu64 " shard_ix=%" PRIu32 " seq_ix=%" PRIu64
           " record_secs=%" PRIu64 "\n",
           sn.shard_create_secs, sn.shard_ix, sn.seq_ix, sn.record_secs);
    /* hex 2 06b077896 0 0000000000000000 00 06b07789d 00000000 2 */
    CHECK(sn.shard_create_secs == 0x06b077896 && sn.shard_ix == 0 && sn.seq_ix == 0 &&
          sn.record_secs == 0x06b07789d);
    seqnum_format(&sn, buf);
    CHECK_STREQ(buf, KINESALITE);
}

static void test_vectors(void)
{
    check_vector((struct seqnum){0, 0, 0, 0},
                 "49039857307708443467467104868809893875799651909875269634");
    check_vector((struct seqnum){1700000000, 0x1a, SEQNUM_IX_END, 1700000123},
                 "49646437577342634241501447948810845541628631295408996770");
    check_vector((struct seqnum){SECS_MAX, UINT32_MAX, UINT64_MAX, SECS_MAX},
                 "73559785961562665201200657303213636610246346105283411954");
}

static void test_round_trips(void)
{
    for (int i = 0; i < 20000; i++) {
        struct seqnum sn = random_seqnum(), back;
        char buf[SEQNUM_DEC_MAX];
        size_t n = seqnum_format(&sn, buf);

        /* 2*16^46 and 3*16^46 - 1, the bounds of the layout, both have 56 digits */
        CHECK(n == 56 && strlen(buf) == n);
        CHECK(strspn(buf, "0123456789") == n);
        CHECK(seqnum_parse(buf, n, &back) == 0);
        check_same(&back, &sn);
    }
}

/* Within a shard, numbers sort by seq_ix whatever the record times, which
 * move independently (clock steps, or records put in the same second). */
static void test_ordering(void)
{
    for (int shard = 0; shard < 50; shard++) {
        struct seqnum sn = random_seqnum();
        char prev[SEQNUM_DEC_MAX], cur[SEQNUM_DEC_MAX];

        sn.seq_ix = test_rand() % 1000;
        seqnum_format(&sn, prev);
        for (int i = 0; i < 500; i++) {
            sn.seq_ix += 1 + (test_rand() & 1 ? 0 : test_rand() % 1000000);
            sn.record_secs = test_rand() & SECS_MAX;
            seqnum_format(&sn, cur);
            CHECK(dec_cmp(prev, cur) < 0);
            memcpy(prev, cur, sizeof prev);
        }
        /* the end-of-shard marker is above any record's number */
        sn.seq_ix = SEQNUM_IX_END;
        sn.record_secs = 0;
        seqnum_format(&sn, cur);
        CHECK(dec_cmp(prev, cur) < 0);
    }
}

static void test_rejects(void)
{
    static const char *const bad[] = {
        "",
        "0",
        "2",
        "abc",
        "-" KINESALITE,
        "+" KINESALITE,
        " " KINESALITE,
        KINESALITE " ",
        "4968056725627218247060629110783735824096346131724972851x",
        /* KINESALITE with "14" spelled "0>": same value if ('>' - '0') were a digit */
        "496805672562721824706062911078373582409634613172497285" "0>",
        "49680567256272182470606291107837358240963461317249728514.0",
        /* leading hex digit 3 */
        "74200495910126404204339843542242305178863287272187363330",
        /* leading hex digit 0 (46 hex digits) */
        "640709948563739003139186239027464365163809407374458882",
        /* 48 hex digits */
        "441999425717939730210343130058316509247360676596251885570",
        /* trailing hex digit 3 */
        "49680567256272182470606291107837358240963461317249728515",
        /* shard index nibble 1, shard index 0 */
        "49680567256294483215804821730978893959236109678755708930",
        /* KINESALITE + 2^192: only an overflow check tells it from KINESALITE */
        "6326782302642952946306395714315503774343318905781284241410",
        /* 60 digits: fits the parser's limit but not 192 bits */
        "999999999999999999999999999999999999999999999999999999999999",
        /* 61 digits */
        "0000049680567256272182470606291107837358240963461317249728514",
    };
    struct seqnum sn;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(parse(bad[i], &sn) == -1);
    /* only len chars are read: a cut-off number is not a number of ours */
    CHECK(seqnum_parse(KINESALITE, strlen(KINESALITE) - 1, &sn) == -1);
    CHECK(seqnum_parse(KINESALITE "0", strlen(KINESALITE), &sn) == 0);
    /* an embedded NUL is a non-digit */
    char nul[] = KINESALITE;
    nul[10] = '\0';
    CHECK(seqnum_parse(nul, sizeof nul - 1, &sn) == -1);
}

int main(void)
{
    test_kinesalite();
    test_vectors();
    test_round_trips();
    test_ordering();
    test_rejects();
    puts("test_seqnum: ok");
    return 0;
}
