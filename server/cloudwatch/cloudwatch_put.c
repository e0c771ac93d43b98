/* CloudWatch PutMetricData: the service's checks with its texts, then every
 * datum reduced to one aggregate (sample count, sum, minimum, maximum) in
 * its second (its minute for standard resolution), all of a request stored
 * by one db_write. */
#include "server/cloudwatch/cloudwatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DATA 1000
#define MAX_VALUES 150
#define PAST_MS (14ull * 24 * 3600 * 1000) /* timestamps within the past two weeks… */
#define FUTURE_MS (2ull * 3600 * 1000)     /* …and at most two hours ahead */

static const char *const RESOLUTIONS[] = {"1", "60", NULL};

struct put {
    const char *region;
    struct db_cw_point *points;
    size_t n;
    uint64_t now;
};

static int put_job(struct db_conn *w, void *ctx)
{
    struct put *p = ctx;
    return db_cw_put(w, p->region, p->points, p->n, p->now);
}

/* A value CloudWatch can store: not NaN, not infinite. */
static void check_finite(struct cw_errs *e, double v, const char *param)
{
    if (!isfinite(v))
        cw_err(e, CW_INVALID_PARAMETER_VALUE, "The value %s for parameter %s is invalid.",
               isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", param);
}

/* Value, Values (+Counts) or StatisticValues: exactly one of them. */
static void check_values(struct cw_errs *e, const cJSON *d, const char *at)
{
    const cJSON *value = cw_member(d, "Value"), *stats = cw_member(d, "StatisticValues");
    const cJSON *values = cJSON_GetArraySize(cw_member(d, "Values")) ? cw_member(d, "Values") : NULL;
    const cJSON *counts = cw_member(d, "Counts"), *v;
    static const char *const STATS[] = {"SampleCount", "Sum", "Minimum", "Maximum"};
    char param[128];

    if ((value != NULL) + (stats != NULL) + (values != NULL) > 1) {
        const char *a = value ? "Value" : "StatisticValues", *b = values ? "Values" : "StatisticValues";
        cw_err(e, CW_INVALID_PARAMETER_COMBINATION,
               "The parameters %s.%s and %s.%s are mutually exclusive and you have specified both.", at, a, at, b);
        return;
    }
    snprintf(param, sizeof param, "%s.Value", at);
    if (!value && !stats && !values)
        cw_require(e, CW_MISSING_PARAMETER, NULL, param);
    if (value)
        check_finite(e, value->valuedouble, param);
    for (unsigned i = 0; stats && i < 4; i++) {
        snprintf(param, sizeof param, "%s.StatisticValues.%s", at, STATS[i]);
        if (cw_require(e, CW_MISSING_PARAMETER, cw_member(stats, STATS[i]), param))
            check_finite(e, cw_member(stats, STATS[i])->valuedouble, param);
    }
    if (!values)
        return;
    snprintf(param, sizeof param, "%s.Values", at);
    cw_max_size(e, values, param, MAX_VALUES);
    cJSON_ArrayForEach(v, values) check_finite(e, v->valuedouble, param);
    snprintf(param, sizeof param, "%s.Counts", at);
    cw_max_size(e, counts, param, MAX_VALUES);
    if (counts && cJSON_GetArraySize(counts) != cJSON_GetArraySize(values))
        cw_err(e, CW_INVALID_PARAMETER_VALUE, "The parameters %s.Values and %s.Counts must be of the same size.", at, at);
}

/* CloudWatch's checks of MetricData.member.<i>. */
static void check_datum(struct cw_errs *e, const cJSON *d, int i, uint64_t now)
{
    char at[48], param[160];
    const cJSON *dims = cw_member(d, "Dimensions"), *dim, *ts = cw_member(d, "Timestamp");
    const char *unit = v_str(d, "Unit");
    int j = 0;

    snprintf(at, sizeof at, "MetricData.member.%d", i);
    snprintf(param, sizeof param, "%s.MetricName", at);
    cw_require(e, CW_MISSING_PARAMETER, cw_member(d, "MetricName"), param);
    snprintf(param, sizeof param, "%s.Dimensions", at);
    cw_max_size(e, dims, param, CW_MAX_DIMENSIONS);
    cJSON_ArrayForEach(dim, dims) {
        snprintf(param, sizeof param, "%s.Dimensions.member.%d.Name", at, ++j);
        cw_require(e, CW_MISSING_PARAMETER, cw_member(dim, "Name"), param);
        snprintf(param, sizeof param, "%s.Dimensions.member.%d.Value", at, j);
        cw_require(e, CW_MISSING_PARAMETER, cw_member(dim, "Value"), param);
    }
    snprintf(param, sizeof param, "%s.Unit", at);
    if (unit)
        cw_in_set(e, unit, param, CW_UNITS, 1);
    if (cw_member(d, "StorageResolution")) {
        char res[24];
        snprintf(res, sizeof res, "%d", v_int(d, "StorageResolution", 0));
        snprintf(param, sizeof param, "%s.StorageResolution", at);
        cw_in_set(e, res, param, RESOLUTIONS, 1);
    }
    if (ts && v_time_ms(ts) + PAST_MS < now)
        cw_err(e, CW_INVALID_PARAMETER_VALUE, "The parameter %s.Timestamp must specify a time within the past two weeks.", at);
    else if (ts && v_time_ms(ts) > now + FUTURE_MS)
        cw_err(e, CW_INVALID_PARAMETER_VALUE,
               "The parameter %s.Timestamp must specify a time no more than two hours in the future.", at);
    check_values(e, d, at);
}

/* The datum as one aggregate; 0 when it carries no sample (all Counts 0). */
static int aggregate(const cJSON *d, struct db_cw_point *p)
{
    const cJSON *stats = cw_member(d, "StatisticValues"), *values = cw_member(d, "Values");
    const cJSON *count = cJSON_GetArrayItem(cw_member(d, "Counts"), 0), *v;

    if (stats) {
        p->count = cw_member(stats, "SampleCount")->valuedouble;
        p->sum = cw_member(stats, "Sum")->valuedouble;
        p->min = cw_member(stats, "Minimum")->valuedouble;
        p->max = cw_member(stats, "Maximum")->valuedouble;
        return 1;
    }
    if (!cJSON_GetArraySize(values)) {
        p->count = 1;
        p->sum = p->min = p->max = cw_member(d, "Value")->valuedouble;
        return 1;
    }
    p->count = p->sum = 0;
    p->min = INFINITY;
    p->max = -INFINITY;
    cJSON_ArrayForEach(v, values) {
        double k = count ? count->valuedouble : 1;
        count = count ? count->next : NULL;
        if (k <= 0)
            continue;
        p->count += k;
        p->sum += v->valuedouble * k;
        p->min = fmin(p->min, v->valuedouble);
        p->max = fmax(p->max, v->valuedouble);
    }
    return p->count > 0;
}

int cw_put_metric_data(struct svc_ctx *c, const cJSON *in)
{
    const char *ns = v_str(in, "Namespace");
    const cJSON *data = cw_member(in, "MetricData"), *d;
    struct cw_errs e = {0};
    int i = 0, rc;

    if (cw_require(&e, CW_MISSING_PARAMETER, cw_member(in, "Namespace"), "Namespace") && !strncmp(ns, "AWS/", 4))
        cw_err(&e, CW_INVALID_PARAMETER_VALUE, "The value %s for parameter Namespace is invalid.", ns);
    if (!cJSON_GetArraySize(data))
        cw_require(&e, CW_MISSING_PARAMETER, NULL, "MetricData");
    cw_max_size(&e, data, "MetricData", MAX_DATA);
    if (cw_errs_reply(c, &e))
        return -1;
    cJSON_ArrayForEach(d, data) check_datum(&e, d, ++i, c->now_ms);
    if (cw_errs_reply(c, &e))
        return -1;

    struct db_cw_point *points = calloc((size_t)i, sizeof *points);
    char **dims = calloc((size_t)i, sizeof *dims);
    struct put p = {c->region, points, 0, c->now_ms};
    if (!points || !dims)
        abort(); /* as every request buffer */
    i = 0;
    cJSON_ArrayForEach(d, data) {
        struct db_cw_point *pt = &points[p.n];
        const cJSON *ts = cw_member(d, "Timestamp");
        int dup;
        char *canonical = cw_dims_canonical(cw_member(d, "Dimensions"), &dup);
        if (dup)
            cw_err(&e, CW_INVALID_PARAMETER_VALUE, "No metric may specify the same dimension name twice.");
        if (!aggregate(d, pt)) {
            free(canonical);
            continue;
        }
        pt->namespace = ns;
        pt->name = v_str(d, "MetricName");
        pt->dims = dims[i++] = canonical;
        pt->unit = v_str(d, "Unit") ? v_str(d, "Unit") : "None";
        pt->second = (int64_t)((ts ? v_time_ms(ts) : c->now_ms) / 1000);
        if (v_int(d, "StorageResolution", 60) != 1)
            pt->second -= pt->second % 60; /* standard resolution: one-minute data */
        p.n++;
    }
    rc = cw_errs_reply(c, &e);
    if (!rc && db_write(put_job, &p) != TP_OK)
        rc = reply_error(c, ERR_INTERNAL, NULL);
    if (!rc) {
        jw_obj_begin(&c->out);
        jw_obj_end(&c->out);
    }
    while (i--)
        free(dims[i]);
    free(dims);
    free(points);
    return rc;
}
