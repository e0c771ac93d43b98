#define _GNU_SOURCE /* vasprintf, asprintf */
/* The validation engine; see validate.h. Patterns are compiled once, on first
 * use, and kept for the life of the process. */
#include "server/net/validate.h"
#include "protocol/base64.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERRORS 10
#define MAX_PATTERNS 32

struct errs {
    int n;
    char *buf; /* the messages so far, "; "-separated */
    size_t len;
};

/* ---- types (SerializationException) ---- */

/* The type pass's scratch: room for a message, and the request's flags. */
struct tcheck {
    char tmp[512];
    unsigned flags;
};

static const char *type_error(cJSON *v, enum v_type t, struct tcheck *tc)
{
    char *tmp = tc->tmp;
    size_t tmplen = sizeof tc->tmp;
    if (cJSON_IsRaw(v)) /* a CBOR byte string: only a blob may be one */
        return t == VT_BLOB ? NULL : "Unexpected byte string where a value of another type was expected";
    if (t == VT_TIMESTAMP && cJSON_IsNumber(v) && (tc->flags & V_TIMESTAMPS_MS)) {
        /* CBOR carries epoch milliseconds; the tree holds seconds, as JSON's */
        cJSON_SetNumberValue(v, v->valuedouble / 1000.0);
        return NULL;
    }
    int is_list = cJSON_IsArray(v), is_obj = cJSON_IsObject(v);
    int is_num = cJSON_IsNumber(v), is_bool = cJSON_IsBool(v), is_str = cJSON_IsString(v);

    switch (t) {
    case VT_BOOL:
        if (is_num)
            return "class java.math.BigDecimal can not be converted to an Boolean";
        if (is_str) {
            snprintf(tmp, tmplen, "'%s' can not be converted to an Boolean", v->valuestring);
            for (char *p = tmp + 1; *p && *p != '\''; p++)
                *p = (char)toupper((unsigned char)*p);
            return tmp;
        }
        break;
    case VT_INT:
    case VT_LONG:
    case VT_DOUBLE:
        if (is_bool || is_str) {
            snprintf(tmp, tmplen, "class java.lang.%s can not be converted to an %s", is_bool ? "Boolean" : "String",
                     t == VT_INT ? "Integer" : t == VT_LONG ? "Long" : "Double");
            return tmp;
        }
        break;
    case VT_TIMESTAMP:
        if (is_bool)
            return "class java.lang.Boolean can not be converted to a Timestamp";
        if (is_str) {
            char *end;
            strtod(v->valuestring, &end);
            if (end == v->valuestring || *end) {
                snprintf(tmp, tmplen, "'%s' can not be converted to a Timestamp", v->valuestring);
                return tmp;
            }
        }
        break;
    case VT_STRING:
        if (is_bool)
            return "class java.lang.Boolean can not be converted to an String";
        if (is_num)
            return "class java.math.BigDecimal can not be converted to an String";
        break;
    case VT_BLOB:
        if (is_bool)
            return "class java.lang.Boolean can not be converted to a Blob";
        if (is_num)
            return "class java.math.BigDecimal can not be converted to a Blob";
        if (is_str) {
            /* decoded here, once: the item becomes a cJSON_Raw holding the
             * bytes, with their count in valueint (see v_blob) */
            size_t n = strlen(v->valuestring), len = 0;
            char bad = 0;
            unsigned char *bytes = NULL;
            enum base64_status st = BASE64_ELENGTH;
            if (n % 4 == 0 && n <= (size_t)INT_MAX) {
                if (!(bytes = malloc(base64_decoded_max(n) + 1)))
                    abort(); /* as every request buffer */
                st = base64_decode(v->valuestring, n, bytes, &len, &bad);
            }
            if (st == BASE64_OK) {
                free(v->valuestring);
                v->valuestring = (char *)bytes;
                v->valueint = (int)len;
                v->type = cJSON_Raw;
                return NULL;
            }
            free(bytes);
            if (st == BASE64_ELENGTH)
                snprintf(tmp, tmplen, "'%.200s' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: %zu", v->valuestring, n);
            else if (st == BASE64_ECHAR)
                snprintf(tmp, tmplen, "'%.200s' can not be converted to a Blob: Invalid Base64 character: '%c'", v->valuestring, bad);
            else
                snprintf(tmp, tmplen, "'%.200s' can not be converted to a Blob: Invalid last non-pad Base64 character dectected", v->valuestring);
            return tmp;
        }
        break;
    case VT_LIST:
        if (is_bool || is_num || is_str)
            return "Expected list or null";
        if (is_obj)
            return "Start of structure or map found where not expected.";
        return NULL;
    case VT_MAP:
        if (is_bool || is_num || is_str)
            return "Expected map or null";
        if (is_list)
            return "Start of list found where not expected";
        return NULL;
    case VT_STRUCT:
        if (is_bool || is_num || is_str)
            return "Expected null";
        if (is_list)
            return "Start of list found where not expected";
        return NULL;
    }
    if (is_list)
        return "Start of list found where not expected";
    if (is_obj)
        return "Start of structure or map found where not expected.";
    return NULL;
}

static const char *check_types(cJSON *obj, const struct v_rule *rules, struct tcheck *tc);

static const char *check_type(cJSON *v, const struct v_rule *r, struct tcheck *tc)
{
    if (!v || cJSON_IsNull(v))
        return NULL;
    const char *e = type_error(v, r->type, tc);
    if (e)
        return e;
    cJSON *c;
    if (r->type == VT_LIST || r->type == VT_MAP) {
        cJSON_ArrayForEach(c, v) {
            if (r->member && (e = check_type(c, r->member, tc)))
                return e;
        }
    } else if (r->type == VT_STRUCT && r->children) {
        return check_types(v, r->children, tc);
    }
    return NULL;
}

static const char *check_types(cJSON *obj, const struct v_rule *rules, struct tcheck *tc)
{
    for (const struct v_rule *r = rules; r->name; r++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, r->name);
        if (cJSON_IsNull(v)) { /* an explicit null is an absent member, as AWS reads it */
            cJSON_DeleteItemFromObjectCaseSensitive(obj, r->name);
            continue;
        }
        const char *e = check_type(v, r, tc);
        if (e)
            return e;
    }
    return NULL;
}

/* ---- constraints (ValidationException) ---- */

static regex_t *compiled(const char *ere)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct { const char *ere; regex_t re; } cache[MAX_PATTERNS];
    static int n;
    regex_t *re = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n && !re; i++)
        if (cache[i].ere == ere)
            re = &cache[i].re;
    if (!re && n < MAX_PATTERNS) {
        char anchored[512];
        snprintf(anchored, sizeof anchored, "^(%s)$", ere);
        if (regcomp(&cache[n].re, anchored, REG_EXTENDED | REG_NOSUB) == 0) {
            cache[n].ere = ere;
            re = &cache[n++].re;
        }
    }
    pthread_mutex_unlock(&mu);
    return re;
}

static void errs_add(struct errs *es, const char *fmt, ...)
{
    va_list ap;
    char *item;
    if (es->n >= MAX_ERRORS)
        return;
    va_start(ap, fmt);
    int k = vasprintf(&item, fmt, ap);
    va_end(ap);
    if (k < 0)
        abort(); /* as every response buffer: no sensible answer without memory */
    char *grown = realloc(es->buf, es->len + 2 + (size_t)k + 1);
    if (!grown)
        abort();
    es->buf = grown;
    es->len += (size_t)sprintf(es->buf + es->len, "%s%s", es->n++ ? "; " : "", item);
    free(item);
}

const unsigned char *v_blob(const cJSON *in, const char *name, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!cJSON_IsRaw(v)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)v->valueint;
    return (const unsigned char *)v->valuestring;
}

static long long utf8_chars(const char *s)
{
    long long n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* AWS prints the offending value: strings verbatim, blobs as the Java buffer
 * they became, lists element by element. */
static void value_str(const cJSON *v, const struct v_rule *r, char *out, size_t outlen)
{
    size_t len = 0;
    const cJSON *c;
    if (!v || cJSON_IsNull(v)) {
        snprintf(out, outlen, "null");
        return;
    }
    switch (r->type) {
    case VT_BLOB: {
        size_t n = (size_t)v->valueint;
        snprintf(out, outlen, "'java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]'", n, n);
        return;
    }
    case VT_LIST:
    case VT_MAP:
        len += (size_t)snprintf(out, outlen, "'%c", r->type == VT_LIST ? '[' : '{');
        cJSON_ArrayForEach(c, v) {
            if (len >= outlen)
                break;
            char item[300];
            if (r->member_str)
                snprintf(item, sizeof item, "%s", r->member_str);
            else if (cJSON_IsString(c))
                snprintf(item, sizeof item, "%.256s", c->valuestring);
            else
                snprintf(item, sizeof item, "%g", c->valuedouble);
            if (r->type == VT_MAP)
                len += (size_t)snprintf(out + len, outlen - len, "%s%s=%s", c == v->child ? "" : ", ", c->string, item);
            else
                len += (size_t)snprintf(out + len, outlen - len, "%s%s", c == v->child ? "" : ", ", item);
        }
        if (len < outlen)
            snprintf(out + len, outlen - len, "%c'", r->type == VT_LIST ? ']' : '}');
        return;
    case VT_STRING:
        snprintf(out, outlen, "'%s'", v->valuestring);
        return;
    default:
        if (cJSON_IsString(v))
            snprintf(out, outlen, "'%.200s'", v->valuestring);
        else /* the integer as %lld would print it, for values past long long's range too
              * (converting those is undefined); + 0.0 makes -0 print as 0 */
            snprintf(out, outlen, "'%.0f'", floor(v->valuedouble) + 0.0);
    }
}

static void check_member(const cJSON *v, const struct v_rule *r, const char *path, struct errs *es);

static void check_members(const cJSON *obj, const struct v_rule *rules, const char *parent, struct errs *es)
{
    char path[256];
    for (const struct v_rule *r = rules; r->name; r++) {
        snprintf(path, sizeof path, "%s%s%c%s", parent, *parent ? "." : "",
                 (char)tolower((unsigned char)r->name[0]), r->name + 1);
        check_member(cJSON_GetObjectItemCaseSensitive(obj, r->name), r, path, es);
    }
}

/* Lists print every element (501 PutRecords entries make ~35 KB), as AWS does. */
#define VALUE_MAX (64 * 1024)

static void fail(struct errs *es, const cJSON *v, const struct v_rule *r, const char *path, const char *what)
{
    char *val = malloc(VALUE_MAX);
    if (!val)
        return;
    value_str(v, r, val, VALUE_MAX);
    errs_add(es, "Value %s at '%s' failed to satisfy constraint: %s", val, path, what);
    free(val);
}

static void check_member(const cJSON *v, const struct v_rule *r, const char *path, struct errs *es)
{
    char what[600];
    if (!v || cJSON_IsNull(v)) {
        if (r->flags & V_NOT_NULL)
            fail(es, NULL, r, path, "Member must not be null");
        return;
    }
    if (r->flags & (V_MIN | V_MAX)) {
        double d = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : floor(v->valuedouble);
        if ((r->flags & V_MIN) && d < (double)r->min) {
            snprintf(what, sizeof what, "Member must have value greater than or equal to %lld", r->min);
            fail(es, v, r, path, what);
        }
        if ((r->flags & V_MAX) && d > (double)r->max) {
            snprintf(what, sizeof what, "Member must have value less than or equal to %lld", r->max);
            fail(es, v, r, path, what);
        }
    }
    if (r->flags & (V_LEN_MIN | V_LEN_MAX)) {
        long long len = r->type == VT_BLOB ? (long long)v->valueint
                        : r->type == VT_STRING ? utf8_chars(v->valuestring)
                        : cJSON_GetArraySize(v);
        if ((r->flags & V_LEN_MIN) && len < r->len_min) {
            snprintf(what, sizeof what, "Member must have length greater than or equal to %lld", r->len_min);
            fail(es, v, r, path, what);
        }
        if ((r->flags & V_LEN_MAX) && len > r->len_max) {
            snprintf(what, sizeof what, "Member must have length less than or equal to %lld", r->len_max);
            fail(es, v, r, path, what);
        }
    }
    if (r->ere && cJSON_IsString(v)) {
        regex_t *re = compiled(r->ere);
        if (re && regexec(re, v->valuestring, 0, NULL, 0) != 0) {
            snprintf(what, sizeof what, "Member must satisfy regular expression pattern: %s", r->pattern);
            fail(es, v, r, path, what);
        }
    }
    if (r->enums && cJSON_IsString(v)) {
        int ok = 0;
        size_t len = (size_t)snprintf(what, sizeof what, "Member must satisfy enum value set: [");
        for (const char *const *e = r->enums; *e; e++) {
            ok |= strcmp(*e, v->valuestring) == 0;
            len += (size_t)snprintf(what + len, len < sizeof what ? sizeof what - len : 0, "%s%s", e == r->enums ? "" : ", ", *e);
        }
        if (len < sizeof what)
            snprintf(what + len, sizeof what - len, "]");
        if (!ok)
            fail(es, v, r, path, what);
    }
    if (r->type == VT_STRUCT && r->children) {
        check_members(v, r->children, path, es);
    } else if ((r->type == VT_LIST || r->type == VT_MAP) && r->member) {
        char sub[300];
        int i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, v) {
            i++;
            if (r->type == VT_LIST)
                snprintf(sub, sizeof sub, "%s.%d.member", path, i);
            else
                snprintf(sub, sizeof sub, "%s.%s.member", path, c->string);
            /* AWS's lists and maps are dense (none is @sparse in these
             * models): a null element is refused whatever the member rule
             * says, so no handler ever iterates over one. */
            if (cJSON_IsNull(c))
                fail(es, NULL, r->member, sub, "Member must not be null");
            else
                check_member(c, r->member, sub, es);
        }
    }
}

enum v_result validate_request(cJSON *body, const struct v_rule *rules, unsigned flags, char **msg)
{
    struct tcheck tc = {.flags = flags};
    const char *e = check_types(body, rules, &tc);
    *msg = NULL;
    if (e) {
        if (!(*msg = strdup(e)))
            abort();
        return V_SERIALIZATION;
    }
    struct errs es = {0, NULL, 0};
    check_members(body, rules, "", &es);
    if (!es.n)
        return V_OK;
    if (asprintf(msg, "%d validation error%s detected: %s", es.n, es.n > 1 ? "s" : "", es.buf) < 0)
        abort();
    free(es.buf);
    return V_VALIDATION;
}

/* ---- reading validated members ---- */

int v_int(const cJSON *in, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!cJSON_IsNumber(v) || isnan(v->valuedouble)) /* CBOR can carry NaN; it passes min/max checks */
        return dflt;
    double d = floor(v->valuedouble);
    /* saturated: rules without a maximum let any number through, and
     * converting one past int's range is undefined */
    return d <= INT_MIN ? INT_MIN : d >= INT_MAX ? INT_MAX : (int)d;
}

const char *v_str(const cJSON *in, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Request timestamps: epoch seconds as a number (or a numeric string). */
uint64_t v_time_ms(const cJSON *v)
{
    double secs = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : v->valuedouble;
    return secs <= 0 ? 0 : (uint64_t)llround(secs * 1000.0);
}
