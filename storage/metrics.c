/* CloudWatch metrics; see metrics.h and the table notes in schema.c. */
#include "storage/metrics.h"

static int metric_upsert(struct db_conn *w, const char *region, const struct db_cw_point *p, uint64_t now_ms,
                         int64_t *id)
{
    sqlite3_stmt *st = db_stmt(w, "INSERT INTO cw_metrics(region, namespace, name, dimensions, updated_ms) "
                                  "VALUES(?,?,?,?,?) ON CONFLICT(region, namespace, name, dimensions) "
                                  "DO UPDATE SET updated_ms=max(updated_ms, excluded.updated_ms) RETURNING id");
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->namespace, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->dims, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
    int rc = db_step_row(st);
    if (rc == TP_OK)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == TP_ENOTFOUND ? TP_EIO : rc;
}

int db_cw_put(struct db_conn *w, const char *region, const struct db_cw_point *p, size_t n, uint64_t now_ms)
{
    int rc = TP_OK;
    for (size_t i = 0; i < n && rc == TP_OK; i++) {
        int64_t id;
        if ((rc = metric_upsert(w, region, &p[i], now_ms, &id)) != TP_OK)
            break;
        sqlite3_stmt *st = db_stmt(w, "INSERT INTO cw_points(metric_id, second, unit, sample_count, total, "
                                      "minimum, maximum) VALUES(?,?,?,?,?,?,?) "
                                      "ON CONFLICT(metric_id, second, unit) DO UPDATE SET "
                                      "sample_count=sample_count+excluded.sample_count, total=total+excluded.total, "
                                      "minimum=min(minimum, excluded.minimum), maximum=max(maximum, excluded.maximum)");
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, p[i].second);
        sqlite3_bind_text(st, 3, p[i].unit, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, p[i].count);
        sqlite3_bind_double(st, 5, p[i].sum);
        sqlite3_bind_double(st, 6, p[i].min);
        sqlite3_bind_double(st, 7, p[i].max);
        rc = db_step_done(st);
    }
    return rc;
}

int db_cw_metric_id(struct db_conn *c, const char *region, const char *ns, const char *name, const char *dims,
                    int64_t *id)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT id FROM cw_metrics WHERE region=? AND namespace=? AND name=? "
                                  "AND dimensions=?");
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dims, -1, SQLITE_STATIC);
    int rc = db_step_row(st);
    if (rc == TP_OK)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

int db_cw_stats(struct db_conn *c, int64_t metric_id, int64_t start, int64_t end, int64_t period, const char *unit,
                int (*cb)(void *ctx, const struct db_cw_stat *s), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT (second - ?2) / ?4 AS b, unit, sum(sample_count), sum(total), "
                                  "min(minimum), max(maximum) FROM cw_points WHERE metric_id=?1 AND second >= ?2 "
                                  "AND second < ?3 AND (?5 IS NULL OR unit=?5) GROUP BY b, unit ORDER BY b, unit");
    int rc = TP_OK, step;
    sqlite3_bind_int64(st, 1, metric_id);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, end);
    sqlite3_bind_int64(st, 4, period);
    if (unit)
        sqlite3_bind_text(st, 5, unit, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_cw_stat s = {
            .start = start + sqlite3_column_int64(st, 0) * period,
            .unit = (const char *)sqlite3_column_text(st, 1),
            .count = sqlite3_column_double(st, 2),
            .sum = sqlite3_column_double(st, 3),
            .min = sqlite3_column_double(st, 4),
            .max = sqlite3_column_double(st, 5),
        };
        if (cb(ctx, &s))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    return rc;
}

int db_cw_list(struct db_conn *c, const char *region, const char *ns, const char *name, uint64_t active_ms,
               int64_t after_id, int (*cb)(void *ctx, const struct db_cw_metric *m), void *ctx)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT id, namespace, name, dimensions FROM cw_metrics WHERE region=?1 "
                                  "AND (?2 IS NULL OR namespace=?2) AND (?3 IS NULL OR name=?3) "
                                  "AND updated_ms >= ?4 AND id > ?5 ORDER BY id");
    int rc = TP_OK, step;
    sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
    if (ns)
        sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    if (name)
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)active_ms);
    sqlite3_bind_int64(st, 5, after_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_cw_metric m = {
            .id = sqlite3_column_int64(st, 0),
            .namespace = (const char *)sqlite3_column_text(st, 1),
            .name = (const char *)sqlite3_column_text(st, 2),
            .dims = (const char *)sqlite3_column_text(st, 3),
        };
        if (cb(ctx, &m))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TP_EIO;
    sqlite3_reset(st);
    return rc;
}

int db_cw_tick(struct db_conn *w, uint64_t now_ms)
{
    int64_t cut_ms = (int64_t)now_ms - (int64_t)DB_CW_RETENTION_MS;
    /* bounded steps, so a backlog never holds the writer for long */
    sqlite3_stmt *st = db_stmt(w, "DELETE FROM cw_points WHERE id IN "
                                  "(SELECT id FROM cw_points WHERE second < ? LIMIT 10000)");
    sqlite3_bind_int64(st, 1, cut_ms / 1000);
    int rc = db_step_done(st);
    if (rc != TP_OK)
        return rc;
    st = db_stmt(w, "DELETE FROM cw_metrics WHERE id IN (SELECT m.id FROM cw_metrics m WHERE m.updated_ms < ? "
                    "AND NOT EXISTS (SELECT 1 FROM cw_points p WHERE p.metric_id=m.id) LIMIT 1000)");
    sqlite3_bind_int64(st, 1, cut_ms);
    return db_step_done(st);
}
