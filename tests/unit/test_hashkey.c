/* Unit tests of hash keys: decimal parsing at the edges of the 128-bit range,
 * printing, MD5 routing of partition keys, and the AWS split of the key space
 * between N shards (checked against values AWS returns). */
#include "protocol/hashkey.h"

#include "tests/unit/check.h"

#define MAX_DEC "340282366920938463463374607431768211455" /* 2^128 - 1 */

static enum hashkey_status parse(const char *s, hashkey_t *out)
{
    return hashkey_parse(s, strlen(s), out);
}

static void check_format(hashkey_t v, const char *want)
{
    char buf[HASHKEY_DEC_MAX];

    CHECK(hashkey_format(v, buf) == strlen(want));
    CHECK_STREQ(buf, want);
}

static void test_parse_valid(void)
{
    hashkey_t v;

    CHECK(parse("0", &v) == HASHKEY_OK && v == 0);
    CHECK(parse("1", &v) == HASHKEY_OK && v == 1);
    CHECK(parse("18446744073709551616", &v) == HASHKEY_OK && v == (hashkey_t)1 << 64);
    CHECK(parse(MAX_DEC, &v) == HASHKEY_OK && v == HASHKEY_MAX);
    CHECK(parse("340282366920938463463374607431768211454", &v) == HASHKEY_OK &&
          v == HASHKEY_MAX - 1);
    /* only len chars are read */
    CHECK(hashkey_parse("12345", 2, &v) == HASHKEY_OK && v == 12);
    CHECK(hashkey_parse("0x", 1, &v) == HASHKEY_OK && v == 0);
}

static void test_parse_range(void)
{
    hashkey_t v = 7;

    CHECK(parse("340282366920938463463374607431768211456", &v) == HASHKEY_ERANGE); /* 2^128 */
    CHECK(parse("340282366920938463463374607431768211460", &v) == HASHKEY_ERANGE);
    CHECK(parse("999999999999999999999999999999999999999", &v) == HASHKEY_ERANGE);
    CHECK(parse("400000000000000000000000000000000000000", &v) == HASHKEY_ERANGE);
    CHECK(parse("1000000000000000000000000000000000000000", &v) == HASHKEY_ERANGE);

    char many[201];
    memset(many, '9', sizeof many - 1);
    many[sizeof many - 1] = '\0';
    CHECK(parse(many, &v) == HASHKEY_ERANGE);
    CHECK(v == 7); /* untouched on failure */
}

static void test_parse_syntax(void)
{
    static const char *const bad[] = {
        "",   "00", "01", "0123", "-1", "+1", "-0", " 1", "1 ", "1 2", "1a",
        "0x10", "1e5", "1.0", "１",
        /* a syntax error wins over a range error */
        "9999999999999999999999999999999999999999x",
    };
    hashkey_t v = 7;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(parse(bad[i], &v) == HASHKEY_ESYNTAX);
    CHECK(hashkey_parse("1\0" "2", 3, &v) == HASHKEY_ESYNTAX);
    CHECK(v == 7);
}

static void test_format(void)
{
    check_format(0, "0");
    check_format(9, "9");
    check_format(10, "10");
    check_format((hashkey_t)1 << 64, "18446744073709551616");
    check_format(HASHKEY_MAX, MAX_DEC);

    for (int i = 0; i < 10000; i++) {
        /* random widths, so short and long numbers are both common */
        hashkey_t v = ((hashkey_t)test_rand() << 64 | test_rand()) >> (test_rand() % 128);
        char buf[HASHKEY_DEC_MAX];
        size_t n = hashkey_format(v, buf);
        hashkey_t back;
        CHECK(n == strlen(buf) && n < HASHKEY_DEC_MAX);
        CHECK(hashkey_parse(buf, n, &back) == HASHKEY_OK && back == v);
    }
}

static void test_partition_key(void)
{
    /* MD5("a") = 0cc175b9c0f1b6a831c399e269772661 */
    check_format(hashkey_of_partition_key("a", 1), "16955237001963240173058271559858726497");
    /* MD5("") = d41d8cd98f00b204e9800998ecf8427e */
    check_format(hashkey_of_partition_key("", 0), "281949768489412648962353822266799178366");
    /* the key is bytes, not a C string */
    CHECK(hashkey_of_partition_key("a\0b", 3) != hashkey_of_partition_key("a", 1));
}

/* Shards of an n-way split tile [0, 2^128-1] in order, all the same size but
 * the last, which holds the remainder (fewer than n extra keys). */
static void check_split(unsigned n)
{
    hashkey_t start, end, span = 0, prev_end = 0;

    for (unsigned i = 0; i < n; i++) {
        hashkey_split(n, i, &start, &end);
        CHECK(start <= end);
        CHECK(i == 0 ? start == 0 : start == prev_end + 1);
        /* spans (end - start, i.e. size - 1) avoid the overflow of 2^128 for n = 1 */
        if (i == 0)
            span = end - start;
        else if (i < n - 1)
            CHECK(end - start == span);
        else
            CHECK(end - start >= span && end - start - span < n);
        prev_end = end;
    }
    CHECK(prev_end == HASHKEY_MAX);
}

static void test_split(void)
{
    static const unsigned ns[] = {1, 2, 3, 4, 5, 6, 7, 10, 100};
    hashkey_t start, end;

    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        check_split(ns[i]);

    /* values from AWS's DescribeStream */
    hashkey_split(1, 0, &start, &end);
    check_format(start, "0");
    check_format(end, MAX_DEC);
    hashkey_split(2, 0, &start, &end);
    check_format(end, "170141183460469231731687303715884105727");
    hashkey_split(2, 1, &start, &end);
    check_format(start, "170141183460469231731687303715884105728");
    hashkey_split(4, 1, &start, &end);
    check_format(start, "85070591730234615865843651857942052864");
    /* 3 does not divide 2^128: the last shard gets the one spare key */
    hashkey_split(3, 0, &start, &end);
    check_format(end, "113427455640312821154458202477256070484");
    hashkey_split(3, 2, &start, &end);
    check_format(start, "226854911280625642308916404954512140970");
}

int main(void)
{
    test_parse_valid();
    test_parse_range();
    test_parse_syntax();
    test_format();
    test_partition_key();
    test_split();
    puts("test_hashkey: ok");
    return 0;
}
