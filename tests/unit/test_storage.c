/* Storage without HTTP: streams and shards, record append through the
 * group-commit writer, reads that stop and resume, AT_TIMESTAMP positions,
 * retention hiding, and that everything is still there after a reopen. */
#include "storage/db.h"
#include "storage/records.h"
#include "storage/streams.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct create { struct db_stream s; unsigned shards; };
struct append { int64_t id; struct db_put_record *recs; size_t n; uint64_t arrival; };

static int create_job(struct db_conn *w, void *ctx)
{
    struct create *c = ctx;
    struct db_tag tag = {"team", "data"};
    return db_stream_insert(w, &c->s, c->s.created_ms, c->shards, &tag, 1);
}

static int append_job(struct db_conn *w, void *ctx)
{
    struct append *a = ctx;
    return db_records_append(w, a->id, 0, a->recs, a->n, &a->arrival);
}

static int remove_job(struct db_conn *w, void *ctx)
{
    return db_stream_remove(w, *(int64_t *)ctx);
}

struct collect { char keys[64][8]; int n, stop_at; };

static int collect(void *ctx, const struct db_record *r)
{
    struct collect *c = ctx;
    if (c->n == c->stop_at)
        return 1;
    CHECK(r->pk_len < 8 && r->data_len == r->pk_len * 2);
    CHECK(!memcmp(r->data, r->pk, r->pk_len) && !memcmp(r->data + r->pk_len, r->pk, r->pk_len));
    memcpy(c->keys[c->n], r->pk, r->pk_len);
    c->keys[c->n++][r->pk_len] = 0;
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/tp-storage-XXXXXX", err[256];
    CHECK(mkdtemp(dir));
    CHECK(db_open(dir, err, sizeof err) == TP_OK);

    struct create c = {.shards = 4};
    strcpy(c.s.region, "us-east-1");
    strcpy(c.s.name, "s");
    strcpy(c.s.status, "ACTIVE");
    strcpy(c.s.mode, "PROVISIONED");
    strcpy(c.s.encryption, "NONE");
    c.s.created_ms = db_now_ms();
    c.s.retention_hours = 24;
    c.s.max_record_kib = 1024;
    c.s.warm_mibps = -1;
    CHECK(db_write(create_job, &c) == TP_OK);
    CHECK(db_write(create_job, &c) == TP_EEXISTS);

    struct db_conn *r = db_reader_acquire();
    struct db_stream s;
    struct db_shard *sh;
    unsigned n;
    CHECK(db_stream_get(r, "us-east-1", "s", db_now_ms(), &s) == TP_OK);
    CHECK(db_stream_get(r, "eu-west-1", "s", db_now_ms(), &s) == TP_ENOTFOUND);
    CHECK(db_stream_shards(r, s.id, &sh, &n) == TP_OK && n == 4);
    CHECK(sh[0].start == 0 && sh[3].end == HASHKEY_MAX && sh[1].start == sh[0].end + 1);
    free(sh);

    /* 20 records; keys "k0".."k19", data = key twice; all to shard 2 by hash */
    struct db_put_record recs[20];
    char keys[20][8], data[20][16];
    hashkey_t s2, e2;
    hashkey_split(4, 2, &s2, &e2);
    for (int i = 0; i < 20; i++) {
        int len = snprintf(keys[i], sizeof keys[i], "k%d", i);
        memcpy(data[i], keys[i], (size_t)len);
        memcpy(data[i] + len, keys[i], (size_t)len);
        recs[i] = (struct db_put_record){.pk = keys[i], .pk_len = (size_t)len, .data = (unsigned char *)data[i],
                                         .data_len = (size_t)len * 2, .hash = s2 + (hashkey_t)i};
    }
    struct append a = {s.id, recs, 10, 0};
    CHECK(db_write(append_job, &a) == TP_OK);
    uint64_t first_arrival = a.arrival;
    usleep(20000);
    a.recs = recs + 10;
    CHECK(db_write(append_job, &a) == TP_OK);
    CHECK(a.arrival > first_arrival);
    for (int i = 0; i < 20; i++)
        CHECK(recs[i].shard_ix == 2 && recs[i].seq_ix == (uint64_t)i);

    /* read everything, then in two halves that resume where the first stopped */
    CHECK(db_stream_shards(r, s.id, &sh, &n) == TP_OK && sh[2].next_seq == 20 && sh[1].next_seq == 0);
    int64_t shard2 = sh[2].id;
    free(sh);
    struct collect col = {.stop_at = 64};
    struct db_read_result res;
    CHECK(db_records_read(r, shard2, 0, 0, collect, &col, &res) == TP_OK);
    CHECK(col.n == 20 && !res.more && res.next_seq == 20 && !strcmp(col.keys[19], "k19"));
    col = (struct collect){.stop_at = 7};
    CHECK(db_records_read(r, shard2, 3, 0, collect, &col, &res) == TP_OK);
    CHECK(col.n == 7 && res.more && res.next_seq == 10 && !strcmp(col.keys[0], "k3"));
    CHECK(res.next_arrival_ms == a.arrival); /* k10, the first record not taken, came second */
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, res.next_seq, 0, collect, &col, &res) == TP_OK);
    CHECK(col.n == 10 && !strcmp(col.keys[0], "k10"));
    /* records before min_arrival (past retention) are skipped */
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, 0, first_arrival + 1, collect, &col, &res) == TP_OK);
    CHECK(col.n == 10 && !strcmp(col.keys[0], "k10"));

    uint64_t seq;
    CHECK(db_records_seq_at(r, shard2, first_arrival + 1, 20, &seq) == TP_OK && seq == 10);
    CHECK(db_records_seq_at(r, shard2, 0, 20, &seq) == TP_OK && seq == 0);
    CHECK(db_records_seq_at(r, shard2, db_now_ms() + 1000, 20, &seq) == TP_OK && seq == 20);
    db_reader_release(r);

    /* everything survives a close and reopen */
    db_close();
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    r = db_reader_acquire();
    CHECK(db_stream_get(r, "us-east-1", "s", db_now_ms(), &s) == TP_OK);
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, 0, 0, collect, &col, &res) == TP_OK && col.n == 20);
    unsigned tags;
    CHECK(db_stream_tag_count(r, s.id, &tags) == TP_OK && tags == 1);
    db_reader_release(r);

    /* the tick trims whole segments once they are past retention (24 h) */
    uint64_t at = first_arrival + 24ULL * 3600000 + 1;
    CHECK(db_write(db_streams_tick, &at) == TP_OK);
    r = db_reader_acquire();
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, 0, 0, collect, &col, &res) == TP_OK);
    CHECK(col.n == 10 && !strcmp(col.keys[0], "k10")); /* the first batch is gone, the second stays */
    CHECK(db_stream_shards(r, s.id, &sh, &n) == TP_OK && sh[2].next_seq == 20); /* numbering goes on */
    free(sh);
    db_reader_release(r);
    at = db_now_ms() + 25ULL * 3600000;
    CHECK(db_write(db_streams_tick, &at) == TP_OK);
    r = db_reader_acquire();
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, 0, 0, collect, &col, &res) == TP_OK && col.n == 0);
    db_reader_release(r);

    /* removal takes shards, records and tags along */
    CHECK(db_write(remove_job, &s.id) == TP_OK);
    r = db_reader_acquire();
    CHECK(db_stream_get(r, "us-east-1", "s", db_now_ms(), &s) == TP_ENOTFOUND);
    col = (struct collect){.stop_at = 64};
    CHECK(db_records_read(r, shard2, 0, 0, collect, &col, &res) == TP_OK && col.n == 0);
    db_reader_release(r);
    db_close();

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    puts("storage: ok");
    return 0;
}
