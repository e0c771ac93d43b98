/* Firehose S3 object keys (see fh_prefix.h). One evaluator serves both
 * callers: validation evaluates the templates at a reference instant and turns
 * the first fault into AWS's message, delivery evaluates them at the object's
 * instant. Rules: AWS's "Custom prefixes for Amazon S3 objects"; the
 * timestamp patterns (protocol/java_time.c) follow
 * java.time.format.DateTimeFormatter.ofPattern in an English locale, which is
 * what the service evaluates them with. */
#include "protocol/fh_prefix.h"
#include "protocol/java_time.h"
#include "protocol/uuid.h"

#include <gnutls/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_OUTPUT_TYPE "!{firehose:error-output-type}"
/* What Firehose appends to a Prefix without a timestamp expression, and the
 * time part of the key of failed records when there is no ErrorOutputPrefix. */
#define DEFAULT_TIME_PATTERN "yyyy/MM/dd/HH/"
#define RANDOM_LEN 11
/* Room for evaluating a 1024-char template; what overflows it is too long anyway. */
#define EVAL_CAP 2048
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
    const struct jt_when *w;
    const char *error_type;    /* NULL: !{firehose:error-output-type} is empty */
    int partition_placeholder; /* validation: a partition key counts as one character */
};

static void put_hex_random(struct jt_out *o, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    char s[16];

    gnutls_rnd(GNUTLS_RND_NONCE, b, n);
    for (size_t i = 0; i < n; i++)
        s[i] = hex[b[i] & 15];
    jt_put(o, s, n);
}

/* A random (version 4) UUID, lower case. */
static void put_uuid(struct jt_out *o)
{
    char s[UUID_LEN + 1];
    uuid_v4(s);
    jt_put(o, s, UUID_LEN);
}

static void set_fault(struct fault *f, enum fault_kind kind, const char *what, size_t len)
{
    f->kind = kind;
    f->what = what;
    f->what_len = len;
}

/* A !{timestamp:…} pattern through java_time; its faults are the template's. */
static void ts_format(const char *pat, size_t len, const struct jt_when *w, struct jt_out *o, struct fault *f)
{
    const char *bad;
    size_t bad_len;
    enum jt_result r = jt_format(pat, len, w, o, &bad, &bad_len);

    if (r != JT_OK)
        set_fault(f, r == JT_UNSUPPORTED ? F_UNSUPPORTED : F_VALUE, bad, bad_len);
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

    while (jt_is_letter(s[i]))
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
static void expand(const char *tmpl, const struct ctx *c, struct jt_out *o, struct facts *fa,
                   struct fault *f)
{
    const char *s = tmpl;

    while (*s && f->kind == F_NONE) {
        struct expr e;
        size_t n;

        if (s[0] != '!' || s[1] != '{') {
            jt_put(o, s++, 1);
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
                    jt_put_str(o, c->error_type);
            } else {
                set_fault(f, F_VALUE, e.val, e.val_len);
            }
            break;
        case NS_PARTITION:
            fa->partition = 1;
            if (c->partition_placeholder && e.val_len > 0)
                jt_put(o, "x", 1);
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

static void put_default_time(const struct ctx *c, struct jt_out *o, struct fault *f)
{
    ts_format(DEFAULT_TIME_PATTERN, strlen(DEFAULT_TIME_PATTERN), c->w, o, f);
}

/* The prefix of delivered data: Firehose appends !{timestamp:yyyy/MM/dd/HH/}
 * to a Prefix without a timestamp expression, by plain concatenation. */
static void eval_data_prefix(const char *prefix, const struct ctx *c, struct jt_out *o,
                             struct facts *fa, struct fault *f)
{
    expand(prefix, c, o, fa, f);
    if (f->kind == F_NONE && !fa->timestamp)
        put_default_time(c, o, f);
}

/* The prefix of failed records: ErrorOutputPrefix as written (nothing is
 * appended), or without one `<Prefix><error-output-type>/yyyy/MM/dd/HH/`. */
static void eval_error_prefix(const char *prefix, const char *error_prefix, const struct ctx *c,
                              struct jt_out *o, struct facts *fa, struct fault *f)
{
    if (*error_prefix) {
        expand(error_prefix, c, o, fa, f);
        return;
    }
    expand(prefix, c, o, fa, f);
    if (f->kind != F_NONE)
        return;
    jt_put_str(o, c->error_type);
    jt_put(o, "/", 1);
    put_default_time(c, o, f);
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
    struct jt_out po = {pbuf, 0, sizeof pbuf, 0}, eo = {ebuf, 0, sizeof ebuf, 0};
    struct facts pf = {0}, ef = {0};
    struct fault f = {0};
    struct jt_when w;
    struct ctx c = {&w, REF_ERROR_TYPE, 1};

    if (!jt_is_utc(time_zone) && (strlen(time_zone) == 3 || !jt_zone_exists(time_zone)))
        return fail(msg, msglen, TZ_UNSUPPORTED);
    if (jt_when_at(REF_INSTANT_MS, time_zone, &w) != 0)
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
    struct jt_when w;
    struct ctx c = {&w, error_type, 0};
    struct jt_out o = {out, 0, outlen ? outlen - 1 : 0, 0};
    struct facts fa = {0};
    struct fault f = {0};
    const struct tm *t = &w.tm;

    if (outlen == 0 || !stream_name || jt_when_at(instant_ms, time_zone, &w) != 0)
        return -1;
    if (error_type)
        eval_error_prefix(prefix ? prefix : "", error_prefix ? error_prefix : "", &c, &o, &fa, &f);
    else
        eval_data_prefix(prefix ? prefix : "", &c, &o, &fa, &f);
    if (f.kind != F_NONE || o.full || o.len > FH_PREFIX_EVAL_MAX)
        return -1;

    /* <stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><ext>, same instant and zone */
    jt_put_str(&o, stream_name);
    jt_put(&o, "-", 1);
    jt_put_num(&o, version, 1);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)(t->tm_year + 1900), 4);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)(t->tm_mon + 1), 2);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)t->tm_mday, 2);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)t->tm_hour, 2);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)t->tm_min, 2);
    jt_put(&o, "-", 1);
    jt_put_num(&o, (unsigned long long)t->tm_sec, 2);
    jt_put(&o, "-", 1);
    put_uuid(&o);
    if (ext)
        jt_put_str(&o, ext);
    if (o.full)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}
