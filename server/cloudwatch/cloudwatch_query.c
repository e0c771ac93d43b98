#define _GNU_SOURCE /* timegm, strncasecmp */
/* CloudWatch's awsQuery protocol, as the KPL, the Java SDKs v1/v2 and older
 * botocore speak it: parameters form-encoded in the body (or the query string
 * of a GET), Action and Version=2010-08-01 among them; answers and errors in
 * XML. The form becomes the same cJSON tree a JSON request gives, typed by the
 * operation's rules (MetricData.member.1.Dimensions.member.1.Name →
 * {"MetricData":[{"Dimensions":[{"Name":…}]}]}; numbers, booleans, ISO 8601
 * timestamps as epoch seconds), so handlers never know which protocol came;
 * the handler's JSON document becomes the XML answer. */
#include "server/cloudwatch/cloudwatch.h"
#include "protocol/urlcode.h"
#include "protocol/xml.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FORM_CT "application/x-www-form-urlencoded"
#define DIGITS "0123456789"

/* ---- recognising a request ---- */

/* Whether the raw form s (len bytes) has name=value (any value when value is NULL).
 * Offsets, not pointers, walk it: s is NULL for a body not read yet, and the
 * last field ends at s + len, with no '&' to step over. */
static int raw_has(const char *s, size_t len, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (size_t off = 0; off < len;) {
        const char *p = s + off, *amp = memchr(p, '&', len - off);
        size_t n = amp ? (size_t)(amp - p) : len - off;
        if (n > nl && !memcmp(p, name, nl) && p[nl] == '=' &&
            (!value || (n - nl - 1 == strlen(value) && !memcmp(p + nl + 1, value, n - nl - 1))))
            return 1;
        off += n + 1;
    }
    return 0;
}

static int has_action(const char *s, size_t len)
{
    return raw_has(s, len, "Action", NULL) && raw_has(s, len, "Version", CW_VERSION);
}

int cw_query_match(const struct tp_request *rq)
{
    const char *ct = request_header(rq, "content-type");
    int form = ct && !strncasecmp(ct, FORM_CT, strlen(FORM_CT));
    return (form && has_action((const char *)rq->body, rq->body_len)) ||
           ((form || !strcmp(rq->method, "GET")) && has_action(rq->query, strlen(rq->query)));
}

/* ---- the form ---- */

struct qparam {
    char *key, *val;
};

struct qform {
    struct qparam *p;
    size_t n, cap;
};

/* Percent-decoding, '+' as a space (HTML forms; the SDKs send %20). */
static char *form_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        abort(); /* as every request buffer */
    url_decode(s, n, 1, out);
    return out;
}

static void form_parse(struct qform *f, const char *s, size_t len)
{
    for (const char *p = s, *end = s + len; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = (size_t)((amp ? amp : end) - p);
        const char *eq = memchr(p, '=', n);
        if (n) {
            if (f->n == f->cap && !(f->p = realloc(f->p, (f->cap = f->cap ? f->cap * 2 : 64) * sizeof *f->p)))
                abort();
            f->p[f->n].key = form_decode(p, eq ? (size_t)(eq - p) : n);
            f->p[f->n++].val = eq ? form_decode(eq + 1, n - (size_t)(eq - p) - 1) : form_decode("", 0);
        }
        p += n + 1;
    }
}

static void form_free(struct qform *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->p[i].key);
        free(f->p[i].val);
    }
    free(f->p);
}

static const char *form_get(const struct qform *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->p[i].key, key))
            return f->p[i].val;
    return NULL;
}

/* Keys in segment order, list indexes compared as numbers (member.2 before
 * member.10): the members of one list element, or of one structure, then sit
 * next to each other and lists come out in index order. */
static int key_cmp(const void *x, const void *y)
{
    const char *a = ((const struct qparam *)x)->key, *b = ((const struct qparam *)y)->key;
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        int c;
        if (la && lb && la != lb && strspn(a, DIGITS) >= la && strspn(b, DIGITS) >= lb)
            c = la < lb ? -1 : 1;
        else if (!(c = memcmp(a, b, la < lb ? la : lb)))
            c = (la > lb) - (la < lb);
        if (c)
            return c;
        a += la;
        b += lb;
        if (!*a || !*b)
            return (*a != 0) - (*b != 0);
        a++;
        b++;
    }
}

/* ---- the form as the request's cJSON tree ---- */

struct conv {
    struct qparam *p;
    int bad;          /* MalformedInput */
    const char *why;  /* its message, if AWS gives one */
};

/* 2024-05-01T12:34:56[.fff…][Z|±hh:mm|±hhmm] in epoch seconds. */
static int iso8601(const char *s, double *out)
{
    struct tm tm = {0};
    int n = 0, oh = 0, om = 0, k = 0;
    double frac = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6)
        return -1;
    s += n;
    if (*s == '.') {
        char *end;
        frac = strtod(s, &end);
        s = end;
    }
    if ((*s == '+' || *s == '-') && (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &k) == 2 ||
                                     sscanf(s + 1, "%2d%2d%n", &oh, &om, &k) == 2)) {
        int sign = *s == '-' ? -1 : 1;
        s += 1 + k;
        frac -= sign * (oh * 3600 + om * 60);
    } else if (*s == 'Z') {
        s++;
    }
    if (*s)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) + frac;
    return 0;
}

static cJSON *scalar(const struct v_rule *r, const char *text, struct conv *cv)
{
    char *end;
    double d;
    switch (r->type) {
    case VT_STRING:
        return cJSON_CreateString(text);
    case VT_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "false"))
            return cJSON_CreateBool(text[0] == 't');
        break;
    case VT_TIMESTAMP:
        if (!iso8601(text, &d))
            return cJSON_CreateNumber(d);
        cv->why = "timestamp must follow ISO8601";
        break;
    case VT_INT:
    case VT_LONG: {
        long long v = strtoll(text, &end, 10);
        if (*text && !*end)
            return cJSON_CreateNumber((double)v);
        break;
    }
    default:
        d = strtod(text, &end);
        if (*text && !*end)
            return cJSON_CreateNumber(d);
    }
    cv->bad = 1;
    return NULL;
}

static void build_struct(cJSON *obj, const struct v_rule *rules, struct conv *cv, size_t lo, size_t hi, size_t off);

/* The first of p[lo..hi) whose key ends at `end`, or hi. */
static size_t exact(const struct conv *cv, size_t lo, size_t hi, size_t end)
{
    while (lo < hi && cv->p[lo].key[end])
        lo++;
    return lo;
}

/* One member (rule r) from p[lo..hi), the keys that name it up to `end`. */
static cJSON *member_value(const struct v_rule *r, struct conv *cv, size_t lo, size_t hi, size_t end)
{
    cJSON *v;
    if (r->type == VT_STRUCT) {
        v = cJSON_CreateObject();
        build_struct(v, r->children, cv, lo, hi, end + 1);
        return v;
    }
    if (r->type != VT_LIST) {
        size_t k = exact(cv, lo, hi, end);
        return k < hi ? scalar(r, cv->p[k].val, cv) : NULL;
    }
    /* Name.member.N[.…]; a bare "Name=" is an empty list */
    v = cJSON_CreateArray();
    for (size_t i = lo; i < hi && !cv->bad;) {
        const char *key = cv->p[i].key;
        if (strncmp(key + end, ".member.", 8)) {
            i++;
            continue;
        }
        size_t at = end + 8, sl = strcspn(key + at, "."), j = i + 1;
        while (j < hi && !strncmp(cv->p[j].key + end, key + end, 8 + sl) &&
               (cv->p[j].key[at + sl] == '.' || !cv->p[j].key[at + sl]))
            j++;
        cJSON *item = member_value(r->member, cv, i, j, at + sl);
        if (item)
            cJSON_AddItemToArray(v, item);
        i = j;
    }
    return v;
}

/* The members of rules among p[lo..hi), whose keys share their first `off`
 * bytes (the path so far, with its dot). Unknown parameters are ignored, and
 * so is a value given to the structure itself ("StatisticValues=x"). */
static void build_struct(cJSON *obj, const struct v_rule *rules, struct conv *cv, size_t lo, size_t hi, size_t off)
{
    for (size_t i = lo; i < hi && !cv->bad;) {
        if (strlen(cv->p[i].key) < off) {
            i++;
            continue;
        }
        const char *seg = cv->p[i].key + off;
        size_t sl = strcspn(seg, "."), j = i + 1;
        while (j < hi && !strncmp(cv->p[j].key + off, seg, sl) &&
               (cv->p[j].key[off + sl] == '.' || !cv->p[j].key[off + sl]))
            j++;
        for (const struct v_rule *r = rules; r->name; r++)
            if (strlen(r->name) == sl && !memcmp(r->name, seg, sl)) {
                cJSON *v = member_value(r, cv, i, j, off + sl);
                if (v)
                    cJSON_AddItemToObject(obj, r->name, v);
                break;
            }
        i = j;
    }
}

/* ---- answers ---- */

/* Members whose numbers are timestamps (the XML wants ISO 8601): a
 * Datapoint's Timestamp, and MetricDataResult's Timestamps. */
static void xml_value(struct xw *x, const char *tag, const cJSON *v, int is_time)
{
    const cJSON *m;
    char b[32];
    if (cJSON_IsObject(v)) {
        xw_open(x, tag);
        cJSON_ArrayForEach(m, v) xml_value(x, m->string, m, !strcmp(m->string, "Timestamp"));
        xw_close(x, tag);
    } else if (cJSON_IsArray(v)) {
        xw_open(x, tag);
        cJSON_ArrayForEach(m, v) xml_value(x, "member", m, !strcmp(tag, "Timestamps"));
        xw_close(x, tag);
    } else if (cJSON_IsString(v)) {
        xw_elem(x, tag, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        xw_elem(x, tag, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v) && is_time) {
        xw_elem_time(x, tag, (uint64_t)llround(v->valuedouble * 1000));
    } else if (cJSON_IsNumber(v)) {
        jw_fmt_double(b, sizeof b, v->valuedouble);
        xw_elem(x, tag, b);
    }
}

/* The document the handler wrote (or reply_error's), parsed back. */
static cJSON *take_doc(struct svc_ctx *c)
{
    size_t len;
    char *json = jw_take(&c->out, &len);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    free(json);
    return doc;
}

static void answer(struct svc_ctx *c, const char *action, int failed)
{
    cJSON *doc = take_doc(c);
    struct xw x;
    size_t len;
    char tag[80];

    xw_init(&x);
    if (failed) {
        const struct tp_err_info *info = errors_info(c->err);
        const char *msg = v_str(doc, "message");
        xw_doc_begin(&x, "ErrorResponse", CW_XMLNS);
        xw_open(&x, "Error");
        xw_elem(&x, "Type", info->status >= 500 ? "Receiver" : "Sender");
        xw_elem(&x, "Code", info->type);
        if (msg)
            xw_elem(&x, "Message", msg);
        xw_close(&x, "Error");
        xw_elem(&x, "RequestId", c->request_id);
        xw_close(&x, "ErrorResponse");
    } else {
        snprintf(tag, sizeof tag, "%sResponse", action);
        xw_doc_begin(&x, tag, CW_XMLNS);
        if (doc && doc->child) { /* operations without output have no Result */
            char result[80];
            snprintf(result, sizeof result, "%sResult", action);
            xml_value(&x, result, doc, 0);
        }
        xw_open(&x, "ResponseMetadata");
        xw_elem(&x, "RequestId", c->request_id);
        xw_close(&x, "ResponseMetadata");
        xw_close(&x, tag);
    }
    cJSON_Delete(doc);
    char *body = xw_take(&x, &len);
    response_add_header(c->rs, "Content-Type", "text/xml");
    response_set_body(c->rs, (unsigned char *)body, len);
}

void cw_query_serve(struct svc_ctx *c)
{
    const struct tp_request *rq = c->rq;
    const char *ct = request_header(rq, "content-type");
    struct qform f = {0};
    const struct svc_op *op = NULL;
    int rc;

    form_parse(&f, rq->query, strlen(rq->query));
    if (ct && !strncasecmp(ct, FORM_CT, strlen(FORM_CT)))
        form_parse(&f, (const char *)rq->body, rq->body_len);
    const char *action = form_get(&f, "Action"), *version = form_get(&f, "Version");
    if (!action)
        rc = reply_error(c, CW_MISSING_ACTION, "The request is missing an action or a required parameter.");
    else if (!version || strcmp(version, CW_VERSION) ||
             !(op = svc_find_op(&cloudwatch_service, action, strlen(action))))
        rc = reply_error(c, CW_INVALID_ACTION, "Could not find operation %s for version %s", action,
                         version ? version : "NULL");
    else {
        struct conv cv = {.p = f.p};
        cJSON *in = cJSON_CreateObject();
        qsort(f.p, f.n, sizeof *f.p, key_cmp);
        build_struct(in, op->rules, &cv, 0, f.n, 0);
        rc = cv.bad ? reply_error(c, CW_MALFORMED_INPUT, cv.why ? "%s" : NULL, cv.why)
                    : svc_run(c, &cloudwatch_service, op, in, 0);
        cJSON_Delete(in);
    }
    answer(c, action, rc != 0);
    form_free(&f);
}
