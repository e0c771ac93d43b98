/* CloudWatch GetMetricData: MetricStat queries (metric math and Metrics
 * Insights expressions are refused), one series per query from the same
 * per-second aggregates as GetMetricStatistics, paged by MaxDatapoints with
 * NextToken. Its checks answer ValidationError, one line each. */
#include "server/cloudwatch/cloudwatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERIES 500
#define DEFAULT_MAX_DATAPOINTS 100800

static const char *const SCAN_BY[] = {"TimestampDescending", "TimestampAscending", NULL};

/* Ids start with a lower-case letter: ^[a-z][a-zA-Z0-9_]*$ */
static int id_valid(const char *id)
{
    if (*id < 'a' || *id > 'z')
        return 0;
    for (const char *p = id + 1; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') && *p != '_')
            return 0;
    return 1;
}

static void check_query(struct cw_errs *e, const cJSON *q, int i)
{
    const cJSON *stat = cw_member(q, "MetricStat"), *metric = cw_member(stat, "Metric");
    const char *id = v_str(q, "Id"), *name = v_str(stat, "Stat"), *unit = v_str(stat, "Unit");
    long long period = v_int(stat, "Period", 0);
    char at[80], param[160];

    snprintf(at, sizeof at, "MetricDataQueries.member.%d", i);
    snprintf(param, sizeof param, "%s.Id", at);
    if (cw_require(e, CW_VALIDATION_ERROR, cw_member(q, "Id"), param) && !id_valid(id))
        cw_err(e, CW_VALIDATION_ERROR,
               "The value %s for parameter %s is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.", id, param);
    if (cw_member(q, "Expression")) {
        cw_err(e, CW_VALIDATION_ERROR, "The parameter %s.Expression is not supported by tidepool: metric math and "
               "Metrics Insights queries are not implemented.", at);
        return;
    }
    snprintf(param, sizeof param, "%s.MetricStat", at);
    if (!cw_require(e, CW_VALIDATION_ERROR, stat, param))
        return;
    snprintf(param, sizeof param, "%s.MetricStat.Metric.Namespace", at);
    cw_require(e, CW_VALIDATION_ERROR, cw_member(metric, "Namespace"), param);
    snprintf(param, sizeof param, "%s.MetricStat.Metric.MetricName", at);
    cw_require(e, CW_VALIDATION_ERROR, cw_member(metric, "MetricName"), param);
    snprintf(param, sizeof param, "%s.MetricStat.Metric.Dimensions", at);
    cw_max_size(e, cw_member(metric, "Dimensions"), param, CW_MAX_DIMENSIONS);
    snprintf(param, sizeof param, "%s.MetricStat.Period", at);
    if (cw_require(e, CW_VALIDATION_ERROR, cw_member(stat, "Period"), param) && !cw_period_valid(period))
        cw_err(e, CW_VALIDATION_ERROR, "The value %lld for parameter %s is not a valid period.", period, param);
    snprintf(param, sizeof param, "%s.MetricStat.Stat", at);
    if (cw_require(e, CW_VALIDATION_ERROR, cw_member(stat, "Stat"), param) && cw_stat_parse(name) < 0)
        cw_err(e, CW_VALIDATION_ERROR, name[0] == 'p' || name[0] == 't' || name[0] == 'w'
               ? "The value %s for parameter %s is a percentile or trimmed statistic, which tidepool does not compute."
               : "The value %s for parameter %s is not a valid statistic.", name, param);
    snprintf(param, sizeof param, "%s.MetricStat.Unit", at);
    if (unit)
        cw_in_set(e, unit, param, CW_UNITS, 1);
}

/* One query's periods, ascending; units of a period merged, as a query
 * without Unit reads them all together. */
struct series {
    struct db_cw_stat *p;
    size_t n, cap;
};

static int collect(void *ctx, const struct db_cw_stat *s)
{
    struct series *sr = ctx;
    struct db_cw_stat *last = sr->n ? &sr->p[sr->n - 1] : NULL;
    if (last && last->start == s->start) {
        last->count += s->count;
        last->sum += s->sum;
        last->min = fmin(last->min, s->min);
        last->max = fmax(last->max, s->max);
        return 0;
    }
    if (sr->n == sr->cap) {
        sr->cap = sr->cap ? sr->cap * 2 : 64;
        if (!(sr->p = realloc(sr->p, sr->cap * sizeof *sr->p)))
            abort(); /* as every response buffer */
    }
    sr->p[sr->n] = *s;
    sr->p[sr->n++].unit = NULL; /* valid during the callback only */
    return 0;
}

static int read_series(struct svc_ctx *c, const cJSON *q, const cJSON *in, struct series *sr)
{
    const cJSON *stat = cw_member(q, "MetricStat"), *metric = cw_member(stat, "Metric");
    long long period = v_int(stat, "Period", 60);
    int64_t start = cw_query_start(cw_member(in, "StartTime"), period);
    int64_t end = (int64_t)((v_time_ms(cw_member(in, "EndTime")) + 999) / 1000), id;
    int dup;
    char *dims = cw_dims_canonical(cw_member(metric, "Dimensions"), &dup);
    struct db_conn *db = db_reader_acquire();
    int rc = db_cw_metric_id(db, c->region, v_str(metric, "Namespace"), v_str(metric, "MetricName"), dims, &id);
    if (rc == TP_OK)
        rc = db_cw_stats(db, id, start, end, period, v_str(stat, "Unit"), collect, sr);
    db_reader_release(db);
    free(dims);
    return rc == TP_ENOTFOUND ? TP_OK : rc;
}

/* Writes points [off, off + n) of the series, in the order ScanBy asks. */
static void write_result(struct jw *w, const cJSON *q, const struct series *sr, size_t off, size_t n, int desc)
{
    const cJSON *stat = cw_member(q, "MetricStat");
    enum cw_stat which = (enum cw_stat)cw_stat_parse(v_str(stat, "Stat"));
    const char *label = v_str(q, "Label");
    jw_obj_begin(w);
    jw_key(w, "Id");
    jw_str(w, v_str(q, "Id"));
    jw_key(w, "Label");
    jw_str(w, label ? label : v_str(cw_member(stat, "Metric"), "MetricName"));
    jw_key(w, "Timestamps");
    jw_arr_begin(w);
    for (size_t i = off; i < off + n; i++)
        jw_time_ms(w, (uint64_t)sr->p[desc ? sr->n - 1 - i : i].start * 1000);
    jw_arr_end(w);
    jw_key(w, "Values");
    jw_arr_begin(w);
    for (size_t i = off; i < off + n; i++)
        jw_double(w, cw_stat_value(which, &sr->p[desc ? sr->n - 1 - i : i]));
    jw_arr_end(w);
    jw_key(w, "StatusCode");
    jw_str(w, off + n < sr->n ? "PartialData" : "Complete");
    jw_obj_end(w);
}

static int check_request(struct svc_ctx *c, const cJSON *in, struct cw_errs *e)
{
    static const char *const REQUIRED[] = {"MetricDataQueries", "StartTime", "EndTime"};
    const cJSON *queries = cw_member(in, "MetricDataQueries"), *q;
    const char *scan = v_str(in, "ScanBy");
    int i = 0;

    for (unsigned k = 0; k < sizeof REQUIRED / sizeof *REQUIRED; k++)
        cw_require(e, CW_VALIDATION_ERROR, cw_member(in, REQUIRED[k]), REQUIRED[k]);
    if (cw_errs_reply(c, e))
        return -1;
    cw_max_size(e, queries, "MetricDataQueries", MAX_QUERIES);
    cJSON_ArrayForEach(q, queries) check_query(e, q, ++i);
    if (scan)
        cw_in_set(e, scan, "ScanBy", SCAN_BY, 0);
    uint64_t start_ms = v_time_ms(cw_member(in, "StartTime")), end_ms = v_time_ms(cw_member(in, "EndTime"));
    if (start_ms == end_ms)
        cw_err(e, CW_VALIDATION_ERROR, "The parameter StartTime must not equal parameter EndTime.");
    else if (start_ms > end_ms)
        cw_err(e, CW_VALIDATION_ERROR, "The parameter EndTime must be greater than StartTime.");
    return cw_errs_reply(c, e);
}

int cw_get_metric_data(struct svc_ctx *c, const cJSON *in)
{
    struct cw_errs e = {.line_ends = 1};
    const char *token = v_str(in, "NextToken"), *scan = v_str(in, "ScanBy");
    long long budget = v_int(in, "MaxDatapoints", DEFAULT_MAX_DATAPOINTS);
    int first = 0, used = 0, desc = !scan || !strcmp(scan, "TimestampDescending"), qi = 0, rc = TP_OK;
    size_t skip = 0;
    const cJSON *q;

    if (check_request(c, in, &e))
        return -1;
    if (token && (sscanf(token, "tp1.%d.%zu%n", &first, &skip, &used) != 2 || token[used] || first < 0))
        return reply_error(c, CW_INVALID_NEXT_TOKEN, "The service couldn't process the NextToken.");
    if (budget < 1)
        budget = DEFAULT_MAX_DATAPOINTS;

    jw_obj_begin(&c->out);
    jw_key(&c->out, "MetricDataResults");
    jw_arr_begin(&c->out);
    char next[48] = "";
    cJSON_ArrayForEach(q, cw_member(in, "MetricDataQueries")) {
        if (qi++ < first || cJSON_IsFalse(cw_member(q, "ReturnData")))
            continue;
        if (!budget) {
            snprintf(next, sizeof next, "tp1.%d.0", qi - 1);
            break;
        }
        struct series sr = {0};
        size_t off = qi - 1 == first ? skip : 0, n;
        if ((rc = read_series(c, q, in, &sr)) != TP_OK) {
            free(sr.p);
            break;
        }
        off = off < sr.n ? off : sr.n;
        n = sr.n - off < (size_t)budget ? sr.n - off : (size_t)budget;
        write_result(&c->out, q, &sr, off, n, desc);
        budget -= (long long)n;
        if (off + n < sr.n)
            snprintf(next, sizeof next, "tp1.%d.%zu", qi - 1, off + n);
        free(sr.p);
        if (next[0])
            break;
    }
    if (rc != TP_OK)
        return reply_error(c, ERR_INTERNAL, NULL);
    jw_arr_end(&c->out);
    if (next[0]) {
        jw_key(&c->out, "NextToken");
        jw_str(&c->out, next);
    }
    jw_key(&c->out, "Messages");
    jw_arr_begin(&c->out);
    jw_arr_end(&c->out);
    jw_obj_end(&c->out);
    return 0;
}
