/* Unit tests of the Java behaviours `tidepool replay` reproduces (expected
 * values computed with Java's rules in Python): Instant.parse of the
 * timestamp attribute, Instant.toString and the watermark's
 * appendInstant(3), Duration.toString of the replay lag, String.hashCode
 * over UTF-16 units (a surrogate pair, a malformed byte) and the partition
 * key Objects.hash(line + "\n"); lines that are no events. */
#include "replay/replay.h"

#include "tests/unit/check.h"

static int64_t parsed(const char *s)
{
    int64_t ms = 0;
    CHECK(replay_parse_instant(s, strlen(s), &ms) == 0);
    return ms;
}

static void test_parse_instant(void)
{
    int64_t ms;

    CHECK(parsed("2018-01-01T00:04:37Z") == 1514765077000);
    CHECK(parsed("2018-01-01T00:04:37.5Z") == 1514765077500);
    CHECK(parsed("2018-01-01T00:04:37.123456789Z") == 1514765077123);
    CHECK(parsed("2018-01-01t00:04:37.000z") == 1514765077000);
    CHECK(parsed("2016-02-29T12:00:00Z") == 1456747200000);
    CHECK(parsed("2000-03-01T00:00:00Z") == 951868800000);
    CHECK(parsed("1969-12-31T23:59:59.999Z") == -1);
    static const char *const bad[] = {
        "2018-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-01-01T24:00:00Z", "2018-13-01T00:00:00Z",
        "2018-01-00T00:00:00Z", "2018-01-01 00:00:00Z", "2018-01-01T00:00:00", "2018-01-01T00:00:00+01:00",
        "2018-01-01T00:00:00.Z", "2018-01-01T00:00:00.1234567890Z", "2018-01-01", "2018-1-01T00:00:00Z", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(replay_parse_instant(bad[i], strlen(bad[i]), &ms) == -1);
}

static void test_format(void)
{
    char out[32];

    replay_format_instant(0, 0, out);
    CHECK_STREQ(out, "1970-01-01T00:00:00Z");
    replay_format_instant(0, 1, out);
    CHECK_STREQ(out, "1970-01-01T00:00:00.000Z");
    replay_format_instant(1514765077500, 0, out);
    CHECK_STREQ(out, "2018-01-01T00:04:37.500Z");
    replay_format_instant(-1, 1, out);
    CHECK_STREQ(out, "1969-12-31T23:59:59.999Z");

    static const struct {
        int64_t s;
        const char *java;
    } durations[] = {{0, "PT0S"}, {-1, "PT-1S"}, {12, "PT12S"}, {65, "PT1M5S"}, {3600, "PT1H"},
                     {7260, "PT2H1M"}, {-3661, "PT-1H-1M-1S"}};
    for (size_t i = 0; i < sizeof durations / sizeof *durations; i++) {
        replay_format_duration(durations[i].s, out);
        CHECK_STREQ(out, durations[i].java);
    }
}

static void test_java_hash(void)
{
    CHECK(replay_java_hash("", 0) == 0);
    CHECK(replay_java_hash("a", 1) == 97);
    CHECK(replay_java_hash("hello", 5) == 99162322);
    CHECK(replay_java_hash("caf\xc3\xa9 \xf0\x9f\x9a\x95", 10) == 548523095); /* "café 🚕" */
    CHECK(replay_java_hash("\xff", 1) == 0xFFFD);
    CHECK(replay_java_hash("\xc3", 1) == 0xFFFD); /* cut short */
}

static void test_event_parse(void)
{
    const char *why = NULL;
    const char *line = "{\"dropoff_datetime\":\"2018-01-01T00:04:37Z\"}";
    struct replay_event *e = replay_event_parse(line, strlen(line), "dropoff_datetime", 7, &why);

    CHECK(e != NULL);
    CHECK(e->ts_ms == 1514765077000 && e->seq == 7);
    CHECK(e->len == strlen(line) + 1 && memcmp(e->data, line, strlen(line)) == 0 && e->data[e->len - 1] == '\n');
    CHECK_STREQ(e->pk, "-1711678854"); /* 31 + hashCode of the line and its "\n" */
    free(e);

    static const struct {
        const char *line, *why;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"{\"pickup_datetime\":\"2018-01-01T00:04:37Z\"}", "no timestamp attribute"},
        {"{\"dropoff_datetime\":1514765077}", "the timestamp is not an ISO-8601 instant"},
        {"{\"dropoff_datetime\":\"2018-01-01 00:04:37\"}", "the timestamp is not an ISO-8601 instant"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(replay_event_parse(bad[i].line, strlen(bad[i].line), "dropoff_datetime", 0, &why) == NULL);
        CHECK_STREQ(why, bad[i].why);
    }
}

int main(void)
{
    test_parse_instant();
    test_format();
    test_java_hash();
    test_event_parse();
    puts("replay_event: ok");
    return 0;
}
