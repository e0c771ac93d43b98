/* CloudWatch storage without HTTP: points of one second aggregate, periods
 * count from the start, units stay apart (or one is picked), metrics are
 * keyed by region, namespace, name and dimensions, listings filter and page,
 * the tick trims past retention (then the metrics left empty), and it all
 * survives a reopen. Also the gzip bodies the SDKs compress. */
#include "protocol/gunzip.h"
#include "storage/db.h"
#include "storage/metrics.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DIMS "[{\"Name\":\"StreamName\",\"Value\":\"s\"}]"

struct put { const struct db_cw_point *p; size_t n; uint64_t now; const char *region; };

static int put_job(struct db_conn *w, void *ctx)
{
    struct put *p = ctx;
    return db_cw_put(w, p->region, p->p, p->n, p->now);
}

static int tick_job(struct db_conn *w, void *ctx) { return db_cw_tick(w, *(uint64_t *)ctx); }

struct stats { struct db_cw_stat s[16]; char unit[16][16]; int n; };

static int collect(void *ctx, const struct db_cw_stat *s)
{
    struct stats *st = ctx;
    CHECK(st->n < 16);
    st->s[st->n] = *s;
    snprintf(st->unit[st->n], sizeof st->unit[0], "%s", s->unit);
    st->s[st->n++].unit = NULL;
    return 0;
}

static struct stats read_stats(const char *ns, int64_t start, int64_t end, int64_t period, const char *unit)
{
    struct stats st = {.n = 0};
    struct db_conn *r = db_reader_acquire();
    int64_t id;
    CHECK(db_cw_metric_id(r, "us-east-1", ns, "m", DIMS, &id) == TP_OK);
    CHECK(db_cw_stats(r, id, start, end, period, unit, collect, &st) == TP_OK);
    db_reader_release(r);
    return st;
}

static int count_one(void *ctx, const struct db_cw_metric *m)
{
    (void)m;
    ++*(int *)ctx;
    return 0;
}

static int listed(const char *region, const char *ns, uint64_t active_ms)
{
    int n = 0;
    struct db_conn *r = db_reader_acquire();
    CHECK(db_cw_list(r, region, ns, NULL, active_ms, 0, count_one, &n) == TP_OK);
    db_reader_release(r);
    return n;
}

static void gzip_cases(void)
{
    const char *text = "Action=PutMetricData&Version=2010-08-01";
    unsigned char packed[256], twice[512];
    uLongf plen = sizeof packed;
    z_stream z;
    size_t n;

    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = packed;
    z.avail_out = (uInt)plen;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    plen = z.total_out;
    deflateEnd(&z);

    unsigned char *out = gunzip(packed, plen, 1 << 20, &n);
    CHECK(out && n == strlen(text) && !memcmp(out, text, n));
    free(out);
    memcpy(twice, packed, plen); /* concatenated members read as one body */
    memcpy(twice + plen, packed, plen);
    CHECK((out = gunzip(twice, plen * 2, 1 << 20, &n)) && n == 2 * strlen(text));
    free(out);
    CHECK(!gunzip(packed, plen - 3, 1 << 20, &n));            /* cut short */
    CHECK(!gunzip((const unsigned char *)text, strlen(text), 1 << 20, &n)); /* not gzip */
    CHECK(!gunzip(packed, plen, 10, &n));                      /* inflates past the cap */
}

int main(void)
{
    char dir[] = "/tmp/tp-cwstore-XXXXXX", err[256];
    uint64_t now = db_now_ms();
    int64_t t0 = (int64_t)(now / 1000) - 600;
    CHECK(mkdtemp(dir));
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    gzip_cases();

    const struct db_cw_point pts[] = {
        {"N", "m", DIMS, "Count", t0 + 1, 1, 2, 2, 2},
        {"N", "m", DIMS, "Count", t0 + 1, 2, 10, 4, 6},
        {"N", "m", DIMS, "Count", t0 + 70, 3, 3, 1, 1},
        {"N", "m", DIMS, "Bytes", t0 + 1, 1, 100, 100, 100},
        {"N", "m", "[]", "Count", t0 + 1, 1, 1, 1, 1},
        {"Old", "m", DIMS, "None", t0 - 20 * 86400, 1, 1, 1, 1},
    };
    struct put p = {pts, sizeof pts / sizeof *pts, now - 20ull * 86400 * 1000, "us-east-1"};
    CHECK(db_write(put_job, &p) == TP_OK);
    p.n = 5; /* the same points again, now: they add up */
    p.now = now;
    CHECK(db_write(put_job, &p) == TP_OK);

    struct stats st = read_stats("N", t0, t0 + 120, 1, NULL);
    CHECK(st.n == 3);
    CHECK(st.s[0].start == t0 + 1 && !strcmp(st.unit[0], "Bytes") && st.s[0].count == 2 && st.s[0].sum == 200);
    CHECK(st.s[1].start == t0 + 1 && !strcmp(st.unit[1], "Count"));
    CHECK(st.s[1].count == 6 && st.s[1].sum == 24 && st.s[1].min == 2 && st.s[1].max == 6);
    CHECK(st.s[2].start == t0 + 70 && st.s[2].count == 6);
    st = read_stats("N", t0, t0 + 120, 60, "Count");
    CHECK(st.n == 2 && st.s[0].start == t0 && st.s[0].count == 6 && st.s[1].start == t0 + 60);
    st = read_stats("N", t0 + 2, t0 + 70, 60, NULL); /* end is exclusive */
    CHECK(st.n == 0);

    CHECK(listed("us-east-1", "N", 0) == 2);
    CHECK(listed("us-east-1", NULL, 0) == 3);
    CHECK(listed("us-east-1", NULL, now - 1000) == 2); /* "Old" was put 20 days ago */
    CHECK(listed("eu-west-1", NULL, 0) == 0);

    db_close();
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    CHECK(listed("us-east-1", NULL, 0) == 3);
    CHECK(db_write(tick_job, &now) == TP_OK);
    CHECK(listed("us-east-1", NULL, 0) == 2); /* past retention: its point, then the metric */
    CHECK(read_stats("N", t0, t0 + 120, 60, NULL).n == 3);

    db_close();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
