#define _GNU_SOURCE /* vasprintf */
/* CloudWatch: the rules per operation (types for every protocol, and the
 * constraints Coral checks, which CloudWatch reports as ValidationError), the
 * helpers the handlers share, and the operation table. CloudWatch's own checks
 * (required members, value sets, collection sizes) are not rules: the service
 * words them differently (MissingParameter, InvalidParameterValue), so the
 * handlers make them with cw_errs. */
#include "server/cloudwatch/cloudwatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END {0}
#define STR(n, lo, hi) {.name = n, .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = lo, .len_max = hi}
#define TEXT(n) {.name = n, .type = VT_STRING}
#define NUM(n) {.name = n, .type = VT_DOUBLE}
#define INT(n) {.name = n, .type = VT_INT}
#define PERIOD(n) {.name = n, .type = VT_INT, .flags = V_MIN, .min = 1}
#define TIME(n) {.name = n, .type = VT_TIMESTAMP}
#define BOOL(n) {.name = n, .type = VT_BOOL}
#define LIST(n, m) {.name = n, .type = VT_LIST, .member = m}
#define STRUCT(n, kids) {.name = n, .type = VT_STRUCT, .children = kids}

#define NAMESPACE {.name = "Namespace", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, \
                   .len_max = 255, .pattern = "[^:].*", .ere = "[^:].*"}
#define METRIC_NAME STR("MetricName", 1, 255)

static const struct v_rule DIMENSION[] = {STR("Name", 1, 255), STR("Value", 1, 1024), END};
static const struct v_rule DIMENSION_MEMBER = STRUCT("member", DIMENSION);
#define DIMENSIONS LIST("Dimensions", &DIMENSION_MEMBER)
static const struct v_rule DOUBLE_MEMBER = NUM("member");
static const struct v_rule STRING_MEMBER = TEXT("member");

static const struct v_rule STATISTIC_SET[] = {NUM("SampleCount"), NUM("Sum"), NUM("Minimum"), NUM("Maximum"), END};
static const struct v_rule METRIC_DATUM[] = {
    METRIC_NAME, DIMENSIONS, TIME("Timestamp"), NUM("Value"), STRUCT("StatisticValues", STATISTIC_SET),
    LIST("Values", &DOUBLE_MEMBER), LIST("Counts", &DOUBLE_MEMBER), TEXT("Unit"),
    {.name = "StorageResolution", .type = VT_INT, .flags = V_MIN, .min = 1}, END};
static const struct v_rule METRIC_DATUM_MEMBER = STRUCT("member", METRIC_DATUM);

static const struct v_rule METRIC[] = {NAMESPACE, METRIC_NAME, DIMENSIONS, END};
static const struct v_rule METRIC_STAT[] = {STRUCT("Metric", METRIC), PERIOD("Period"), TEXT("Stat"), TEXT("Unit"), END};
static const struct v_rule QUERY[] = {
    STR("Id", 1, 255), STRUCT("MetricStat", METRIC_STAT), STR("Expression", 1, 2048), TEXT("Label"),
    BOOL("ReturnData"), PERIOD("Period"), STR("AccountId", 1, 255), END};
static const struct v_rule QUERY_MEMBER = STRUCT("member", QUERY);
static const struct v_rule LABEL_OPTIONS[] = {TEXT("Timezone"), END};
static const struct v_rule DIMENSION_FILTER[] = {STR("Name", 1, 255), STR("Value", 1, 1024), END};
static const struct v_rule DIMENSION_FILTER_MEMBER = STRUCT("member", DIMENSION_FILTER);

/* ---- rules per operation ---- */

static const struct v_rule PUT_METRIC_DATA[] = {NAMESPACE, LIST("MetricData", &METRIC_DATUM_MEMBER), END};
static const struct v_rule GET_METRIC_STATISTICS[] = {
    NAMESPACE, METRIC_NAME, DIMENSIONS, TIME("StartTime"), TIME("EndTime"), PERIOD("Period"),
    LIST("Statistics", &STRING_MEMBER), LIST("ExtendedStatistics", &STRING_MEMBER), TEXT("Unit"), END};
static const struct v_rule GET_METRIC_DATA[] = {
    LIST("MetricDataQueries", &QUERY_MEMBER), TIME("StartTime"), TIME("EndTime"), TEXT("NextToken"),
    TEXT("ScanBy"), INT("MaxDatapoints"), STRUCT("LabelOptions", LABEL_OPTIONS), END};
static const struct v_rule LIST_METRICS[] = {
    NAMESPACE, METRIC_NAME, LIST("Dimensions", &DIMENSION_FILTER_MEMBER), TEXT("NextToken"), TEXT("RecentlyActive"),
    BOOL("IncludeLinkedAccounts"), STR("OwningAccount", 1, 255), END};

const cJSON *cw_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNull(v) ? NULL : v;
}

/* ---- collecting errors ---- */

void cw_err(struct cw_errs *e, enum tp_err code, const char *fmt, ...)
{
    char *line;
    va_list ap;
    if (e->n && code != e->code)
        return;
    va_start(ap, fmt);
    int k = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (k < 0)
        abort(); /* as every response buffer */
    if (e->n && !e->line_ends)
        strbuf_put(&e->msg, "\n", 1);
    strbuf_put(&e->msg, line, (size_t)k);
    if (e->line_ends)
        strbuf_put(&e->msg, "\n", 1);
    free(line);
    e->code = code;
    e->n++;
}

int cw_require(struct cw_errs *e, enum tp_err code, const cJSON *v, const char *param)
{
    if (v && !cJSON_IsNull(v))
        return 1;
    cw_err(e, code, "The parameter %s is required.", param);
    return 0;
}

int cw_in_set(struct cw_errs *e, const char *value, const char *param, const char *const *set, int spaced)
{
    struct strbuf list = {0};
    for (const char *const *s = set; *s; s++)
        if (!strcmp(*s, value))
            return 1;
    for (const char *const *s = set; *s; s++) {
        if (s != set)
            strbuf_put(&list, ", ", 2);
        strbuf_put(&list, *s, strlen(*s));
    }
    cw_err(e, CW_INVALID_PARAMETER_VALUE, "The parameter %s must be a value in the set [%s%s%s].", param,
           spaced ? " " : "", list.buf, spaced ? " " : "");
    strbuf_free(&list);
    return 0;
}

void cw_max_size(struct cw_errs *e, const cJSON *list, const char *param, int max)
{
    if (cJSON_GetArraySize(list) > max)
        cw_err(e, CW_INVALID_PARAMETER_VALUE, "The collection %s must not have a size greater than %d.", param, max);
}

int cw_errs_reply(struct svc_ctx *c, struct cw_errs *e)
{
    if (!e->n)
        return 0;
    reply_error(c, e->code, "%s", e->msg.buf);
    strbuf_free(&e->msg);
    return -1;
}

/* ---- units, statistics, dimensions, periods ---- */

const char *const CW_UNITS[] = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None", NULL};

const char *const CW_STATS[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", NULL};

int cw_stat_parse(const char *name)
{
    for (int i = 0; CW_STATS[i]; i++)
        if (!strcmp(CW_STATS[i], name))
            return i;
    return -1;
}

double cw_stat_value(enum cw_stat s, const struct db_cw_stat *d)
{
    switch (s) {
    case CW_SAMPLE_COUNT: return d->count;
    case CW_AVERAGE: return d->count > 0 ? d->sum / d->count : 0;
    case CW_SUM: return d->sum;
    case CW_MINIMUM: return d->min;
    default: return d->max;
    }
}

static int by_name(const void *a, const void *b)
{
    const char *x = v_str(*(const cJSON *const *)a, "Name"), *y = v_str(*(const cJSON *const *)b, "Name");
    return strcmp(x ? x : "", y ? y : "");
}

char *cw_dims_canonical(const cJSON *dims, int *dup)
{
    int n = cJSON_GetArraySize(dims), i = 0;
    const cJSON **sorted = malloc(sizeof *sorted * (size_t)(n ? n : 1));
    const cJSON *d;
    struct jw w;
    size_t len;
    if (!sorted)
        abort();
    cJSON_ArrayForEach(d, dims) sorted[i++] = d;
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    *dup = 0;
    jw_init(&w);
    jw_arr_begin(&w);
    for (i = 0; i < n; i++) {
        const char *name = v_str(sorted[i], "Name"), *value = v_str(sorted[i], "Value");
        *dup |= i && !by_name(&sorted[i - 1], &sorted[i]);
        jw_obj_begin(&w);
        jw_key(&w, "Name");
        jw_str(&w, name ? name : "");
        jw_key(&w, "Value");
        jw_str(&w, value ? value : "");
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    free(sorted);
    return jw_take(&w, &len);
}

void cw_write_dims(struct jw *w, const char *dims)
{
    cJSON *arr = cJSON_Parse(dims), *d;
    jw_key(w, "Dimensions");
    jw_arr_begin(w);
    cJSON_ArrayForEach(d, arr) {
        jw_obj_begin(w);
        jw_key(w, "Name");
        jw_str(w, v_str(d, "Name"));
        jw_key(w, "Value");
        jw_str(w, v_str(d, "Value"));
        jw_obj_end(w);
    }
    jw_arr_end(w);
    cJSON_Delete(arr);
}

int cw_period_valid(long long period)
{
    return period == 1 || period == 5 || period == 10 || period == 30 || (period > 0 && period % 60 == 0);
}

int64_t cw_query_start(const cJSON *start, long long period)
{
    int64_t s = (int64_t)(v_time_ms(start) / 1000);
    return s - s % (period < 60 ? period : 60);
}

/* ---- the operation table (sorted by wire name) ---- */

static const struct svc_op OPS[] = {
    {"GetMetricData", cw_get_metric_data, GET_METRIC_DATA},
    {"GetMetricStatistics", cw_get_metric_statistics, GET_METRIC_STATISTICS},
    {"ListMetrics", cw_list_metrics, LIST_METRICS},
    {"PutMetricData", cw_put_metric_data, PUT_METRIC_DATA},
};

/* Smithy RPC v2 CBOR paths: the service shape's name, bare or with its namespace. */
static const char *const RPCV2_PATHS[] = {"/service/GraniteServiceVersion20100801/operation/",
                                          "/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/",
                                          NULL};

const struct svc_service cloudwatch_service = {
    .target_prefix = "GraniteServiceVersion20100801",
    .content_type = "application/x-amz-json-1.0",
    .ops = OPS,
    .n_ops = sizeof OPS / sizeof *OPS,
    .validation = CW_VALIDATION_ERROR,
    .host_prefix = "monitoring",
    .rpcv2_paths = RPCV2_PATHS,
    .query_match = cw_query_match,
    .query_serve = cw_query_serve,
    .query_auth_errors = 1,
};
