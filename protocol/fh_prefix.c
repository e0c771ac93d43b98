/* Firehose S3 object keys (see fh_prefix.h). One evaluator serves both
 * callers: validation evaluates the templates at a reference instant and turns
 * the first fault into AWS's message, delivery evaluates them at the object's
 * instant. Rules: AWS's "Custom prefixes for Amazon S3 objects"; the
 * timestamp patterns follow java.time.format.DateTimeFormatter.ofPattern in
 * an English locale, which is what the service evaluates them with. */
#include "protocol/fh_prefix.h"
#include "protocol/uuid.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_OUTPUT_TYPE "!{firehose:error-output-type}"
/* What Firehose appends to a Prefix without a timestamp expression, and the
 * time part of the key of failed records when there is no ErrorOutputPrefix. */
#define DEFAULT_TIME_PATTERN "yyyy/MM/dd/HH/"
#define RANDOM_LEN 11
/* Room for evaluating a 1024-char template; what overflows it is too long anyway. */
#define EVAL_CAP 2048
/* 9999-12-31T23:59:59.999Z: past it Java prints a sign before the year. */
#define INSTANT_MAX_MS 253402300799999ULL
/* Validation evaluates at a Wednesday in September (the longest English day
 * and month names) with the longest error type an S3 destination writes, so
 * a template that passes stays within 512 characters when delivering. */
#define REF_INSTANT_MS 1790809199999ULL
#define REF_ERROR_TYPE "format-conversion-failed"
/* How the service introduces a broken prefix rule (until about 2020 it
 * spelled it "Ths"). */
#define CONSTRAINT "The supplied prefix(es) do not satisfy the following constraint: "
/* For an unknown zone and for 3-letter ones alike ("EST"). */
#define TZ_UNSUPPORTED "Provided custom time zone is not supported. Custom time zones are " \
                       "limited to UTC and non-3-letter IANA time zones."

struct when {
    struct tm tm;      /* in the configured zone */
    unsigned ms;
    long gmtoff;       /* seconds east of UTC */
    long long local_s; /* epoch seconds shifted by gmtoff: local days and time of day */
    char abbr[16];     /* "EDT", "UTC" */
    const char *zone;  /* the zone id as configured, "UTC" by default */
};

/* A bounded output: what does not fit is dropped and noted in full. */
struct out {
    char *p;
    size_t len, cap;
    int full;
};

enum fault_kind {
    F_NONE,
    F_SYNTAX,      /* "!{" that does not open an expression */
    F_NAMESPACE,   /* unknown namespace */
    F_VALUE,       /* a value or pattern AWS rejects */
    F_UNSUPPORTED, /* a pattern AWS takes that is not evaluated here */
    F_PARTITION,   /* a dynamic partitioning key outside validation */
};

struct fault {
    enum fault_kind kind;
    const char *what; /* the namespace, or the pattern letters */
    size_t what_len;
};

/* What a template holds, for the rules that relate Prefix and ErrorOutputPrefix. */
struct facts {
    int exprs, timestamp, error_type, partition;
};

struct ctx {
    const struct when *w;
    const char *error_type;    /* NULL: !{firehose:error-output-type} is empty */
    int partition_placeholder; /* validation: a partition key counts as one character */
};

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

static int is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void put(struct out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len) {
        n = o->cap - o->len;
        o->full = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Decimal, zero-padded to width digits. */
static void put_num(struct out *o, unsigned long long v, int width)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%0*llu", width, v);

    put(o, buf, (size_t)n);
}

/* English text styles by letter count: short (1-3), full (4), narrow (5). */
static void put_text(struct out *o, const char *full, int n)
{
    put(o, full, n == 4 ? strlen(full) : n == 5 ? 1 : 3);
}

static void put_hex_random(struct out *o, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    char s[16];

    gnutls_rnd(GNUTLS_RND_NONCE, b, n);
    for (size_t i = 0; i < n; i++)
        s[i] = hex[b[i] & 15];
    put(o, s, n);
}

/* A random (version 4) UUID, lower case. */
static void put_uuid(struct out *o)
{
    char s[UUID_LEN + 1];
    uuid_v4(s);
    put(o, s, UUID_LEN);
}

/* Java's ISO offset styles (+HHmm ... +HH:MM:ss): minutes optional when zero
 * or always, seconds never or when non-zero; a zero offset prints zero_text. */
struct offset_style {
    int colon, minutes_always, seconds;
};
static const struct offset_style offset_styles[5] = {
    {0, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0, 1, 1}, {1, 1, 1},
};

static void put_offset(struct out *o, long off, const struct offset_style *st, const char *zero_text)
{
    long a = off < 0 ? -off : off;
    long m = a / 60 % 60, s = a % 60;

    if (off == 0) {
        put_str(o, zero_text);
        return;
    }
    put(o, off < 0 ? "-" : "+", 1);
    put_num(o, (unsigned long long)(a / 3600), 2);
    if (st->minutes_always || m) {
        if (st->colon)
            put(o, ":", 1);
        put_num(o, (unsigned long long)m, 2);
    }
    if (st->seconds && s) {
        if (st->colon)
            put(o, ":", 1);
        put_num(o, (unsigned long long)s, 2);
    }
}

/* Java's localized offsets: "GMT-5", "GMT+5:30" (short), "GMT-05:00" (full). */
static void put_gmt(struct out *o, long off, int full)
{
    long a = off < 0 ? -off : off;
    long m = a / 60 % 60, s = a % 60;

    put_str(o, "GMT");
    if (off == 0)
        return;
    put(o, off < 0 ? "-" : "+", 1);
    put_num(o, (unsigned long long)(a / 3600), full ? 2 : 1);
    if (full || m || s) {
        put(o, ":", 1);
        put_num(o, (unsigned long long)m, 2);
    }
    if (s) {
        put(o, ":", 1);
        put_num(o, (unsigned long long)s, 2);
    }
}

/* Fields that take one or two letters: a plain or two-digit number. */
static enum fault_kind num12(struct out *o, int n, int v)
{
    if (n > 2)
        return F_VALUE;
    put_num(o, (unsigned long long)v, n);
    return F_NONE;
}

/* One run of n copies of pattern letter c. The letters AWS rejects were
 * measured over all 52 (C I J P R T U V b f i j l o p r t); so were the
 * counts Java refuses ("HHH"). */
static enum fault_kind field(char c, int n, const struct when *w, struct out *o)
{
    const struct tm *t = &w->tm;
    int year = t->tm_year + 1900, hour = t->tm_hour;
    long long day = (w->local_s + 86400) / 86400 - 1; /* floor: local_s > -86400 */
    unsigned long long ms_of_day = (unsigned long long)(w->local_s - day * 86400) * 1000 + w->ms;
    char frac[24];

    switch (c) {
    case 'G':
        if (n > 5)
            return F_VALUE;
        put_str(o, n == 4 ? "Anno Domini" : n == 5 ? "A" : "AD");
        return F_NONE;
    case 'y':
    case 'u':
        if (n > 19)
            return F_VALUE;
        put_num(o, (unsigned long long)(n == 2 ? year % 100 : year), n);
        return F_NONE;
    case 'Q':
    case 'q':
        if (n > 5)
            return F_VALUE;
        if (n == 3)
            put(o, "Q", 1);
        if (n == 4)
            put_str(o, quarter_names[t->tm_mon / 3]);
        else
            put_num(o, (unsigned long long)(t->tm_mon / 3 + 1), n == 2 ? 2 : 1);
        return F_NONE;
    case 'M':
    case 'L':
        if (n > 5)
            return F_VALUE;
        if (n <= 2)
            put_num(o, (unsigned long long)(t->tm_mon + 1), n);
        else
            put_text(o, month_names[t->tm_mon], n);
        return F_NONE;
    case 'd': return num12(o, n, t->tm_mday);
    case 'H': return num12(o, n, hour);
    case 'h': return num12(o, n, hour % 12 ? hour % 12 : 12);
    case 'K': return num12(o, n, hour % 12);
    case 'k': return num12(o, n, hour ? hour : 24);
    case 'm': return num12(o, n, t->tm_min);
    case 's': return num12(o, n, t->tm_sec);
    case 'D':
        if (n > 3)
            return F_VALUE;
        put_num(o, (unsigned long long)(t->tm_yday + 1), n);
        return F_NONE;
    case 'E':
        if (n > 5)
            return F_VALUE;
        put_text(o, day_names[t->tm_wday], n);
        return F_NONE;
    case 'a':
        if (n > 1)
            return F_VALUE;
        put_str(o, hour < 12 ? "AM" : "PM");
        return F_NONE;
    case 'S': /* the first n digits of the fraction of the second */
        if (n > 9)
            return F_VALUE;
        snprintf(frac, sizeof frac, "%03u000000", w->ms);
        put(o, frac, (size_t)n);
        return F_NONE;
    case 'A':
    case 'n':
    case 'N':
    case 'g':
        if (n > 19)
            return F_VALUE;
        put_num(o, c == 'A' ? ms_of_day
                   : c == 'n' ? w->ms * 1000000ULL
                   : c == 'N' ? ms_of_day * 1000000ULL
                   : (unsigned long long)(day + 40587), /* modified Julian day */
                n);
        return F_NONE;
    case 'V':
        if (n != 2)
            return F_VALUE;
        put_str(o, w->zone);
        return F_NONE;
    case 'z':
        if (n == 4) /* full zone names need CLDR's tables */
            return F_UNSUPPORTED;
        if (n > 4)
            return F_VALUE;
        put_str(o, w->abbr);
        return F_NONE;
    case 'O':
        if (n != 1 && n != 4)
            return F_VALUE;
        put_gmt(o, w->gmtoff, n == 4);
        return F_NONE;
    case 'X':
    case 'x': {
        static const char *const x_zero[5] = {"+00", "+0000", "+00:00", "+0000", "+00:00"};
        if (n > 5)
            return F_VALUE;
        put_offset(o, w->gmtoff, &offset_styles[n - 1], c == 'X' ? "Z" : x_zero[n - 1]);
        return F_NONE;
    }
    case 'Z':
        if (n > 5)
            return F_VALUE;
        if (n == 4)
            put_gmt(o, w->gmtoff, 1);
        else
            put_offset(o, w->gmtoff, &offset_styles[n == 5 ? 4 : 1], n == 5 ? "Z" : "+0000");
        return F_NONE;
    /* Week-based and localized fields depend on the service's locale data. */
    case 'B':
    case 'F':
    case 'W':
    case 'Y':
    case 'c':
    case 'e':
    case 'v':
    case 'w':
        return F_UNSUPPORTED;
    default:
        return F_VALUE;
    }
}

static void set_fault(struct fault *f, enum fault_kind kind, const char *what, size_t len)
{
    f->kind = kind;
    f->what = what;
    f->what_len = len;
}

/* Prints pat[0..len) as DateTimeFormatter.ofPattern would: letter runs are
 * fields, 'quoted' text is literal ('' is a quote), [ ] mark optional parts
 * (always printed when formatting), # { } are reserved, the rest is copied. */
static void ts_format(const char *pat, size_t len, const struct when *w, struct out *o,
                      struct fault *f)
{
    int optional = 0;

    for (size_t i = 0; i < len;) {
        char c = pat[i];

        if (is_letter(c)) {
            size_t j = i;
            while (j < len && pat[j] == c)
                j++;
            enum fault_kind k = field(c, (int)(j - i), w, o);
            if (k != F_NONE) {
                set_fault(f, k, pat + i, j - i);
                return;
            }
            i = j;
        } else if (c == '\'') {
            size_t j = i + 1;
            for (;; j++) { /* to the first quote that is not doubled */
                if (j >= len) {
                    set_fault(f, F_VALUE, pat + i, 1);
                    return;
                }
                if (pat[j] == '\'') {
                    if (j + 1 < len && pat[j + 1] == '\'')
                        j++;
                    else
                        break;
                }
            }
            if (j == i + 1)
                put(o, "'", 1);
            for (size_t k = i + 1; k < j; k++) {
                put(o, pat + k, 1);
                if (pat[k] == '\'')
                    k++;
            }
            i = j + 1;
        } else if (c == '#' || c == '{' || c == '}' || (c == ']' && optional == 0)) {
            set_fault(f, F_VALUE, pat + i, 1);
            return;
        } else {
            if (c == '[')
                optional++;
            else if (c == ']')
                optional--;
            else
                put(o, &c, 1);
            i++;
        }
    }
}

enum ns { NS_TIMESTAMP, NS_FIREHOSE, NS_PARTITION, NS_OTHER };

struct expr {
    enum ns ns;
    const char *name, *val;
    size_t name_len, val_len;
};

static int is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* s starts with "!{". An expression is "!{" letters ":" no braces "}" (the
 * service's grammar); returns its length, or 0 when s does not start one. */
static size_t parse_expr(const char *s, struct expr *e)
{
    size_t i = 2, v;

    while (is_letter(s[i]))
        i++;
    if (i == 2 || s[i] != ':')
        return 0;
    e->name = s + 2;
    e->name_len = i - 2;
    v = ++i;
    while (s[i] && s[i] != '{' && s[i] != '}')
        i++;
    if (s[i] != '}')
        return 0;
    e->val = s + v;
    e->val_len = i - v;
    e->ns = is(e->name, e->name_len, "timestamp")                ? NS_TIMESTAMP
            : is(e->name, e->name_len, "firehose")               ? NS_FIREHOSE
            : is(e->name, e->name_len, "partitionKeyFromQuery")  ? NS_PARTITION
            : is(e->name, e->name_len, "partitionKeyFromLambda") ? NS_PARTITION
                                                                 : NS_OTHER;
    return i + 1;
}

/* Evaluates a template into o, noting what it holds; stops at the first fault. */
static void expand(const char *tmpl, const struct ctx *c, struct out *o, struct facts *fa,
                   struct fault *f)
{
    const char *s = tmpl;

    while (*s && f->kind == F_NONE) {
        struct expr e;
        size_t n;

        if (s[0] != '!' || s[1] != '{') {
            put(o, s++, 1);
            continue;
        }
        n = parse_expr(s, &e);
        if (n == 0) {
            set_fault(f, F_SYNTAX, s, 2);
            return;
        }
        fa->exprs = 1;
        switch (e.ns) {
        case NS_TIMESTAMP:
            fa->timestamp = 1;
            ts_format(e.val, e.val_len, c->w, o, f);
            break;
        case NS_FIREHOSE:
            if (is(e.val, e.val_len, "random-string")) {
                put_hex_random(o, RANDOM_LEN);
            } else if (is(e.val, e.val_len, "error-output-type")) {
                fa->error_type = 1;
                if (c->error_type)
                    put_str(o, c->error_type);
            } else {
                set_fault(f, F_VALUE, e.val, e.val_len);
            }
            break;
        case NS_PARTITION:
            fa->partition = 1;
            if (c->partition_placeholder && e.val_len > 0)
                put(o, "x", 1);
            else
                set_fault(f, c->partition_placeholder ? F_VALUE : F_PARTITION, e.val, e.val_len);
            break;
        case NS_OTHER:
            set_fault(f, F_NAMESPACE, e.name, e.name_len);
            break;
        }
        s += n;
    }
}

static void put_default_time(const struct ctx *c, struct out *o, struct fault *f)
{
    ts_format(DEFAULT_TIME_PATTERN, strlen(DEFAULT_TIME_PATTERN), c->w, o, f);
}

/* The prefix of delivered data: Firehose appends !{timestamp:yyyy/MM/dd/HH/}
 * to a Prefix without a timestamp expression, by plain concatenation. */
static void eval_data_prefix(const char *prefix, const struct ctx *c, struct out *o,
                             struct facts *fa, struct fault *f)
{
    expand(prefix, c, o, fa, f);
    if (f->kind == F_NONE && !fa->timestamp)
        put_default_time(c, o, f);
}

/* The prefix of failed records: ErrorOutputPrefix as written (nothing is
 * appended), or without one `<Prefix><error-output-type>/yyyy/MM/dd/HH/`. */
static void eval_error_prefix(const char *prefix, const char *error_prefix, const struct ctx *c,
                              struct out *o, struct facts *fa, struct fault *f)
{
    if (*error_prefix) {
        expand(error_prefix, c, o, fa, f);
        return;
    }
    expand(prefix, c, o, fa, f);
    if (f->kind != F_NONE)
        return;
    put_str(o, c->error_type);
    put(o, "/", 1);
    put_default_time(c, o, f);
}

static int is_utc(const char *zone)
{
    return !zone || !*zone || strcmp(zone, "UTC") == 0;
}

/* glibc converts to a zone only through TZ; the lock keeps one conversion at
 * a time, and TZ stays as last set (glibc rereads the zone file only when TZ
 * changes). */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_current[64];

/* The instant in zone. -1 past the year 9999 or when it cannot be converted. */
static int when_at(uint64_t ms, const char *zone, struct when *w)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm *ok;

    if (ms > INSTANT_MAX_MS)
        return -1;
    w->ms = (unsigned)(ms % 1000);
    if (is_utc(zone)) {
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
static int zone_exists(const char *zone)
{
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    FILE *fp;
    size_t n;

    for (const char *p = zone; *p; p++)
        if (!is_letter(*p) && *p != '_' && *p != '/')
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

__attribute__((format(printf, 3, 4)))
static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (msg && len) {
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* AWS's message for a fault in the template value of field field_name. */
static int fault_msg(const struct fault *f, const char *field_name, const char *value, char *msg,
                     size_t len)
{
    switch (f->kind) {
    case F_SYNTAX: /* sic: no space after the period */
        return fail(msg, len, CONSTRAINT "Invalid expression usage: %s.Must be of the form "
                    "!{<namespace>:<value>}", value);
    case F_NAMESPACE:
        return fail(msg, len, CONSTRAINT "Namespace to the left of colon (%.*s) is an invalid "
                    "keyword!", (int)f->what_len, f->what);
    case F_UNSUPPORTED:
        return fail(msg, len, "tidepool does not support the timestamp pattern '%.*s' (in %s)",
                    (int)f->what_len, f->what, field_name);
    default:
        return fail(msg, len, CONSTRAINT "Invalid conversion character used in the value of the "
                    "expression in %s", field_name);
    }
}

int fh_prefix_validate(const char *prefix, const char *error_prefix, int dynamic_partitioning,
                       const char *time_zone, char *msg, size_t msglen)
{
    const char *p = prefix ? prefix : "", *e = error_prefix ? error_prefix : "";
    char pbuf[EVAL_CAP], ebuf[EVAL_CAP];
    struct out po = {pbuf, 0, sizeof pbuf, 0}, eo = {ebuf, 0, sizeof ebuf, 0};
    struct facts pf = {0}, ef = {0};
    struct fault f = {0};
    struct when w;
    struct ctx c = {&w, REF_ERROR_TYPE, 1};

    if (!is_utc(time_zone) && (strlen(time_zone) == 3 || !zone_exists(time_zone)))
        return fail(msg, msglen, TZ_UNSUPPORTED);
    if (when_at(REF_INSTANT_MS, time_zone, &w) != 0)
        return fail(msg, msglen, TZ_UNSUPPORTED);

    eval_data_prefix(p, &c, &po, &pf, &f);
    if (f.kind != F_NONE)
        return fault_msg(&f, "Prefix", p, msg, msglen);
    expand(e, &c, &eo, &ef, &f);
    if (f.kind != F_NONE)
        return fault_msg(&f, "ErrorOutputPrefix", e, msg, msglen);

    if (pf.error_type)
        return fail(msg, msglen, CONSTRAINT "Prefix must not contain any occurrence of "
                    ERROR_OUTPUT_TYPE);
    if (pf.partition && !dynamic_partitioning)
        return fail(msg, msglen, "Dynamic Partitioning Namespaces can only be part of a prefix "
                    "expression when Dynamic Partitioning is enabled.");
    if (ef.partition)
        return fail(msg, msglen, "Dynamic Partitioning Namespaces can't be part of an error "
                    "prefix expression");
    if (dynamic_partitioning && !pf.partition)
        return fail(msg, msglen, "S3 Prefix should contain Dynamic Partitioning namespaces when "
                    "Dynamic Partitioning is enabled");
    if (pf.exprs && !*e)
        return fail(msg, msglen, CONSTRAINT "ErrorOutputPrefix cannot be null or empty when "
                    "Prefix contains expressions");
    if (ef.exprs && !ef.error_type)
        return fail(msg, msglen, CONSTRAINT "ErrorOutputPrefix must contain at least one "
                    "occurrence of " ERROR_OUTPUT_TYPE);
    if (po.full || po.len > FH_PREFIX_EVAL_MAX)
        return fail(msg, msglen, CONSTRAINT "Length of evaluated prefix cannot be greater than %d",
                    FH_PREFIX_EVAL_MAX);
    if (eo.full || eo.len > FH_PREFIX_EVAL_MAX)
        return fail(msg, msglen, CONSTRAINT "Length of evaluated ErrorOutputPrefix cannot be "
                    "greater than %d", FH_PREFIX_EVAL_MAX);
    return 0;
}

int fh_object_key(const char *prefix, const char *error_prefix, const char *error_type,
                  const char *stream_name, unsigned version, uint64_t instant_ms,
                  const char *time_zone, const char *ext, char *out, size_t outlen)
{
    struct when w;
    struct ctx c = {&w, error_type, 0};
    struct out o = {out, 0, outlen ? outlen - 1 : 0, 0};
    struct facts fa = {0};
    struct fault f = {0};
    const struct tm *t = &w.tm;

    if (outlen == 0 || !stream_name || when_at(instant_ms, time_zone, &w) != 0)
        return -1;
    if (error_type)
        eval_error_prefix(prefix ? prefix : "", error_prefix ? error_prefix : "", &c, &o, &fa, &f);
    else
        eval_data_prefix(prefix ? prefix : "", &c, &o, &fa, &f);
    if (f.kind != F_NONE || o.full || o.len > FH_PREFIX_EVAL_MAX)
        return -1;

    /* <stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><ext>, same instant and zone */
    put_str(&o, stream_name);
    put(&o, "-", 1);
    put_num(&o, version, 1);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)(t->tm_year + 1900), 4);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)(t->tm_mon + 1), 2);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)t->tm_mday, 2);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)t->tm_hour, 2);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)t->tm_min, 2);
    put(&o, "-", 1);
    put_num(&o, (unsigned long long)t->tm_sec, 2);
    put(&o, "-", 1);
    put_uuid(&o);
    if (ext)
        put_str(&o, ext);
    if (o.full)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}
