/* Java's DateTimeFormatter, for the patterns Firehose takes in
 * !{timestamp:…}: letter runs are fields (English names, Java's offset
 * styles), 'quoted' text is literal, [ ] optional parts are always printed.
 * Time zones come from the IANA database through glibc (see java_time.h). */
#include "protocol/java_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const month_names[12] = {
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
};
static const char *const day_names[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char *const quarter_names[4] = {
    "1st quarter", "2nd quarter", "3rd quarter", "4th quarter",
};

int jt_is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

void jt_put(struct jt_out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len) {
        n = o->cap - o->len;
        o->full = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

void jt_put_str(struct jt_out *o, const char *s)
{
    jt_put(o, s, strlen(s));
}

/* Decimal, zero-padded to width digits. */
void jt_put_num(struct jt_out *o, unsigned long long v, int width)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%0*llu", width, v);

    jt_put(o, buf, (size_t)n);
}

/* English text styles by letter count: short (1-3), full (4), narrow (5). */
static void put_text(struct jt_out *o, const char *full, int n)
{
    jt_put(o, full, n == 4 ? strlen(full) : n == 5 ? 1 : 3);
}

/* Java's ISO offset styles (+HHmm ... +HH:MM:ss): minutes optional when zero
 * or always, seconds never or when non-zero; a zero offset prints zero_text. */
struct offset_style {
    int colon, minutes_always, seconds;
};
static const struct offset_style offset_styles[5] = {
    {0, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0, 1, 1}, {1, 1, 1},
};

static void put_offset(struct jt_out *o, long off, const struct offset_style *st, const char *zero_text)
{
    long a = off < 0 ? -off : off;
    long m = a / 60 % 60, s = a % 60;

    if (off == 0) {
        jt_put_str(o, zero_text);
        return;
    }
    jt_put(o, off < 0 ? "-" : "+", 1);
    jt_put_num(o, (unsigned long long)(a / 3600), 2);
    if (st->minutes_always || m) {
        if (st->colon)
            jt_put(o, ":", 1);
        jt_put_num(o, (unsigned long long)m, 2);
    }
    if (st->seconds && s) {
        if (st->colon)
            jt_put(o, ":", 1);
        jt_put_num(o, (unsigned long long)s, 2);
    }
}

/* Java's localized offsets: "GMT-5", "GMT+5:30" (short), "GMT-05:00" (full). */
static void put_gmt(struct jt_out *o, long off, int full)
{
    long a = off < 0 ? -off : off;
    long m = a / 60 % 60, s = a % 60;

    jt_put_str(o, "GMT");
    if (off == 0)
        return;
    jt_put(o, off < 0 ? "-" : "+", 1);
    jt_put_num(o, (unsigned long long)(a / 3600), full ? 2 : 1);
    if (full || m || s) {
        jt_put(o, ":", 1);
        jt_put_num(o, (unsigned long long)m, 2);
    }
    if (s) {
        jt_put(o, ":", 1);
        jt_put_num(o, (unsigned long long)s, 2);
    }
}

/* Fields that take one or two letters: a plain or two-digit number. */
static enum jt_result num12(struct jt_out *o, int n, int v)
{
    if (n > 2)
        return JT_INVALID;
    jt_put_num(o, (unsigned long long)v, n);
    return JT_OK;
}

/* One run of n copies of pattern letter c. The letters AWS rejects were
 * measured over all 52 (C I J P R T U V b f i j l o p r t); so were the
 * counts Java refuses ("HHH"). */
static enum jt_result field(char c, int n, const struct jt_when *w, struct jt_out *o)
{
    const struct tm *t = &w->tm;
    int year = t->tm_year + 1900, hour = t->tm_hour;
    long long day = (w->local_s + 86400) / 86400 - 1; /* floor: local_s > -86400 */
    unsigned long long ms_of_day = (unsigned long long)(w->local_s - day * 86400) * 1000 + w->ms;
    char frac[24];

    switch (c) {
    case 'G':
        if (n > 5)
            return JT_INVALID;
        jt_put_str(o, n == 4 ? "Anno Domini" : n == 5 ? "A" : "AD");
        return JT_OK;
    case 'y':
    case 'u':
        if (n > 19)
            return JT_INVALID;
        jt_put_num(o, (unsigned long long)(n == 2 ? year % 100 : year), n);
        return JT_OK;
    case 'Q':
    case 'q':
        if (n > 5)
            return JT_INVALID;
        if (n == 3)
            jt_put(o, "Q", 1);
        if (n == 4)
            jt_put_str(o, quarter_names[t->tm_mon / 3]);
        else
            jt_put_num(o, (unsigned long long)(t->tm_mon / 3 + 1), n == 2 ? 2 : 1);
        return JT_OK;
    case 'M':
    case 'L':
        if (n > 5)
            return JT_INVALID;
        if (n <= 2)
            jt_put_num(o, (unsigned long long)(t->tm_mon + 1), n);
        else
            put_text(o, month_names[t->tm_mon], n);
        return JT_OK;
    case 'd': return num12(o, n, t->tm_mday);
    case 'H': return num12(o, n, hour);
    case 'h': return num12(o, n, hour % 12 ? hour % 12 : 12);
    case 'K': return num12(o, n, hour % 12);
    case 'k': return num12(o, n, hour ? hour : 24);
    case 'm': return num12(o, n, t->tm_min);
    case 's': return num12(o, n, t->tm_sec);
    case 'D':
        if (n > 3)
            return JT_INVALID;
        jt_put_num(o, (unsigned long long)(t->tm_yday + 1), n);
        return JT_OK;
    case 'E':
        if (n > 5)
            return JT_INVALID;
        put_text(o, day_names[t->tm_wday], n);
        return JT_OK;
    case 'a':
        if (n > 1)
            return JT_INVALID;
        jt_put_str(o, hour < 12 ? "AM" : "PM");
        return JT_OK;
    case 'S': /* the first n digits of the fraction of the second */
        if (n > 9)
            return JT_INVALID;
        snprintf(frac, sizeof frac, "%03u000000", w->ms);
        jt_put(o, frac, (size_t)n);
        return JT_OK;
    case 'A':
    case 'n':
    case 'N':
    case 'g':
        if (n > 19)
            return JT_INVALID;
        jt_put_num(o, c == 'A' ? ms_of_day
                   : c == 'n' ? w->ms * 1000000ULL
                   : c == 'N' ? ms_of_day * 1000000ULL
                   : (unsigned long long)(day + 40587), /* modified Julian day */
                n);
        return JT_OK;
    case 'V':
        if (n != 2)
            return JT_INVALID;
        jt_put_str(o, w->zone);
        return JT_OK;
    case 'z':
        if (n == 4) /* full zone names need CLDR's tables */
            return JT_UNSUPPORTED;
        if (n > 4)
            return JT_INVALID;
        jt_put_str(o, w->abbr);
        return JT_OK;
    case 'O':
        if (n != 1 && n != 4)
            return JT_INVALID;
        put_gmt(o, w->gmtoff, n == 4);
        return JT_OK;
    case 'X':
    case 'x': {
        static const char *const x_zero[5] = {"+00", "+0000", "+00:00", "+0000", "+00:00"};
        if (n > 5)
            return JT_INVALID;
        put_offset(o, w->gmtoff, &offset_styles[n - 1], c == 'X' ? "Z" : x_zero[n - 1]);
        return JT_OK;
    }
    case 'Z':
        if (n > 5)
            return JT_INVALID;
        if (n == 4)
            put_gmt(o, w->gmtoff, 1);
        else
            put_offset(o, w->gmtoff, &offset_styles[n == 5 ? 4 : 1], n == 5 ? "Z" : "+0000");
        return JT_OK;
    /* Week-based and localized fields depend on the service's locale data. */
    case 'B':
    case 'F':
    case 'W':
    case 'Y':
    case 'c':
    case 'e':
    case 'v':
    case 'w':
        return JT_UNSUPPORTED;
    default:
        return JT_INVALID;
    }
}

/* Prints pat[0..len) as DateTimeFormatter.ofPattern would: letter runs are
 * fields, 'quoted' text is literal ('' is a quote), [ ] mark optional parts
 * (always printed when formatting), # { } are reserved, the rest is copied. */
enum jt_result jt_format(const char *pat, size_t len, const struct jt_when *w, struct jt_out *o,
                         const char **bad, size_t *bad_len)
{
    int optional = 0;

    for (size_t i = 0; i < len;) {
        char c = pat[i];

        if (jt_is_letter(c)) {
            size_t j = i;
            while (j < len && pat[j] == c)
                j++;
            enum jt_result k = field(c, (int)(j - i), w, o);
            if (k != JT_OK) {
                *bad = pat + i;
                *bad_len = j - i;
                return k;
            }
            i = j;
        } else if (c == '\'') {
            size_t j = i + 1;
            for (;; j++) { /* to the first quote that is not doubled */
                if (j >= len) {
                    *bad = pat + i;
                    *bad_len = 1;
                    return JT_INVALID;
                }
                if (pat[j] == '\'') {
                    if (j + 1 < len && pat[j + 1] == '\'')
                        j++;
                    else
                        break;
                }
            }
            if (j == i + 1)
                jt_put(o, "'", 1);
            for (size_t k = i + 1; k < j; k++) {
                jt_put(o, pat + k, 1);
                if (pat[k] == '\'')
                    k++;
            }
            i = j + 1;
        } else if (c == '#' || c == '{' || c == '}' || (c == ']' && optional == 0)) {
            *bad = pat + i;
            *bad_len = 1;
            return JT_INVALID;
        } else {
            if (c == '[')
                optional++;
            else if (c == ']')
                optional--;
            else
                jt_put(o, &c, 1);
            i++;
        }
    }
    return JT_OK;
}

int jt_is_utc(const char *zone)
{
    return !zone || !*zone || strcmp(zone, "UTC") == 0;
}

/* glibc converts to a zone only through TZ; the lock keeps one conversion at
 * a time, and TZ stays as last set (glibc rereads the zone file only when TZ
 * changes). */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_current[64];

/* The instant in zone. -1 past the year 9999 or when it cannot be converted. */
int jt_when_at(uint64_t ms, const char *zone, struct jt_when *w)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm *ok;

    if (ms > JT_INSTANT_MAX_MS)
        return -1;
    w->ms = (unsigned)(ms % 1000);
    if (jt_is_utc(zone)) {
        if (!gmtime_r(&secs, &w->tm))
            return -1;
        w->gmtoff = 0;
        w->zone = "UTC";
        strcpy(w->abbr, "UTC");
    } else {
        if (strlen(zone) >= sizeof tz_current)
            return -1;
        pthread_mutex_lock(&tz_lock);
        if (strcmp(tz_current, zone) != 0) {
            if (setenv("TZ", zone, 1) != 0) {
                pthread_mutex_unlock(&tz_lock);
                return -1;
            }
            strcpy(tz_current, zone);
        }
        tzset();
        ok = localtime_r(&secs, &w->tm);
        if (ok) /* tm_zone points into glibc's zone state: copy it while that is ours */
            snprintf(w->abbr, sizeof w->abbr, "%s", w->tm.tm_zone ? w->tm.tm_zone : "");
        pthread_mutex_unlock(&tz_lock);
        if (!ok)
            return -1;
        w->gmtoff = w->tm.tm_gmtoff;
        w->zone = zone;
    }
    w->local_s = (long long)secs + w->gmtoff;
    return 0;
}

/* Whether zone names a compiled zone file where glibc will look for it. The
 * shape rules allow only [a-zA-Z/_]; a directory or a data file such as
 * "leapseconds" is not a zone. */
int jt_zone_exists(const char *zone)
{
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    FILE *fp;
    size_t n;

    for (const char *p = zone; *p; p++)
        if (!jt_is_letter(*p) && *p != '_' && *p != '/')
            return 0;
    if (zone[0] == '/')
        return 0;
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (snprintf(path, sizeof path, "%s/%s", dir, zone) >= (int)sizeof path)
        return 0;
    fp = fopen(path, "rb");
    if (!fp)
        return 0;
    n = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    return n == sizeof magic && memcmp(magic, "TZif", sizeof magic) == 0;
}
