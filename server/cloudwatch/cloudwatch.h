/* Amazon CloudWatch metrics (API 2010-08-01) on the three protocols clients
 * use: awsJson1_0 (X-Amz-Target GraniteServiceVersion20100801.<Op>), Smithy
 * RPC v2 CBOR (POST /service/GraniteServiceVersion20100801/operation/<Op>)
 * and awsQuery (form-encoded Action=<Op>&Version=2010-08-01, XML answers).
 * Handlers see the same cJSON input whatever the protocol (the awsQuery front
 * builds it from the form with the operation's rules), write one document
 * with the jw writer (which the awsQuery front turns into XML), and fail
 * through reply_error with CloudWatch's codes and texts. */
#ifndef TP_CLOUDWATCH_H
#define TP_CLOUDWATCH_H

#include "protocol/strbuf.h"
#include "server/net/service.h"
#include "storage/metrics.h"

#define CW_VERSION "2010-08-01"
#define CW_XMLNS "http://monitoring.amazonaws.com/doc/2010-08-01/"
#define CW_MAX_DIMENSIONS 30

extern const struct svc_service cloudwatch_service;

/* ---- handlers ---- */

int cw_put_metric_data(struct svc_ctx *c, const cJSON *in);
int cw_get_metric_statistics(struct svc_ctx *c, const cJSON *in);
int cw_get_metric_data(struct svc_ctx *c, const cJSON *in);
int cw_list_metrics(struct svc_ctx *c, const cJSON *in);

/* ---- what the handlers share (cloudwatch_api.c) ---- */

/* A member of a request object; NULL when absent or null (CBOR may send null). */
const cJSON *cw_member(const cJSON *o, const char *name);

/* CloudWatch reports every problem of a request, one per line, under the
 * code of the first: collect them, then reply once. GetMetricData ends each
 * line with a newline, the others only separate them (line_ends). */
struct cw_errs {
    enum tp_err code;
    struct strbuf msg;
    int n;
    int line_ends;
};

/* Adds a message; one of another code than the first is dropped. */
void cw_err(struct cw_errs *e, enum tp_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "The parameter <param> is required." (under code) when v is NULL; returns
 * whether it was there. */
int cw_require(struct cw_errs *e, enum tp_err code, const cJSON *v, const char *param);
/* "The parameter <param> must be a value in the set [ a, b ]." when value is
 * not one of set (NULL-terminated); spaced: with the blanks inside the
 * brackets that older texts have. Returns whether it was. */
int cw_in_set(struct cw_errs *e, const char *value, const char *param, const char *const *set, int spaced);
/* "The collection <param> must not have a size greater than <max>." */
void cw_max_size(struct cw_errs *e, const cJSON *list, const char *param, int max);
/* 0 when nothing was collected; else reply_error with it all and -1. */
int cw_errs_reply(struct svc_ctx *c, struct cw_errs *e);

extern const char *const CW_UNITS[];

/* The statistics GetMetricStatistics and GetMetricData compute. */
enum cw_stat { CW_SAMPLE_COUNT, CW_AVERAGE, CW_SUM, CW_MINIMUM, CW_MAXIMUM, CW_N_STATS };
extern const char *const CW_STATS[]; /* their names, NULL-terminated */
/* The index in CW_STATS, or -1. */
int cw_stat_parse(const char *name);
double cw_stat_value(enum cw_stat s, const struct db_cw_stat *d);

/* Dimensions ([{Name, Value}], NULL for none) as the canonical JSON the
 * metrics table keys on: sorted by Name. *dup is set when two share a Name. */
char *cw_dims_canonical(const cJSON *dims, int *dup);
/* Writes "Dimensions": [...] from canonical JSON. */
void cw_write_dims(struct jw *w, const char *dims);

/* Periods CloudWatch takes: 1, 5, 10, 30 and multiples of 60. */
int cw_period_valid(long long period);
/* The first second of a query: StartTime rounded down as CloudWatch does,
 * to the period below a minute, else to the minute. */
int64_t cw_query_start(const cJSON *start, long long period);

/* ---- the awsQuery front (cloudwatch_query.c) ---- */

/* Whether rq is an awsQuery request for CloudWatch: a form body or a query
 * string carrying Action and Version=2010-08-01. */
int cw_query_match(const struct tp_request *rq);
/* Serves it (c has the request, the region, the request id): parses the
 * form, runs the operation and answers in XML. */
void cw_query_serve(struct svc_ctx *c);

#endif
