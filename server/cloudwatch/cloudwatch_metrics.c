/* CloudWatch GetMetricStatistics and ListMetrics: the service's checks with
 * its texts, then reads of the metrics tables. */
#include "server/cloudwatch/cloudwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DATAPOINTS 1440 /* per GetMetricStatistics call */
#define MAX_FILTERS 10
#define LIST_PAGE 500
#define RECENT_MS (3ull * 3600 * 1000) /* RecentlyActive PT3H */

/* ---- GetMetricStatistics ---- */

struct datapoints {
    struct jw *w;
    int want[CW_N_STATS];
};

static int write_datapoint(void *ctx, const struct db_cw_stat *s)
{
    struct datapoints *dp = ctx;
    jw_obj_begin(dp->w);
    jw_key(dp->w, "Timestamp");
    jw_time_ms(dp->w, (uint64_t)s->start * 1000);
    for (int i = 0; i < CW_N_STATS; i++)
        if (dp->want[i]) {
            jw_key(dp->w, CW_STATS[i]);
            jw_double(dp->w, cw_stat_value((enum cw_stat)i, s));
        }
    jw_key(dp->w, "Unit");
    jw_str(dp->w, s->unit);
    jw_obj_end(dp->w);
    return 0;
}

/* The checks of Statistics, ExtendedStatistics and Unit. */
static void check_statistics(struct cw_errs *e, const cJSON *in, struct datapoints *dp)
{
    const cJSON *stats = cw_member(in, "Statistics"), *ext = cw_member(in, "ExtendedStatistics"), *s;
    const char *unit = v_str(in, "Unit");
    char param[64];
    int i = 0;

    cw_max_size(e, stats, "Statistics", CW_N_STATS);
    cw_max_size(e, ext, "ExtendedStatistics", 10);
    cJSON_ArrayForEach(s, stats) {
        snprintf(param, sizeof param, "Statistics.member.%d.<list element>", ++i);
        if (cw_in_set(e, s->valuestring, param, CW_STATS, 0))
            dp->want[cw_stat_parse(s->valuestring)] = 1;
    }
    if (!cJSON_GetArraySize(stats) && !cJSON_GetArraySize(ext))
        cw_err(e, CW_INVALID_PARAMETER_COMBINATION, "Must specify either Statistics or ExtendedStatistics");
    if (cJSON_GetArraySize(ext))
        cw_err(e, CW_INVALID_PARAMETER_VALUE, "ExtendedStatistics (percentiles) are not supported by tidepool.");
    if (unit)
        cw_in_set(e, unit, "Unit", CW_UNITS, 1);
}

int cw_get_metric_statistics(struct svc_ctx *c, const cJSON *in)
{
    static const char *const REQUIRED[] = {"Namespace", "MetricName", "StartTime", "EndTime", "Period"};
    struct datapoints dp = {.w = &c->out};
    struct cw_errs e = {0};
    const char *name = v_str(in, "MetricName");
    long long period = v_int(in, "Period", 0);

    for (unsigned i = 0; i < sizeof REQUIRED / sizeof *REQUIRED; i++)
        cw_require(&e, CW_MISSING_PARAMETER, cw_member(in, REQUIRED[i]), REQUIRED[i]);
    if (cw_errs_reply(c, &e))
        return -1;
    cw_max_size(&e, cw_member(in, "Dimensions"), "Dimensions", CW_MAX_DIMENSIONS);
    check_statistics(&e, in, &dp);
    if (!cw_period_valid(period))
        cw_err(&e, CW_INVALID_PARAMETER_VALUE, "The parameter Period must be 1, 5, 10, 30, or a multiple of 60.");
    uint64_t start_ms = v_time_ms(cw_member(in, "StartTime")), end_ms = v_time_ms(cw_member(in, "EndTime"));
    if (start_ms == end_ms)
        cw_err(&e, CW_INVALID_PARAMETER_VALUE, "The parameter StartTime must not equal parameter EndTime.");
    else if (start_ms > end_ms)
        cw_err(&e, CW_INVALID_PARAMETER_VALUE, "The parameter StartTime must be less than the parameter EndTime.");
    if (cw_errs_reply(c, &e))
        return -1;
    int64_t start = cw_query_start(cw_member(in, "StartTime"), period), end = (int64_t)((end_ms + 999) / 1000);
    long long requested = (end - start + period - 1) / period;
    if (requested > MAX_DATAPOINTS)
        return reply_error(c, CW_INVALID_PARAMETER_COMBINATION,
                           "You have requested up to %lld datapoints, which exceeds the limit of %d. You may reduce "
                           "the datapoints requested by increasing Period, or decreasing the time range.",
                           requested, MAX_DATAPOINTS);

    int dup, rc;
    int64_t id;
    char *dims = cw_dims_canonical(cw_member(in, "Dimensions"), &dup);
    struct db_conn *db = db_reader_acquire();
    jw_obj_begin(&c->out);
    jw_key(&c->out, "Label");
    jw_str(&c->out, name);
    jw_key(&c->out, "Datapoints");
    jw_arr_begin(&c->out);
    rc = db_cw_metric_id(db, c->region, v_str(in, "Namespace"), name, dims, &id);
    if (rc == TP_OK)
        rc = db_cw_stats(db, id, start, end, period, v_str(in, "Unit"), write_datapoint, &dp);
    db_reader_release(db);
    free(dims);
    if (rc != TP_OK && rc != TP_ENOTFOUND)
        return reply_error(c, ERR_INTERNAL, NULL);
    jw_arr_end(&c->out);
    jw_obj_end(&c->out);
    return 0;
}

/* ---- ListMetrics ---- */

struct listing {
    struct jw *w;
    const cJSON *filters;
    int count;
    int64_t last_id;
    int more;
};

/* Whether the metric has every filter's dimension (with its value, if given). */
static int matches(const cJSON *dims, const cJSON *filters)
{
    const cJSON *f, *d;
    cJSON_ArrayForEach(f, filters) {
        const char *name = v_str(f, "Name"), *value = v_str(f, "Value");
        int found = 0;
        cJSON_ArrayForEach(d, dims) found |= !strcmp(v_str(d, "Name"), name) && (!value || !strcmp(v_str(d, "Value"), value));
        if (!found)
            return 0;
    }
    return 1;
}

static int list_one(void *ctx, const struct db_cw_metric *m)
{
    struct listing *l = ctx;
    cJSON *dims = cJSON_Parse(m->dims);
    int ok = matches(dims, l->filters);
    cJSON_Delete(dims);
    if (!ok)
        return 0;
    if (l->count == LIST_PAGE) {
        l->more = 1;
        return 1;
    }
    jw_obj_begin(l->w);
    jw_key(l->w, "Namespace");
    jw_str(l->w, m->namespace);
    jw_key(l->w, "MetricName");
    jw_str(l->w, m->name);
    cw_write_dims(l->w, m->dims);
    jw_obj_end(l->w);
    l->count++;
    l->last_id = m->id;
    return 0;
}

int cw_list_metrics(struct svc_ctx *c, const cJSON *in)
{
    static const char *const RECENT[] = {"PT3H", NULL};
    struct listing l = {.w = &c->out, .filters = cw_member(in, "Dimensions")};
    const char *token = v_str(in, "NextToken"), *recent = v_str(in, "RecentlyActive");
    struct cw_errs e = {0};
    const cJSON *f;
    long long after = 0;
    int i = 0, used = 0;
    char param[64];

    cw_max_size(&e, l.filters, "Dimensions", MAX_FILTERS);
    cJSON_ArrayForEach(f, l.filters) {
        snprintf(param, sizeof param, "Dimensions.member.%d.Name", ++i);
        cw_require(&e, CW_MISSING_PARAMETER, cw_member(f, "Name"), param);
    }
    if (recent)
        cw_in_set(&e, recent, "RecentlyActive", RECENT, 1);
    if (token && (sscanf(token, "tp1.%lld%n", &after, &used) != 1 || token[used]))
        cw_err(&e, CW_INVALID_PARAMETER_VALUE, "Request parameter NextToken is invalid");
    if (cw_errs_reply(c, &e))
        return -1;

    jw_obj_begin(&c->out);
    jw_key(&c->out, "Metrics");
    jw_arr_begin(&c->out);
    struct db_conn *db = db_reader_acquire();
    int rc = db_cw_list(db, c->region, v_str(in, "Namespace"), v_str(in, "MetricName"),
                        recent ? c->now_ms - RECENT_MS : 0, after, list_one, &l);
    db_reader_release(db);
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    jw_arr_end(&c->out);
    if (l.more) {
        char next[32];
        snprintf(next, sizeof next, "tp1.%lld", (long long)l.last_id);
        jw_key(&c->out, "NextToken");
        jw_str(&c->out, next);
    }
    jw_obj_end(&c->out);
    return 0;
}
