/* Java's DateTimeFormatter patterns, as Firehose evaluates !{timestamp:…}
 * in S3 prefixes, and the instant in an IANA time zone they format. See
 * java_time.c. */
#ifndef TP_JAVA_TIME_H
#define TP_JAVA_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 9999-12-31T23:59:59.999Z: past it Java prints a sign before the year. */
#define JT_INSTANT_MAX_MS 253402300799999ULL

/* An instant as a zone sees it. */
struct jt_when {
    struct tm tm;      /* in the configured zone */
    unsigned ms;
    long gmtoff;       /* seconds east of UTC */
    long long local_s; /* epoch seconds shifted by gmtoff: local days and time of day */
    char abbr[16];     /* "EDT", "UTC" */
    const char *zone;  /* the zone id as configured, "UTC" by default */
};

/* A bounded output: what does not fit is dropped and noted in full. */
struct jt_out {
    char *p;
    size_t len, cap;
    int full;
};

enum jt_result {
    JT_OK,
    JT_INVALID,     /* a pattern Java (and AWS) rejects */
    JT_UNSUPPORTED, /* a pattern AWS takes that is not evaluated here */
};

void jt_put(struct jt_out *o, const char *s, size_t n);
void jt_put_str(struct jt_out *o, const char *s);
/* Decimal, zero-padded to width digits. */
void jt_put_num(struct jt_out *o, unsigned long long v, int width);
int jt_is_letter(char c);

/* Formats w with pattern pat[0..len) into o as DateTimeFormatter.ofPattern
 * would; on failure *bad and *bad_len give the offending part. */
enum jt_result jt_format(const char *pat, size_t len, const struct jt_when *w, struct jt_out *o,
                         const char **bad, size_t *bad_len);

/* NULL, "" and "UTC" are UTC. */
int jt_is_utc(const char *zone);
/* The instant ms in zone: 0, or -1 past the year 9999 or when it cannot be
 * converted. Zones other than UTC go through glibc's TZ under a lock and
 * leave it set, so nothing else in the program may use local time; main
 * should put TZ in the environment before it starts threads. */
int jt_when_at(uint64_t ms, const char *zone, struct jt_when *w);
/* Whether zone names a compiled zone file (under $TZDIR or /usr/share/zoneinfo). */
int jt_zone_exists(const char *zone);

#endif
