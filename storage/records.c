/* Records in segments; see records.h and schema.c.
 *
 * Segment body, per record: u16 key length, u32 data length (little-endian),
 * key bytes, data bytes. A PutRecords call becomes one segment per shard it
 * touched, so the row count follows requests, not records.
 *
 * Only the writer thread appends. Arrival times are made non-decreasing per
 * process (the wall clock may step back), so AT_TIMESTAMP can search them. */
#include "storage/records.h"

#include <stdlib.h>
#include <string.h>

#define HDR 6

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct route {
    int64_t id;
    uint32_t ix;
    hashkey_t start, end;
    uint64_t created_ms, next_seq;
    size_t bytes, count;
};

static int by_hash(const void *a, const void *b)
{
    const struct route *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int load_routes(struct db_conn *w, int64_t stream_id, struct route **out, unsigned *n)
{
    struct db_shard *sh;
    unsigned k, m = 0;
    int rc = db_stream_shards_open(w, stream_id, &sh, &k);
    if (rc != TP_OK)
        return rc;
    struct route *r = calloc(k ? k : 1, sizeof *r);
    if (!r) {
        free(sh);
        return TP_EIO;
    }
    for (unsigned i = 0; i < k; i++)
        r[m++] = (struct route){sh[i].id, sh[i].ix, sh[i].start, sh[i].end, sh[i].created_ms, sh[i].next_seq, 0, 0};
    free(sh);
    qsort(r, m, sizeof *r, by_hash);
    *out = r;
    *n = m;
    return TP_OK;
}

static struct route *find_route(struct route *r, unsigned n, hashkey_t h)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (h < r[mid].start)
            hi = mid;
        else if (h > r[mid].end)
            lo = mid + 1;
        else
            return &r[mid];
    }
    return NULL;
}

int db_records_append(struct db_conn *w, int64_t stream_id, int encrypted,
                      struct db_put_record *recs, size_t n, uint64_t *arrival_ms)
{
    static uint64_t last_arrival; /* writer thread only */
    struct route *routes = NULL, **of = NULL;
    unsigned nr = 0;
    unsigned char *body = NULL;
    int rc = load_routes(w, stream_id, &routes, &nr);
    if (rc != TP_OK)
        return rc;

    uint64_t now = db_now_ms();
    if (now < last_arrival)
        now = last_arrival;
    last_arrival = now;
    *arrival_ms = now;

    of = malloc((n ? n : 1) * sizeof *of);
    if (!of) {
        rc = TP_EIO;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct route *r = find_route(routes, nr, recs[i].hash);
        if (!r) {
            rc = TP_ENOTFOUND;
            goto out;
        }
        of[i] = r;
        recs[i].shard_ix = r->ix;
        recs[i].shard_created_ms = r->created_ms;
        recs[i].seq_ix = r->next_seq + r->count++;
        r->bytes += HDR + recs[i].pk_len + recs[i].data_len;
    }
    for (unsigned s = 0; s < nr; s++) {
        struct route *r = &routes[s];
        if (!r->count)
            continue;
        unsigned char *p = body = malloc(r->bytes ? r->bytes : 1);
        if (!body) {
            rc = TP_EIO;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (of[i] != r)
                continue;
            put_le(p, recs[i].pk_len, 2);
            put_le(p + 2, recs[i].data_len, 4);
            memcpy(p + HDR, recs[i].pk, recs[i].pk_len);
            memcpy(p + HDR + recs[i].pk_len, recs[i].data, recs[i].data_len);
            p += HDR + recs[i].pk_len + recs[i].data_len;
        }
        sqlite3_stmt *st = db_stmt(w, "INSERT INTO segments(shard_id, first_seq, last_seq, arrival_ms, "
                                      "encrypted, body) VALUES(?,?,?,?,?,?)");
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->next_seq);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(r->next_seq + r->count - 1));
        sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
        sqlite3_bind_int(st, 5, encrypted);
        sqlite3_bind_blob(st, 6, body, (int)r->bytes, SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        free(body);
        body = NULL;
        st = db_stmt(w, "UPDATE shards SET next_seq=? WHERE id=?");
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(r->next_seq + r->count));
        sqlite3_bind_int64(st, 2, r->id);
        if (step != SQLITE_DONE || sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_reset(st);
            rc = TP_EIO;
            goto out;
        }
        sqlite3_reset(st);
    }
out:
    free(body);
    free(of);
    free(routes);
    return rc;
}

int db_records_read(struct db_conn *c, int64_t shard_id, uint64_t from_seq, uint64_t min_arrival_ms,
                    int (*cb)(void *ctx, const struct db_record *r), void *ctx,
                    struct db_read_result *res)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT first_seq, last_seq, arrival_ms, encrypted, body FROM segments "
                                  "WHERE shard_id=? AND last_seq>=? ORDER BY last_seq");
    int step, rc = TP_OK;
    res->next_seq = from_seq;
    res->more = 0;
    res->next_arrival_ms = 0;
    sqlite3_bind_int64(st, 1, shard_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)from_seq);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
        uint64_t last = (uint64_t)sqlite3_column_int64(st, 1);
        struct db_record r = {.arrival_ms = (uint64_t)sqlite3_column_int64(st, 2),
                              .encrypted = sqlite3_column_int(st, 3)};
        const unsigned char *p = sqlite3_column_blob(st, 4);
        const unsigned char *end = p + sqlite3_column_bytes(st, 4);
        if (r.arrival_ms < min_arrival_ms) {
            if (last + 1 > res->next_seq)
                res->next_seq = last + 1;
            continue;
        }
        for (; seq <= last && p + HDR <= end; seq++) {
            r.pk_len = (size_t)get_le(p, 2);
            r.data_len = (size_t)get_le(p + 2, 4);
            r.pk = (const char *)p + HDR;
            r.data = p + HDR + r.pk_len;
            r.seq_ix = seq;
            if (r.data + r.data_len > end) {
                rc = TP_EIO; /* a segment that does not parse: corrupt */
                goto out;
            }
            p = r.data + r.data_len;
            if (seq < from_seq)
                continue;
            if (cb(ctx, &r)) {
                res->more = 1;
                res->next_seq = seq;
                res->next_arrival_ms = r.arrival_ms;
                goto out;
            }
            res->next_seq = seq + 1;
        }
    }
    if (step != SQLITE_DONE)
        rc = TP_EIO;
out:
    sqlite3_reset(st);
    return rc;
}

int db_records_seq_at(struct db_conn *c, int64_t shard_id, uint64_t ts_ms, uint64_t next_seq,
                      uint64_t *seq)
{
    sqlite3_stmt *st = db_stmt(c, "SELECT first_seq FROM segments WHERE shard_id=? AND arrival_ms>=? "
                                  "ORDER BY arrival_ms, first_seq LIMIT 1");
    sqlite3_bind_int64(st, 1, shard_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)ts_ms);
    int step = sqlite3_step(st);
    *seq = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : next_seq;
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? TP_OK : TP_EIO;
}
