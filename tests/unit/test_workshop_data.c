/* Unit tests of the workshop's taxi dataset generator. The default dataset is
 * made twice with the same seed (identical bytes) and once with another
 * (different bytes); every object must be exactly one LZ4 frame, decoded with
 * liblz4 and, when installed, the lz4 CLI; every line is parsed with cJSON:
 * field order and types, the number formats, ids, times (in 2018, in order
 * across objects, pickup consistent with distance), zones, coordinates and
 * money. The density must stay in the band of 12,000-17,000 trips per
 * hour, with the daily curve's low at 4-6 am and its peak in the evening, and
 * the replay's first statistics line at -speedup 720 must come out near the
 * workshop's 3442 events/s. Small counts, bad arguments and the speed of the
 * default dataset (printed, not checked: sanitizer builds are slow) last. */
#include "server/init/workshop_data.h"

#include <cjson/cJSON.h>
#include <lz4frame.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"

#define EPOCH_2018 1514764800LL
#define EPOCH_2019 1546300800LL
#define SEED 42
#define DAY_TRIPS 400000 /* a bit more than a whole day of data */
/* The workshop's expected log line: "all events with dropoff time until
 * 2018-01-01T04:36:21Z have been sent (3442.0 events/sec, ...)". The first
 * statistics window (20 s) sends everything dropped off until then. */
#define WORKSHOP_LINE_UNTIL (4 * 3600 + 36 * 60 + 21)
#define WORKSHOP_LINE_RATE 3442.0
#define STATS_WINDOW_S 20.0
#define SPEEDUP 720

static const char *const fields[] = {
    "type", "trip_id", "vendor_id", "pickup_datetime", "dropoff_datetime", "passenger_count",
    "trip_distance", "pickup_location_id", "dropoff_location_id", "pickup_latitude",
    "pickup_longitude", "dropoff_latitude", "dropoff_longitude", "fare_amount", "tip_amount",
    "total_amount",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Digits after the decimal point in the number just after "key":, -1 for an
 * integer; also checks the number's shape. */
static int decimals(const char *line, const char *key)
{
    char pat[64];
    const char *p;
    int n = -1;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(line, pat);
    CHECK(p != NULL);
    p += strlen(pat);
    if (*p == '-')
        p++;
    CHECK(*p >= '0' && *p <= '9');
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            n++;
    }
    CHECK(*p == ',' || *p == '}');
    return n;
}

/* Seconds since 2018-01-01 of a canonical "YYYY-MM-DDTHH:MM:SSZ", which
 * java.time.Instant.parse accepts: it must print back identically. */
static long long parse_time(const char *s)
{
    struct tm tm;
    char again[32];
    time_t t;

    memset(&tm, 0, sizeof tm);
    CHECK(strlen(s) == 20);
    CHECK(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                 &tm.tm_min, &tm.tm_sec) == 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    CHECK(strftime(again, sizeof again, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t)) == 20);
    CHECK_STREQ(again, s);
    return (long long)t - EPOCH_2018;
}

/* One object decoded with liblz4: exactly one frame with a content checksum,
 * as the lz4 CLI writes, with its content size, and nothing after it
 * (commons-compress would ignore a second frame). */
static char *lz4_decode(const unsigned char *data, size_t len, size_t *out_len)
{
    LZ4F_dctx *dctx;
    LZ4F_frameInfo_t info;
    size_t pos = len, produced = 0, hint;
    char *out;

    CHECK(len > 4 && memcmp(data, "\x04\x22\x4d\x18", 4) == 0);
    CHECK(!LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
    hint = LZ4F_getFrameInfo(dctx, &info, data, &pos);
    CHECK(!LZ4F_isError(hint));
    CHECK(info.contentChecksumFlag == LZ4F_contentChecksumEnabled);
    CHECK(info.dictID == 0); /* commons-compress cannot read dictionary ids */
    CHECK(info.contentSize > 0);
    out = malloc(info.contentSize + 1);
    CHECK(out != NULL);
    do {
        size_t in = len - pos, n = info.contentSize - produced;
        hint = LZ4F_decompress(dctx, out + produced, &n, data + pos, &in, NULL);
        CHECK(!LZ4F_isError(hint));
        CHECK(in > 0 || n > 0 || hint == 0);
        pos += in;
        produced += n;
    } while (hint != 0);
    CHECK(pos == len);
    CHECK(produced == info.contentSize);
    LZ4F_freeDecompressionContext(dctx);
    out[produced] = '\0';
    *out_len = produced;
    return out;
}

/* The same object through `lz4 -dc` must give the same text. */
static void cli_decode_matches(const unsigned char *data, size_t len, const char *text, size_t text_len)
{
    char path[] = "/tmp/tp_workshop_XXXXXX", cmd[64];
    int fd = mkstemp(path);
    FILE *p;
    char *out = malloc(text_len + 1);
    size_t got;

    CHECK(fd >= 0 && out != NULL);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
    snprintf(cmd, sizeof cmd, "lz4 -dc %s", path);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    got = fread(out, 1, text_len + 1, p);
    CHECK(pclose(p) == 0);
    CHECK(got == text_len && memcmp(out, text, text_len) == 0);
    unlink(path);
    free(out);
}

/* What the whole dataset must satisfy, gathered line by line. */
struct tally {
    unsigned long trips;
    long long last_id, last_dropoff;
    unsigned long hour[64];       /* trips by dropoff hour since 2018-01-01 */
    unsigned long until_workshop_line, solo, vendor[3], busiest_zones;
    double *distance;
};

static int busiest_zone(int id)
{
    static const int busiest[] = {161, 162, 163, 164, 170, 186, 230, 236, 237, 48};

    for (size_t i = 0; i < sizeof busiest / sizeof busiest[0]; i++)
        if (busiest[i] == id)
            return 1;
    return 0;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    CHECK(cJSON_IsNumber(v));
    return v->valuedouble;
}

static long long cents(double v)
{
    return (long long)(v * 100 + (v < 0 ? -0.5 : 0.5));
}

static void check_coordinates(const char *line, const cJSON *o, const char *lat, const char *lon)
{
    CHECK(decimals(line, lat) == 6 && decimals(line, lon) == 6);
    CHECK(num(o, lat) > 40.49 && num(o, lat) < 40.92); /* New York City's bounding box */
    CHECK(num(o, lon) > -74.27 && num(o, lon) < -73.68);
}

static void check_trip(struct tally *t, const char *line)
{
    cJSON *o = cJSON_Parse(line);
    const cJSON *f;
    size_t i = 0;
    long long id, pickup, dropoff, fare, tip;
    double miles, minutes, mph;
    int from, to;

    CHECK(o != NULL && cJSON_IsObject(o));
    CHECK(strpbrk(line, " \t\r") == NULL); /* minified */
    for (f = o->child; f; f = f->next, i++) {
        CHECK(i < NFIELDS);
        CHECK_STREQ(f->string, fields[i]);
        CHECK(cJSON_IsString(f) == (i == 0 || i == 3 || i == 4));
        CHECK(cJSON_IsString(f) || cJSON_IsNumber(f));
    }
    CHECK(i == NFIELDS);
    CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "trip");

    CHECK(decimals(line, "trip_id") == -1);
    id = (long long)num(o, "trip_id");
    CHECK(id > t->last_id);
    t->last_id = id;
    CHECK(decimals(line, "vendor_id") == -1);
    CHECK(num(o, "vendor_id") == 1 || num(o, "vendor_id") == 2);
    t->vendor[(int)num(o, "vendor_id")]++;
    CHECK(decimals(line, "passenger_count") == -1);
    CHECK(num(o, "passenger_count") >= 1 && num(o, "passenger_count") <= 6);
    t->solo += num(o, "passenger_count") == 1;

    pickup = parse_time(cJSON_GetObjectItemCaseSensitive(o, "pickup_datetime")->valuestring);
    dropoff = parse_time(cJSON_GetObjectItemCaseSensitive(o, "dropoff_datetime")->valuestring);
    CHECK(dropoff >= t->last_dropoff && dropoff < EPOCH_2019 - EPOCH_2018);
    t->last_dropoff = dropoff;
    CHECK((size_t)(dropoff / 3600) < sizeof t->hour / sizeof t->hour[0]);
    t->hour[dropoff / 3600]++;
    t->until_workshop_line += dropoff <= WORKSHOP_LINE_UNTIL;

    CHECK(decimals(line, "trip_distance") == 2);
    miles = num(o, "trip_distance");
    t->distance[t->trips++] = miles;
    minutes = (double)(dropoff - pickup) / 60;
    CHECK(minutes >= 1);
    mph = miles / (minutes / 60);
    CHECK(mph >= 1 && mph <= 40);

    CHECK(decimals(line, "pickup_location_id") == -1 && decimals(line, "dropoff_location_id") == -1);
    from = (int)num(o, "pickup_location_id");
    to = (int)num(o, "dropoff_location_id");
    CHECK(from >= 1 && from <= 265 && to >= 1 && to <= 265);
    t->busiest_zones += busiest_zone(from);
    check_coordinates(line, o, "pickup_latitude", "pickup_longitude");
    check_coordinates(line, o, "dropoff_latitude", "dropoff_longitude");

    CHECK(decimals(line, "fare_amount") == 2 && decimals(line, "tip_amount") == 2 &&
          decimals(line, "total_amount") == 2);
    fare = cents(num(o, "fare_amount"));
    tip = cents(num(o, "tip_amount"));
    CHECK(tip >= 0);
    CHECK(cents(num(o, "total_amount")) >= fare + tip);
    if (!((from == 132 || to == 132) && fare == 5200)) { /* JFK's flat fare aside, the meter */
        CHECK(fare >= 250 + cents(2.5 * miles) - 50);
        CHECK(fare <= 250 + cents(2.5 * miles) + cents(0.15 * minutes) + 50);
    }
    cJSON_Delete(o);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Trip lengths skew short, with a tail (airports). */
static void check_distances(struct tally *t)
{
    double sum = 0, median;

    for (unsigned long i = 0; i < t->trips; i++)
        sum += t->distance[i];
    qsort(t->distance, t->trips, sizeof t->distance[0], cmp_double);
    median = t->distance[t->trips / 2];
    printf("trip_distance: median %.2f, mean %.2f, max %.2f mi\n", median, sum / t->trips,
           t->distance[t->trips - 1]);
    CHECK(median >= 1.2 && median <= 2.5);
    CHECK(sum / t->trips >= 2.2 && sum / t->trips <= 3.5);
    CHECK(sum / t->trips > median);
    CHECK(t->distance[t->trips - 1] >= 15);
}

/* NYC's density, the daily curve over the full hours present, and the rate
 * the replay reports at -speedup 720. */
static void check_density(const unsigned long *hour, long long last_dropoff, unsigned long until_line)
{
    int full = (int)(last_dropoff / 3600), low = 0;
    double rate = (double)until_line / STATS_WINDOW_S, sum = 0;

    CHECK(full >= 10);
    for (int h = 0; h < full; h++) {
        printf("  %02dh of day %d: %lu trips, %.0f events/s at -speedup %d\n", h % 24, h / 24 + 1,
               hour[h], hour[h] * (double)SPEEDUP / 3600, SPEEDUP);
        CHECK(hour[h] >= 12000 && hour[h] <= 17000);
        if (h < 24 && hour[h] < hour[low])
            low = h;
        if (h < 10)
            sum += (double)hour[h];
    }
    CHECK(low == 4 || low == 5);
    CHECK(hour[0] > hour[low] + 2000); /* the night tails off */
    printf("mean over the first 10 hours: %.0f events/s; first statistics line: %lu trips until "
           "04:36:21, %.0f events/s (workshop: %.0f)\n",
           sum * SPEEDUP / 3600 / 10, until_line, rate, WORKSHOP_LINE_RATE);
    CHECK(rate >= WORKSHOP_LINE_RATE * 0.95 && rate <= WORKSHOP_LINE_RATE * 1.05);
    if (full >= 24) {
        unsigned long evening = hour[17] > hour[18] ? hour[17] : hour[18];
        CHECK(evening > hour[low] + 3000 && evening >= hour[8] && evening >= hour[12]);
    }
}

/* Walks the NDJSON lines of one object. */
static unsigned long each_line(char *text, size_t len, struct tally *t, int parse)
{
    unsigned long lines = 0;
    char *p = text, *end = text + len;

    CHECK(len > 0 && end[-1] == '\n');
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        CHECK(nl != NULL && nl > p);
        *nl = '\0';
        if (parse) {
            check_trip(t, p);
        } else { /* only the dropoff time, for the bigger dataset */
            static const char key[] = "\"dropoff_datetime\":\"";
            char *d = strstr(p, key);
            long long s;
            CHECK(d != NULL);
            d += sizeof key - 1;
            d[20] = '\0'; /* the closing quote */
            s = parse_time(d);
            CHECK(s >= t->last_dropoff && (size_t)(s / 3600) < sizeof t->hour / sizeof t->hour[0]);
            t->last_dropoff = s;
            t->hour[s / 3600]++;
            t->until_workshop_line += s <= WORKSHOP_LINE_UNTIL;
            t->trips++;
        }
        lines++;
        p = nl + 1;
    }
    return lines;
}

/* The default dataset, made twice in lockstep (identical), checked in full. */
static void test_default_dataset(void)
{
    struct trips_gen *a = trips_gen_new(SEED, WORKSHOP_DEFAULT_TRIPS);
    struct trips_gen *b = trips_gen_new(SEED, WORKSHOP_DEFAULT_TRIPS);
    struct tally t;
    char name_a[64], name_b[64], want[64];
    unsigned char *da, *db;
    size_t la, lb, text_len, compressed = 0, plain = 0;
    int ra, cli = system("command -v lz4 >/dev/null 2>&1") == 0;
    unsigned part = 0;

    memset(&t, 0, sizeof t);
    t.distance = malloc(WORKSHOP_DEFAULT_TRIPS * sizeof *t.distance);
    CHECK(a && b && t.distance);
    if (!cli)
        printf("no lz4 CLI: skipping its decoding\n");
    while ((ra = trips_gen_next(a, name_a, sizeof name_a, &da, &la)) == 1) {
        char *text;
        unsigned long lines;

        CHECK(trips_gen_next(b, name_b, sizeof name_b, &db, &lb) == 1);
        CHECK_STREQ(name_a, name_b);
        CHECK(la == lb && memcmp(da, db, la) == 0);
        snprintf(want, sizeof want, "part-%05u.json.lz4", part++);
        CHECK_STREQ(name_a, want);

        text = lz4_decode(da, la, &text_len);
        if (cli)
            cli_decode_matches(da, la, text, text_len);
        compressed += la;
        plain += text_len;
        lines = each_line(text, text_len, &t, 1);
        CHECK(lines == WORKSHOP_TRIPS_PER_OBJECT || t.trips == WORKSHOP_DEFAULT_TRIPS);
        free(text);
        free(da);
        free(db);
    }
    CHECK(ra == 0);
    CHECK(trips_gen_next(b, name_b, sizeof name_b, &db, &lb) == 0);
    CHECK(trips_gen_next(a, name_a, sizeof name_a, &da, &la) == 0); /* and stays done */
    CHECK(part == (WORKSHOP_DEFAULT_TRIPS + WORKSHOP_TRIPS_PER_OBJECT - 1) / WORKSHOP_TRIPS_PER_OBJECT);
    CHECK(t.trips == WORKSHOP_DEFAULT_TRIPS && t.last_id == WORKSHOP_DEFAULT_TRIPS);
    printf("%u objects, %zu bytes of NDJSON in %zu bytes of LZ4\n", part, plain, compressed);

    CHECK(t.solo > t.trips * 6 / 10);
    CHECK(t.vendor[1] > t.trips / 4 && t.vendor[2] > t.trips / 4);
    CHECK(t.busiest_zones > t.trips / 4); /* Manhattan-heavy */
    check_distances(&t);
    check_density(t.hour, t.last_dropoff, t.until_workshop_line);
    free(t.distance);
    trips_gen_free(a);
    trips_gen_free(b);
}

/* More than a day: the whole daily curve stays in the band. */
static void test_whole_day(void)
{
    struct trips_gen *g = trips_gen_new(SEED + 1, DAY_TRIPS);
    struct tally t;
    char name[64];
    unsigned char *d;
    size_t len, text_len;
    int r;

    memset(&t, 0, sizeof t);
    CHECK(g != NULL);
    while ((r = trips_gen_next(g, name, sizeof name, &d, &len)) == 1) {
        char *text = lz4_decode(d, len, &text_len);
        each_line(text, text_len, &t, 0);
        free(text);
        free(d);
    }
    CHECK(r == 0 && t.trips == DAY_TRIPS);
    CHECK(t.last_dropoff > 24 * 3600);
    check_density(t.hour, t.last_dropoff, t.until_workshop_line);
    trips_gen_free(g);
}

/* First object of a generator, decoded. */
static char *first_object(uint64_t seed, unsigned long trips, unsigned char **raw, size_t *raw_len)
{
    struct trips_gen *g = trips_gen_new(seed, trips);
    char name[64], *text;
    size_t len;

    CHECK(g != NULL);
    CHECK(trips_gen_next(g, name, sizeof name, raw, raw_len) == 1);
    CHECK_STREQ(name, "part-00000.json.lz4");
    text = lz4_decode(*raw, *raw_len, &len);
    trips_gen_free(g);
    return text;
}

static void test_other_seed(void)
{
    unsigned char *a, *b;
    size_t la, lb;
    char *ta = first_object(SEED, 1000, &a, &la), *tb = first_object(SEED + 7, 1000, &b, &lb);

    CHECK(strcmp(ta, tb) != 0);
    CHECK(la != lb || memcmp(a, b, la) != 0);
    /* Still the same start: the first dropoff is midnight, id 1. */
    CHECK(strstr(tb, "\"trip_id\":1,") == tb + strlen("{\"type\":\"trip\",") &&
          strstr(tb, "\"dropoff_datetime\":\"2018-01-01T00:00:00Z\"") != NULL);
    free(ta);
    free(tb);
    free(a);
    free(b);
}

/* Objects for counts around the object size, and the bad arguments. */
static void test_counts(void)
{
    static const unsigned long counts[] = {1, 2, WORKSHOP_TRIPS_PER_OBJECT, WORKSHOP_TRIPS_PER_OBJECT + 1,
                                           3 * WORKSHOP_TRIPS_PER_OBJECT - 1};
    char name[64];
    unsigned char *d;
    size_t len;
    struct trips_gen *g;

    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        struct tally t;
        unsigned long lines = 0;
        int objects = 0, r;

        memset(&t, 0, sizeof t);
        g = trips_gen_new(SEED, counts[i]);
        CHECK(g != NULL);
        while ((r = trips_gen_next(g, name, sizeof name, &d, &len)) == 1) {
            size_t text_len;
            char *text = lz4_decode(d, len, &text_len);
            lines += each_line(text, text_len, &t, 0);
            objects++;
            free(text);
            free(d);
        }
        CHECK(r == 0 && lines == counts[i]);
        CHECK(objects == (int)((counts[i] + WORKSHOP_TRIPS_PER_OBJECT - 1) / WORKSHOP_TRIPS_PER_OBJECT));
        trips_gen_free(g);
    }

    CHECK(trips_gen_new(SEED, 0) == NULL);
    CHECK(trips_gen_new(SEED, WORKSHOP_MAX_TRIPS + 1UL) == NULL);
    g = trips_gen_new(SEED, 10);
    CHECK(g != NULL);
    CHECK(trips_gen_next(g, name, strlen("part-00000.json.lz4"), &d, &len) == -1); /* no room for NUL */
    trips_gen_free(g);
    trips_gen_free(NULL);
}

/* Generating and compressing the default dataset, for the record. */
static void print_speed(void)
{
    struct timespec t0, t1;
    struct trips_gen *g;
    char name[64];
    unsigned char *d;
    size_t len;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    g = trips_gen_new(SEED, WORKSHOP_DEFAULT_TRIPS);
    CHECK(g != NULL);
    while (trips_gen_next(g, name, sizeof name, &d, &len) == 1)
        free(d);
    trips_gen_free(g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%d trips generated and compressed in %.0f ms\n", WORKSHOP_DEFAULT_TRIPS,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int main(void)
{
    test_default_dataset();
    test_whole_day();
    test_other_seed();
    test_counts();
    print_speed();
    return 0;
}
