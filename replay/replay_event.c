/* Events of `tidepool replay` and the Java behaviours they reproduce: the
 * payload is the line with "\n" appended (Event), the partition key is
 * Objects.hash(payload) in decimal, the timestamp is Instant.parse of the
 * attribute, and times print as Instant and Duration do. */
#include "replay/replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What one Kinesis record holds, data and partition key together. */
#define MAX_RECORD (1024 * 1024)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact for any year, unlike mktime with a time zone. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *s, int width, int *out)
{
    *out = 0;
    for (int i = 0; i < width; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *out = *out * 10 + (s[i] - '0');
    }
    return 0;
}

int replay_parse_instant(const char *s, size_t n, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, frac = 0;
    size_t i = 19;

    /* yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z, T and Z in either case as ISO_INSTANT parses */
    if (n < 20 || num(s, 4, &y) || s[4] != '-' || num(s + 5, 2, &mo) || s[7] != '-' || num(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || num(s + 11, 2, &h) || s[13] != ':' || num(s + 14, 2, &mi) ||
        s[16] != ':' || num(s + 17, 2, &se))
        return -1;
    if (s[i] == '.') {
        size_t start = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 3)
                frac = frac * 10 + (s[i] - '0');
        if (i == start || i - start > 9)
            return -1;
        for (size_t k = i - start; k < 3; k++)
            frac *= 10;
    }
    if (i + 1 != n || (s[i] != 'Z' && s[i] != 'z'))
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 59)
        return -1;
    *ms = (((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60 + se) * 1000 + frac;
    return 0;
}

void replay_format_instant(int64_t ms, int fixed3, char out[32])
{
    int64_t sec = ms / 1000, frac = ms % 1000;
    struct tm tm;

    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (fixed3 || frac)
        snprintf(out + n, 32 - n, ".%03" PRId64 "Z", frac);
    else
        snprintf(out + n, 32 - n, "Z");
}

void replay_format_duration(int64_t s, char out[32])
{
    int64_t h = s / 3600, m = s % 3600 / 60, sec = s % 60; /* truncated, as Java divides */
    int n = snprintf(out, 32, "PT");

    if (s == 0) {
        snprintf(out + n, 32 - (size_t)n, "0S");
        return;
    }
    if (h)
        n += snprintf(out + n, 32 - (size_t)n, "%" PRId64 "H", h);
    if (m)
        n += snprintf(out + n, 32 - (size_t)n, "%" PRId64 "M", m);
    if (sec)
        snprintf(out + n, 32 - (size_t)n, "%" PRId64 "S", sec);
}

/* One code point of UTF-8 at s (n > 0 bytes left); *len gets its length.
 * Malformed bytes decode one at a time to U+FFFD, as Java's decoder
 * replaces them. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t want;
    uint32_t cp;

    *len = 1;
    if (s[0] < 0x80)
        return s[0];
    if ((s[0] & 0xE0) == 0xC0) {
        want = 2;
        cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        want = 3;
        cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        want = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0xFFFD;
    }
    if (want > n)
        return 0xFFFD;
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min[want] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0xFFFD;
    *len = want;
    return cp;
}

int32_t replay_java_hash(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 0; /* Java's int arithmetic wraps, as uint32_t does */

    for (size_t i = 0, len; i < n; i += len) {
        uint32_t cp = utf8_next(p + i, n - i, &len);
        if (cp >= 0x10000) { /* a surrogate pair in UTF-16 */
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

struct replay_event *replay_event_parse(const char *line, size_t n, const char *ts_attr, uint64_t seq,
                                        const char **why)
{
    cJSON *doc = cJSON_ParseWithLength(line, n);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, ts_attr);
    struct replay_event *e = NULL;
    int64_t ms = 0;

    if (!cJSON_IsObject(doc))
        *why = "not a JSON object";
    else if (!ts)
        *why = "no timestamp attribute";
    else if (!cJSON_IsString(ts) || replay_parse_instant(ts->valuestring, strlen(ts->valuestring), &ms))
        *why = "the timestamp is not an ISO-8601 instant";
    else if (n + 1 + 11 > MAX_RECORD)
        *why = "larger than a Kinesis record";
    else if (!(e = malloc(sizeof *e + n + 1)))
        *why = "out of memory";
    if (e) {
        memset(e, 0, sizeof *e);
        e->ts_ms = ms;
        e->seq = seq;
        memcpy(e->data, line, n);
        e->data[n] = '\n';
        e->len = n + 1;
        /* Objects.hash(payload) = 31 * 1 + payload.hashCode() */
        snprintf(e->pk, sizeof e->pk, "%" PRId32, (int32_t)(31u + (uint32_t)replay_java_hash(e->data, e->len)));
    }
    cJSON_Delete(doc);
    return e;
}
