/* CBOR request decoding into the cJSON tree (definite and indefinite items,
 * byte strings as raw bytes, tags, every integer width, limits) and the JSON
 * writer's CBOR mode, checked byte for byte. */
#include "protocol/cbor.h"
#include "protocol/json_writer.h"
#include "tests/unit/check.h"

static cJSON *dec(const char *bytes, size_t n)
{
    return cbor_to_json((const unsigned char *)bytes, n, NULL);
}

#define DEC(lit) dec(lit, sizeof lit - 1)

static void test_decode(void)
{
    /* {_ "A": 1, "B": h'0001', "C": [_ -1, 1(1700000000123), true, null], "D": (_ "x" "yz")} */
    static const char doc[] =
        "\xbf" "\x61" "A" "\x01"
        "\x61" "B" "\x42\x00\x01"
        "\x61" "C" "\x9f\x20\xc1\x1b\x00\x00\x01\x8b\xcf\xe5\x68\x7b\xf5\xf6\xff"
        "\x61" "D" "\x7f\x61x\x62yz\xff"
        "\xff";
    cJSON *j = DEC(doc);
    CHECK(j && cJSON_IsObject(j));
    CHECK(cJSON_GetObjectItem(j, "A")->valuedouble == 1);
    const cJSON *b = cJSON_GetObjectItem(j, "B");
    CHECK(cJSON_IsRaw(b) && b->valueint == 2 && b->valuestring[0] == 0 && b->valuestring[1] == 1);
    const cJSON *c = cJSON_GetObjectItem(j, "C");
    CHECK(cJSON_GetArraySize(c) == 4);
    CHECK(cJSON_GetArrayItem(c, 0)->valuedouble == -1);
    CHECK(cJSON_GetArrayItem(c, 1)->valuedouble == 1700000000123.0); /* the tag-1 date stays ms */
    CHECK(cJSON_IsTrue(cJSON_GetArrayItem(c, 2)) && cJSON_IsNull(cJSON_GetArrayItem(c, 3)));
    CHECK_STREQ(cJSON_GetObjectItem(j, "D")->valuestring, "xyz");
    cJSON_Delete(j);

    /* definite map with 16/32/64-bit integers and a float */
    static const char ints[] = "\xa4\x61" "a" "\x19\x01\x00" "\x61" "b" "\x1a\x00\x01\x00\x00"
                               "\x61" "c" "\x3b\x00\x00\x00\x01\x00\x00\x00\x00" "\x61" "d" "\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00";
    j = DEC(ints);
    CHECK(j && cJSON_GetObjectItem(j, "a")->valuedouble == 256 && cJSON_GetObjectItem(j, "b")->valuedouble == 65536);
    CHECK(cJSON_GetObjectItem(j, "c")->valuedouble == -4294967297.0 && cJSON_GetObjectItem(j, "d")->valuedouble == 1.5);
    cJSON_Delete(j);
    CHECK((j = DEC("\xa0")) && cJSON_GetArraySize(j) == 0);
    cJSON_Delete(j);
}

static void test_rejects(void)
{
    const char *err = NULL;
    CHECK(!DEC("\x9f\xff"));                 /* top level must be a map */
    CHECK(!DEC("\xa1\x01\x02"));             /* keys must be text */
    CHECK(!DEC("\xbf\x61" "a"));             /* truncated */
    CHECK(!DEC("\xbf\x61" "a" "\x01"));      /* no break */
    CHECK(!DEC("\xa0\xa0"));                 /* two items */
    CHECK(!DEC("\xff"));                     /* lone break */
    CHECK(!DEC("\x7f\x01\xff"));             /* an int inside an indefinite string */
    CHECK(!DEC("\x7f\x41" "a" "\xff"));      /* a byte chunk in a text string */
    CHECK(!cbor_to_json((const unsigned char *)"", 0, &err) && err);
    char deep[200];
    deep[0] = (char)0xbf;
    deep[1] = 0x61;
    deep[2] = 'a';
    memset(deep + 3, 0x9f, sizeof deep - 3); /* arrays nested past CBOR_MAX_DEPTH */
    CHECK(!cbor_to_json((unsigned char *)deep, sizeof deep, &err));
    /* every truncation of a valid document fails cleanly */
    static const char doc[] = "\xbf\x61" "A" "\x82\x01\x42\x00\x01\x61" "B" "\x7f\x61x\xff\xff";
    for (size_t n = 0; n < sizeof doc - 1; n++)
        CHECK(!dec(doc, n));
    cJSON *j = DEC(doc);
    CHECK(j);
    cJSON_Delete(j);
}

/* Item counts are bounded by the bytes left before anything is computed from
 * them: a map of 2^63 pairs once overflowed `n * 2` (UBSan), and an array of
 * 2^64 - 1 items passed for an indefinite one. */
static void test_huge_counts(void)
{
    const char *err = NULL;
    CHECK(!cbor_to_json((const unsigned char *)"\xbb\x80\x00\x00\x00\x00\x00\x00\x00", 9, &err));
    CHECK_STREQ(err, "truncated");
    CHECK(!DEC("\xbb\x40\x00\x00\x00\x00\x00\x00\x00"));                 /* 2^62 pairs */
    CHECK(!DEC("\xbb\xff\xff\xff\xff\xff\xff\xff\xff"));                 /* 2^64 - 1 pairs */
    CHECK(!DEC("\xa1\x61" "a" "\x9b\xff\xff\xff\xff\xff\xff\xff\xff\xff")); /* "a": 2^64 - 1 items, then a break */
    CHECK(!DEC("\xa1\x61" "a" "\x9b\x80\x00\x00\x00\x00\x00\x00\x00"));
    CHECK(!DEC("\xa2\x61" "a" "\x01"));                                   /* 2 pairs, 3 bytes left */
    CHECK(!DEC("\xa1\x61" "a" "\x82\x01"));                               /* 2 items, 1 byte left */
    /* the tightest counts that fit still decode */
    cJSON *j = DEC("\xa1\x61" "a" "\x82\x01\x02");
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "a")) == 2);
    cJSON_Delete(j);
    CHECK((j = DEC("\xa1\x61" "a" "\xa1\x61" "b" "\x01")));
    cJSON_Delete(j);
}

static void test_writer(void)
{
    struct jw w;
    size_t len;
    jw_init(&w);
    w.cbor = 1;
    jw_obj_begin(&w);
    jw_key(&w, "D");
    jw_blob(&w, "\x01\x02", 2);
    jw_key(&w, "T");
    jw_time_ms(&w, 1700000000123ULL);
    jw_key(&w, "L");
    jw_arr_begin(&w);
    jw_int(&w, -2);
    jw_int(&w, 500);
    jw_bool(&w, 1);
    jw_arr_end(&w);
    jw_obj_end(&w);
    char *b = jw_take(&w, &len);
    static const char want[] = "\xbf\x61" "D" "\x42\x01\x02" "\x61" "T" "\xc1\x1b\x00\x00\x01\x8b\xcf\xe5\x68\x7b"
                               "\x61" "L" "\x9f\x21\x19\x01\xf4\xf5\xff\xff";
    CHECK(len == sizeof want - 1 && !memcmp(b, want, len));
    /* and it reads back */
    cJSON *j = cbor_to_json((unsigned char *)b, len, NULL);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "L")) == 3);
    cJSON_Delete(j);
    free(b);
}

/* Doubles (integers when exact), and Smithy RPC v2's tag 1 + epoch seconds. */
static void test_doubles(void)
{
    struct jw w;
    size_t len;
    char *b;
    jw_init(&w);
    jw_arr_begin(&w);
    jw_double(&w, 0.1);
    jw_double(&w, 3);
    jw_double(&w, 1.0 / 3);
    jw_arr_end(&w);
    b = jw_take(&w, &len);
    CHECK(!strcmp(b, "[0.1,3,0.33333333333333331]")); /* the shortest text that reads back exactly */
    free(b);
    w.cbor = w.time_s = 1;
    jw_double(&w, 2.5);
    jw_double(&w, 7);
    jw_time_ms(&w, 1500);
    b = jw_take(&w, &len);
    static const char want[] = "\xfb\x40\x04\x00\x00\x00\x00\x00\x00" "\x07"
                               "\xc1\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00";
    CHECK(len == sizeof want - 1 && !memcmp(b, want, len));
    free(b);
}

int main(void)
{
    test_decode();
    test_rejects();
    test_huge_counts();
    test_writer();
    test_doubles();
    puts("cbor: ok");
    return 0;
}
