/* Unit tests of Firehose S3 object keys: the default and custom prefixes,
 * Java DateTimeFormatter patterns, random strings, error prefixes, time zones
 * across a DST change (and from several threads at once), the 512-character
 * limit, and validation with AWS's messages. */
#include "protocol/fh_prefix.h"

#include <pthread.h>
#include <regex.h>

#include "tests/unit/check.h"

#define T_MS 1783951507089ULL        /* 2026-07-13T14:05:07.089Z, a Monday */
#define DST_BEFORE_MS 1772953199000ULL /* 2026-03-08T06:59:59Z: 01:59:59 EST */
#define DST_AFTER_MS 1772953200000ULL  /* 2026-03-08T07:00:00Z: 03:00:00 EDT */
#define CONSTRAINT "The supplied prefix(es) do not satisfy the following constraint: "
#define BAD_IN_PREFIX CONSTRAINT "Invalid conversion character used in the value of the expression in Prefix"
#define BAD_IN_ERROR_PREFIX \
    CONSTRAINT "Invalid conversion character used in the value of the expression in ErrorOutputPrefix"
#define TOO_LONG CONSTRAINT "Length of evaluated prefix cannot be greater than 512"
#define ERROR_TOO_LONG CONSTRAINT "Length of evaluated ErrorOutputPrefix cannot be greater than 512"
#define TZ_UNSUPPORTED "Provided custom time zone is not supported. Custom time zones are limited " \
                       "to UTC and non-3-letter IANA time zones."

static int matches(const char *s, const char *ere)
{
    regex_t re;
    int ok;

    CHECK(regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) == 0);
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The key for delivered data of stream "mystream", version 1, ".gz". */
static const char *key_at(const char *prefix, uint64_t ms, const char *zone)
{
    static char buf[FH_KEY_MAX];

    CHECK(fh_object_key(prefix, NULL, NULL, "mystream", 1, ms, zone, ".gz", buf, sizeof buf) > 0);
    return buf;
}

/* Checks that key is want_prefix followed by a well-formed suffix at want_time. */
static void check_key(const char *key, const char *want_prefix, const char *want_time)
{
    size_t n = strlen(want_prefix);
    char want[128];

    if (strncmp(key, want_prefix, n) != 0) {
        fprintf(stderr, "key \"%s\" does not start with \"%s\"\n", key, want_prefix);
        CHECK(0);
    }
    CHECK(matches(key + n, "^mystream-1-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-"
                           "[0-9a-f-]{36}\\.gz$"));
    /* a version 4 UUID */
    CHECK(matches(key + n, "-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\.gz$"));
    snprintf(want, sizeof want, "mystream-1-%s-", want_time);
    CHECK(strncmp(key + n, want, strlen(want)) == 0);
}

/* Evaluates !{timestamp:pattern} (followed by '|' so nothing is appended) at T_MS. */
static void check_pattern(const char *pattern, const char *zone, const char *want)
{
    char prefix[256], want_prefix[256];

    snprintf(prefix, sizeof prefix, "!{timestamp:%s}|", pattern);
    snprintf(want_prefix, sizeof want_prefix, "%s|", want);
    const char *key = key_at(prefix, T_MS, zone);
    if (strncmp(key, want_prefix, strlen(want_prefix)) != 0) {
        fprintf(stderr, "pattern \"%s\" in %s: got \"%s\", want \"%s\"\n", pattern,
                zone ? zone : "UTC", key, want);
        CHECK(0);
    }
}

static void test_default_prefix(void)
{
    check_key(key_at(NULL, T_MS, NULL), "2026/07/13/14/", "2026-07-13-14-05-07");
    check_key(key_at("", T_MS, ""), "2026/07/13/14/", "2026-07-13-14-05-07");
    check_key(key_at("", T_MS, "UTC"), "2026/07/13/14/", "2026-07-13-14-05-07");
    /* two keys at one instant differ in their UUID */
    char a[FH_KEY_MAX];
    strcpy(a, key_at(NULL, T_MS, NULL));
    CHECK(strcmp(a, key_at(NULL, T_MS, NULL)) != 0);
}

static void test_custom_prefix(void)
{
    /* no timestamp expression: the default is appended by plain concatenation */
    check_key(key_at("logs", T_MS, NULL), "logs2026/07/13/14/", "2026-07-13-14-05-07");
    check_key(key_at("logs/", T_MS, NULL), "logs/2026/07/13/14/", "2026-07-13-14-05-07");
    check_key(key_at("a b/ü/", T_MS, NULL), "a b/ü/2026/07/13/14/", "2026-07-13-14-05-07");
    /* with one, nothing is appended */
    check_key(key_at("!{timestamp:yyyy}", T_MS, NULL), "2026", "2026-07-13-14-05-07");
    check_key(key_at("!{timestamp:yyyy}/", T_MS, NULL), "2026/", "2026-07-13-14-05-07");
    check_key(key_at("year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
                     "hour=!{timestamp:HH}/", T_MS, NULL),
              "year=2026/month=07/day=13/hour=14/", "2026-07-13-14-05-07");
    /* a random string alone does not count as a timestamp */
    const char *key = key_at("r/!{firehose:random-string}/", T_MS, NULL);
    CHECK(matches(key, "^r/[0-9a-f]{11}/2026/07/13/14/mystream-1-"));
    /* other file extensions, or none */
    char buf[FH_KEY_MAX];
    CHECK(fh_object_key("p/", NULL, NULL, "s", 7, T_MS, NULL, NULL, buf, sizeof buf) > 0);
    CHECK(matches(buf, "^p/2026/07/13/14/s-7-2026-07-13-14-05-07-[0-9a-f-]{36}$"));
    CHECK(fh_object_key("p/", NULL, NULL, "s", 12, T_MS, NULL, ".parquet", buf, sizeof buf) > 0);
    CHECK(matches(buf, "^p/2026/07/13/14/s-12-2026-07-13-14-05-07-[0-9a-f-]{36}\\.parquet$"));
}

static void test_patterns(void)
{
    static const char *const cases[][2] = {
        {"yyyy", "2026"}, {"yy", "26"}, {"y", "2026"}, {"yyy", "2026"}, {"yyyyy", "02026"},
        {"u", "2026"}, {"uuuu", "2026"}, {"uu", "26"},
        {"M", "7"}, {"MM", "07"}, {"MMM", "Jul"}, {"MMMM", "July"}, {"MMMMM", "J"},
        {"LLL", "Jul"}, {"d", "13"}, {"dd", "13"}, {"D", "194"}, {"DD", "194"},
        {"DDD", "194"}, {"H", "14"}, {"HH", "14"}, {"h", "2"}, {"hh", "02"}, {"K", "2"},
        {"k", "14"}, {"a", "PM"}, {"m", "5"}, {"mm", "05"}, {"s", "7"}, {"ss", "07"},
        {"S", "0"}, {"SS", "08"}, {"SSS", "089"}, {"SSSSSS", "089000"},
        {"SSSSSSSSS", "089000000"}, {"E", "Mon"}, {"EEE", "Mon"}, {"EEEE", "Monday"},
        {"EEEEE", "M"}, {"G", "AD"}, {"GGGG", "Anno Domini"}, {"Q", "3"}, {"QQ", "03"},
        {"QQQ", "Q3"}, {"QQQQ", "3rd quarter"}, {"A", "50707089"}, {"n", "89000000"},
        {"N", "50707089000000"}, {"g", "61234"}, {"VV", "UTC"}, {"z", "UTC"}, {"X", "Z"},
        {"x", "+00"}, {"xx", "+0000"}, {"xxx", "+00:00"}, {"Z", "+0000"}, {"ZZZZ", "GMT"},
        {"ZZZZZ", "Z"}, {"O", "GMT"},
        /* literals and other characters */
        {"yyyy/MM_dd-HH.mm,ss", "2026/07_13-14.05,07"},
        {"yyyy'-'MM'-'dd", "2026-07-13"},
        {"'year='yyyy'/month='MM'/day='dd'/hour='HH", "year=2026/month=07/day=13/hour=14"},
        {"''yyyy''", "'2026'"},
        {"'it''s' yyyy", "it's 2026"},
        {"'yyyy'", "yyyy"},
        {"[yyyy]MM", "202607"},
        {"[yyyy", "2026"},
        {"", ""},
        {" ", " "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_pattern(cases[i][0], NULL, cases[i][1]);
}

static void test_zoned_patterns(void)
{
    /* 14:05:07Z is 10:05:07 EDT */
    check_pattern("yyyy-MM-dd HH:mm:ss", "America/New_York", "2026-07-13 10:05:07");
    check_pattern("h a", "America/New_York", "10 AM");
    check_pattern("z", "America/New_York", "EDT");
    check_pattern("VV", "America/New_York", "America/New_York");
    check_pattern("X", "America/New_York", "-04");
    check_pattern("XX", "America/New_York", "-0400");
    check_pattern("XXX", "America/New_York", "-04:00");
    check_pattern("Z", "America/New_York", "-0400");
    check_pattern("ZZZZ", "America/New_York", "GMT-04:00");
    check_pattern("ZZZZZ", "America/New_York", "-04:00");
    check_pattern("O", "America/New_York", "GMT-4");
    check_pattern("OOOO", "America/New_York", "GMT-04:00");
    /* a half-hour zone, ahead of UTC */
    check_pattern("HH:mm X XXX O", "Asia/Kolkata", "19:35 +0530 +05:30 GMT+5:30");
    /* the local day decides day-of-year and the modified Julian day */
    check_pattern("D g A", "Asia/Kolkata", "194 61234 70507089");
    check_pattern("dd HH", "Pacific/Kiritimati", "14 04");
}

static void test_same_instant(void)
{
    /* every timestamp expression and the suffix see one instant */
    const char *key = key_at("!{timestamp:yyyy-MM-dd-HH-mm-ss}/!{timestamp:ss.SSS}/", T_MS, NULL);
    const char *want = "2026-07-13-14-05-07/07.089/mystream-1-2026-07-13-14-05-07-";
    CHECK(strncmp(key, want, strlen(want)) == 0);
}

static void test_random_string(void)
{
    char a[FH_KEY_MAX];
    const char *key;

    key = key_at("!{firehose:random-string}/!{firehose:random-string}/", T_MS, NULL);
    CHECK(matches(key, "^[0-9a-f]{11}/[0-9a-f]{11}/2026/07/13/14/mystream-1-"));
    /* fresh per occurrence, and per key */
    CHECK(strncmp(key, key + 12, 11) != 0);
    strcpy(a, key);
    key = key_at("!{firehose:random-string}/!{firehose:random-string}/", T_MS, NULL);
    CHECK(strncmp(a, key, 11) != 0);
}

static const char *error_key(const char *prefix, const char *error_prefix, const char *type)
{
    static char buf[FH_KEY_MAX];

    CHECK(fh_object_key(prefix, error_prefix, type, "mystream", 1, T_MS, NULL, ".gz", buf,
                        sizeof buf) > 0);
    return buf;
}

static void test_error_prefix(void)
{
    check_key(error_key("data/!{timestamp:yyyy}/",
                        "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
                        "processing-failed"),
              "errors/processing-failed/2026/07/13/", "2026-07-13-14-05-07");
    /* nothing is appended to an ErrorOutputPrefix */
    check_key(error_key(NULL, "fail/!{firehose:error-output-type}/", "format-conversion-failed"),
              "fail/format-conversion-failed/", "2026-07-13-14-05-07");
    check_key(error_key("logs/", "errors/", "processing-failed"), "errors/", "2026-07-13-14-05-07");
    check_key(error_key(NULL, "!{timestamp:yyyy}/!{firehose:error-output-type}", "processing-failed"),
              "2026/processing-failed", "2026-07-13-14-05-07");
    /* without one: <Prefix><type>/yyyy/MM/dd/HH/ */
    check_key(error_key("logs/", NULL, "processing-failed"), "logs/processing-failed/2026/07/13/14/",
              "2026-07-13-14-05-07");
    check_key(error_key("logs/", "", "processing-failed"), "logs/processing-failed/2026/07/13/14/",
              "2026-07-13-14-05-07");
    check_key(error_key(NULL, NULL, "processing-failed"), "processing-failed/2026/07/13/14/",
              "2026-07-13-14-05-07");
    /* random strings in error prefixes */
    CHECK(matches(error_key(NULL, "e/!{firehose:random-string}/!{firehose:error-output-type}/",
                            "processing-failed"),
                  "^e/[0-9a-f]{11}/processing-failed/mystream-1-"));
}

static void test_time_zones(void)
{
    /* America/New_York springs forward at 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT) */
    check_key(key_at(NULL, DST_BEFORE_MS, "America/New_York"), "2026/03/08/01/", "2026-03-08-01-59-59");
    check_key(key_at(NULL, DST_AFTER_MS, "America/New_York"), "2026/03/08/03/", "2026-03-08-03-00-00");
    check_key(key_at(NULL, DST_BEFORE_MS, NULL), "2026/03/08/06/", "2026-03-08-06-59-59");
    check_key(key_at(NULL, DST_AFTER_MS, "UTC"), "2026/03/08/07/", "2026-03-08-07-00-00");
    /* ... and falls back at 2026-11-01 06:00Z: 01:xx happens twice */
    check_key(key_at(NULL, 1793512800000ULL, "America/New_York"), "2026/11/01/01/",
              "2026-11-01-01-00-00");
    check_key(key_at(NULL, 1793509200000ULL, "America/New_York"), "2026/11/01/01/",
              "2026-11-01-01-00-00");
    /* a zone east of UTC moves the date forward */
    check_key(key_at(NULL, 1767222000000ULL, "Asia/Tokyo"), "2026/01/01/08/", "2026-01-01-08-00-00");
    check_key(key_at(NULL, 1767222000000ULL, NULL), "2025/12/31/23/", "2025-12-31-23-00-00");
    /* switching back and forth between zones */
    for (int i = 0; i < 3; i++) {
        check_key(key_at(NULL, T_MS, "Asia/Tokyo"), "2026/07/13/23/", "2026-07-13-23-05-07");
        check_key(key_at(NULL, T_MS, "America/New_York"), "2026/07/13/10/", "2026-07-13-10-05-07");
        check_key(key_at(NULL, T_MS, NULL), "2026/07/13/14/", "2026-07-13-14-05-07");
    }
}

struct zone_case {
    const char *zone, *hour;
};

static void *convert_many(void *arg)
{
    const struct zone_case *zc = arg;
    char key[FH_KEY_MAX], want[32];

    snprintf(want, sizeof want, "2026/07/13/%s/", zc->hour);
    for (int i = 0; i < 300; i++) {
        CHECK(fh_object_key(NULL, NULL, NULL, "s", 1, T_MS, zc->zone, NULL, key, sizeof key) > 0);
        CHECK(strncmp(key, want, strlen(want)) == 0);
    }
    return NULL;
}

static void test_threads(void)
{
    static const struct zone_case cases[] = {
        {"America/New_York", "10"}, {"Asia/Tokyo", "23"}, {"Europe/Paris", "16"},
        {"UTC", "14"}, {"Asia/Kolkata", "19"}, {NULL, "14"},
    };
    pthread_t th[sizeof cases / sizeof cases[0]];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(pthread_create(&th[i], NULL, convert_many, (void *)&cases[i]) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
}

static void test_limits(void)
{
    char prefix[1100], buf[FH_KEY_MAX];

    /* 498 characters and the 14 appended ones make 512 */
    memset(prefix, 'a', 498);
    prefix[498] = '\0';
    CHECK(fh_object_key(prefix, NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, sizeof buf) > 0);
    CHECK(strncmp(buf + 498, "2026/07/13/14/s-1-", 18) == 0);
    strcat(prefix, "a");
    CHECK(fh_object_key(prefix, NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, sizeof buf) == -1);
    /* an expression evaluating to exactly 512 */
    memset(prefix, 'a', 508);
    strcpy(prefix + 508, "!{timestamp:yyyy}");
    CHECK(fh_object_key(prefix, NULL, NULL, "s", 1, T_MS, NULL, NULL, buf, sizeof buf) > 0);
    strcpy(prefix + 508, "!{timestamp:yyyyy}");
    CHECK(fh_object_key(prefix, NULL, NULL, "s", 1, T_MS, NULL, NULL, buf, sizeof buf) == -1);
    /* error prefixes too */
    memset(prefix, 'e', 513);
    prefix[513] = '\0';
    CHECK(fh_object_key(NULL, prefix, "processing-failed", "s", 1, T_MS, NULL, NULL, buf,
                        sizeof buf) == -1);
    prefix[512] = '\0';
    CHECK(fh_object_key(NULL, prefix, "processing-failed", "s", 1, T_MS, NULL, NULL, buf,
                        sizeof buf) > 0);
    /* the output buffer: exactly enough, one byte short */
    int n = fh_object_key("p/", NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, sizeof buf);
    CHECK(n == (int)strlen("p/2026/07/13/14/s-1-2026-07-13-14-05-07-") + 36 + 3);
    CHECK(fh_object_key("p/", NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, (size_t)n + 1) == n);
    CHECK(fh_object_key("p/", NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, (size_t)n) == -1);
    CHECK(fh_object_key("p/", NULL, NULL, "s", 1, T_MS, NULL, ".gz", buf, 0) == -1);
    /* the last instant of the year 9999, and past it */
    CHECK(fh_object_key(NULL, NULL, NULL, "s", 1, 253402300799999ULL, NULL, NULL, buf,
                        sizeof buf) > 0);
    CHECK(strncmp(buf, "9999/12/31/23/s-1-9999-12-31-23-59-59-", 38) == 0);
    CHECK(fh_object_key(NULL, NULL, NULL, "s", 1, 253402300800000ULL, NULL, NULL, buf,
                        sizeof buf) == -1);
    CHECK(fh_object_key(NULL, NULL, NULL, "s", 1, 0, NULL, NULL, buf, sizeof buf) > 0);
    CHECK(strncmp(buf, "1970/01/01/00/s-1-1970-01-01-00-00-00-", 38) == 0);
    /* dynamic partitioning keys are not evaluated here */
    CHECK(fh_object_key("!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}", NULL,
                        "s", 1, T_MS, NULL, NULL, buf, sizeof buf) == -1);
}

static void check_valid(const char *prefix, const char *error_prefix, int dp, const char *zone)
{
    char msg[256] = "";

    if (fh_prefix_validate(prefix, error_prefix, dp, zone, msg, sizeof msg) != 0) {
        fprintf(stderr, "rejected \"%s\" / \"%s\": %s\n", prefix ? prefix : "(null)",
                error_prefix ? error_prefix : "(null)", msg);
        CHECK(0);
    }
}

static void check_invalid(const char *prefix, const char *error_prefix, int dp, const char *zone,
                          const char *want)
{
    char msg[FH_MSG_MAX] = "";

    CHECK(fh_prefix_validate(prefix, error_prefix, dp, zone, msg, sizeof msg) == -1);
    CHECK_STREQ(msg, want);
}

static void test_validate_ok(void)
{
    check_valid(NULL, NULL, 0, NULL);
    check_valid("", "", 0, "");
    check_valid("logs/", NULL, 0, NULL);
    check_valid("logs", "errors/", 0, "UTC");
    check_valid("a/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/", 0, NULL);
    check_valid("myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
                "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/"
                "!{timestamp:dd}", 0, NULL);
    check_valid("myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/", "myErrorPrefix/"
                "!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
                0, NULL);
    check_valid("!{timestamp:yyyy-MM-dd'T'HH:mm:ss.SSSXXX VV}", "!{firehose:error-output-type}", 0,
                "Europe/Paris");
    check_valid("customer_id=!{partitionKeyFromQuery:customer_id}/d=!{partitionKeyFromLambda:d}/",
                "errors/!{firehose:error-output-type}/", 1, NULL);
    check_valid("a!b{c}d!", NULL, 0, NULL); /* '!' and braces alone are plain text */
    check_valid(NULL, NULL, 0, "America/New_York");
    check_valid(NULL, NULL, 0, "America/Argentina/Buenos_Aires");
    /* a NULL message buffer is fine */
    CHECK(fh_prefix_validate("!{nope:x}", NULL, 0, NULL, NULL, 0) == -1);
}

static void test_validate_syntax(void)
{
    static const char *const stray[] = {
        "a!{b", "!{timestamp:yyyy", "!{:yyyy}", "!{timestamp}", "!{time stamp:y}", "!{timestamp:{y}",
        "!{firehose:random-string}!{", "!{timestamp1:y}",
    };
    char want[FH_MSG_MAX];

    for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++) {
        snprintf(want, sizeof want, CONSTRAINT "Invalid expression usage: %s.Must be of the form "
                 "!{<namespace>:<value>}", stray[i]);
        check_invalid(stray[i], "e/!{firehose:error-output-type}", 0, NULL, want);
        check_invalid("p/", stray[i], 0, NULL, want);
    }
    check_invalid("my!{prefix/", NULL, 0, NULL, CONSTRAINT "Invalid expression usage: my!{prefix/"
                  ".Must be of the form !{<namespace>:<value>}");
    check_invalid("!{foo:bar}", "e/!{firehose:error-output-type}", 0, NULL,
                  CONSTRAINT "Namespace to the left of colon (foo) is an invalid keyword!");
    check_invalid("p/", "!{Timestamp:yyyy}", 0, NULL,
                  CONSTRAINT "Namespace to the left of colon (Timestamp) is an invalid keyword!");
    check_invalid("!{firehose:random}", "e/!{firehose:error-output-type}", 0, NULL, BAD_IN_PREFIX);
    check_invalid("p/", "!{firehose:}!{firehose:error-output-type}", 0, NULL, BAD_IN_ERROR_PREFIX);
}

static void test_validate_patterns(void)
{
    /* the letters the service rejects, each alone, and the ones it takes */
    static const char rejected[] = "CIJPRTUVbfijloprt";
    static const char unsupported[] = "BFWYcevw";
    char prefix[64];

    for (const char *c = rejected; *c; c++) {
        snprintf(prefix, sizeof prefix, "!{timestamp:yyyy%c}", *c);
        check_invalid(prefix, "e/!{firehose:error-output-type}", 0, NULL, BAD_IN_PREFIX);
        check_invalid("p/", prefix, 0, NULL, BAD_IN_ERROR_PREFIX);
    }
    for (char c = 'A'; c <= 'z'; c++) {
        if (c > 'Z' && c < 'a')
            continue;
        if (strchr(rejected, c) || strchr(unsupported, c))
            continue;
        snprintf(prefix, sizeof prefix, "!{timestamp:%c%s}", c, c == 'V' ? "V" : "");
        check_valid(prefix, "e/!{firehose:error-output-type}", 0, NULL);
    }
    for (const char *c = unsupported; *c; c++) {
        char want[96];
        snprintf(prefix, sizeof prefix, "!{timestamp:%c%c}", *c, *c);
        snprintf(want, sizeof want, "tidepool does not support the timestamp pattern '%c%c' (in Prefix)",
                 *c, *c);
        check_invalid(prefix, "e/!{firehose:error-output-type}", 0, NULL, want);
    }
    check_invalid("!{timestamp:zzzz}", "e/!{firehose:error-output-type}", 0, NULL,
                  "tidepool does not support the timestamp pattern 'zzzz' (in Prefix)");
    /* counts Java refuses, bad quotes and brackets, reserved characters */
    static const char *const bad[] = {
        "HHH", "dd/MMMMMM", "aa", "EEEEEE", "SSSSSSSSSS", "VVV", "zzzzz", "XXXXXX", "OO", "DDDD",
        "'abc", "yyyy'", "'''", "]", "yyyy]", "#", "yyyyyyyyyyyyyyyyyyyy",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(prefix, sizeof prefix, "!{timestamp:%s}", bad[i]);
        check_invalid(prefix, "e/!{firehose:error-output-type}", 0, NULL, BAD_IN_PREFIX);
    }
    check_valid("!{timestamp:'a]b#'}", "e/!{firehose:error-output-type}", 0, NULL);
}

static void test_validate_rules(void)
{
    check_invalid("p/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}", 0, NULL,
                  CONSTRAINT "Prefix must not contain any occurrence of !{firehose:error-output-type}");
    check_invalid("!{timestamp:yyyy/MM/dd}", NULL, 0, NULL,
                  CONSTRAINT "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
    check_invalid("r/!{firehose:random-string}/", "", 0, NULL,
                  CONSTRAINT "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
    check_invalid("p/", "errors/!{timestamp:yyyy}/", 0, NULL,
                  CONSTRAINT "ErrorOutputPrefix must contain at least one occurrence of "
                  "!{firehose:error-output-type}");
    check_invalid(NULL, "errors/!{firehose:random-string}/", 0, NULL,
                  CONSTRAINT "ErrorOutputPrefix must contain at least one occurrence of "
                  "!{firehose:error-output-type}");
    /* dynamic partitioning */
    check_invalid("!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}", 0, NULL,
                  "Dynamic Partitioning Namespaces can only be part of a prefix expression when "
                  "Dynamic Partitioning is enabled.");
    check_invalid("!{partitionKeyFromLambda:id}/", "e/!{firehose:error-output-type}", 0, NULL,
                  "Dynamic Partitioning Namespaces can only be part of a prefix expression when "
                  "Dynamic Partitioning is enabled.");
    check_invalid("!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}/"
                  "!{partitionKeyFromQuery:id}", 1, NULL,
                  "Dynamic Partitioning Namespaces can't be part of an error prefix expression");
    check_invalid("p/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}", 1, NULL,
                  "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic "
                  "Partitioning is enabled");
    check_invalid(NULL, NULL, 1, NULL,
                  "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic "
                  "Partitioning is enabled");
    check_invalid("!{partitionKeyFromQuery:id}/", NULL, 1, NULL,
                  CONSTRAINT "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
    check_invalid("!{partitionKeyFromQuery:}/", "e/!{firehose:error-output-type}", 1, NULL,
                  BAD_IN_PREFIX);
}

static void test_validate_lengths(void)
{
    char prefix[1200];

    memset(prefix, 'a', 498);
    prefix[498] = '\0';
    check_valid(prefix, NULL, 0, NULL);
    strcat(prefix, "a"); /* the appended yyyy/MM/dd/HH/ makes 513 */
    check_invalid(prefix, NULL, 0, NULL, TOO_LONG);
    memset(prefix, 'a', 1100);
    prefix[1100] = '\0';
    check_invalid(prefix, NULL, 0, NULL, TOO_LONG);
    /* a short template that evaluates long */
    strcpy(prefix, "!{timestamp:");
    for (int i = 0; i < 60; i++)
        strcat(prefix, "MMMM EEEE ");
    strcat(prefix, "}");
    check_invalid(prefix, "e/!{firehose:error-output-type}", 0, NULL,
                  TOO_LONG);
    /* error prefixes: evaluated with the longest error type */
    memset(prefix, 'e', 512);
    prefix[512] = '\0';
    check_valid("p/", prefix, 0, NULL);
    strcat(prefix, "e");
    check_invalid("p/", prefix, 0, NULL, ERROR_TOO_LONG);
    memset(prefix, 'e', 488);
    strcpy(prefix + 488, "!{firehose:error-output-type}"); /* 488 + 24 = 512 */
    check_valid("p/", prefix, 0, NULL);
    memset(prefix, 'e', 489);
    strcpy(prefix + 489, "!{firehose:error-output-type}");
    check_invalid("p/", prefix, 0, NULL, ERROR_TOO_LONG);
}

static void test_validate_zones(void)
{
    static const char *const bad[] = {
        "EST", "GMT", "Mars/Olympus_Mons", "America", "leapseconds", "/etc/localtime", "Etc/GMT+5",
        "America/../../../etc/passwd", "America/New_York/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_invalid(NULL, NULL, 0, bad[i], TZ_UNSUPPORTED);
}

static void test_validate_message_buffer(void)
{
    char msg[8];

    CHECK(fh_prefix_validate("!{timestamp:yyyy}", NULL, 0, NULL, msg, sizeof msg) == -1);
    CHECK_STREQ(msg, "The sup");
}

int main(void)
{
    test_default_prefix();
    test_custom_prefix();
    test_patterns();
    test_zoned_patterns();
    test_same_instant();
    test_random_string();
    test_error_prefix();
    test_time_zones();
    test_threads();
    test_limits();
    test_validate_ok();
    test_validate_syntax();
    test_validate_patterns();
    test_validate_rules();
    test_validate_lengths();
    test_validate_zones();
    test_validate_message_buffer();
    return 0;
}
