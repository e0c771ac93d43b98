/* CloudWatch metrics (tables cw_metrics and cw_points; see schema.c): one row
 * per metric, and its datapoints aggregated per second (sample count, sum,
 * minimum, maximum) and unit. Readers call the lookups on a reader
 * connection; functions taking `w` run only inside a db_write job. */
#ifndef TP_METRICS_STORE_H
#define TP_METRICS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/db.h"

/* How long datapoints are kept: CloudWatch keeps 1-minute data 15 days (and
 * sub-minute data 3 hours, then rolled up to minutes); here every datapoint
 * stays at the resolution it was stored at for 15 days. */
#define DB_CW_RETENTION_MS (15ull * 24 * 3600 * 1000)

/* One datum of a PutMetricData, already reduced to an aggregate. */
struct db_cw_point {
    const char *namespace, *name;
    const char *dims;  /* canonical JSON: [{"Name":…,"Value":…}] sorted by Name */
    const char *unit;  /* "None" when the client gave none */
    int64_t second;    /* epoch second it counts in */
    double count, sum, min, max;
};

/* Adds the points of a region, creating metrics as needed and marking them
 * active at now_ms. */
int db_cw_put(struct db_conn *w, const char *region, const struct db_cw_point *p, size_t n, uint64_t now_ms);

/* TP_OK with *id, or TP_ENOTFOUND. */
int db_cw_metric_id(struct db_conn *c, const char *region, const char *ns, const char *name, const char *dims,
                    int64_t *id);

/* One period of one unit. */
struct db_cw_stat {
    int64_t start;     /* the period's first second */
    const char *unit;  /* valid during the callback */
    double count, sum, min, max;
};

/* The datapoints of [start, end) in periods of `period` seconds counted from
 * start, per unit (only `unit` when not NULL), in ascending order of period
 * then unit; cb returns non-zero to stop. */
int db_cw_stats(struct db_conn *c, int64_t metric_id, int64_t start, int64_t end, int64_t period, const char *unit,
                int (*cb)(void *ctx, const struct db_cw_stat *s), void *ctx);

struct db_cw_metric {
    int64_t id;
    const char *namespace, *name, *dims; /* valid during the callback */
};

/* The metrics of a region with id > after_id in id order, of one namespace
 * and name when those are not NULL, that had data put since active_ms; cb
 * returns non-zero to stop. */
int db_cw_list(struct db_conn *c, const char *region, const char *ns, const char *name, uint64_t active_ms,
               int64_t after_id, int (*cb)(void *ctx, const struct db_cw_metric *m), void *ctx);

/* The writer's tick: datapoints past retention go, then the metrics left
 * without any. */
int db_cw_tick(struct db_conn *w, uint64_t now_ms);

#endif
