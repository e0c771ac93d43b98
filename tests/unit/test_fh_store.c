/* Firehose storage without HTTP: delivery streams (insert, name taken,
 * update, list by region and type, DELETING and the tick), tags under the
 * negative owner id, the DirectPut buffer (ids only grow, even after every
 * row was delivered), checkpoints, and all of it after a reopen. */
#include "storage/db.h"
#include "storage/firehose.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct insert { struct db_fh f; uint64_t until; };
struct append { int64_t id; struct db_fh_put *recs; size_t n; uint64_t at; };
struct upto { int64_t id, row; };
struct ckpt { int64_t id, shard; uint64_t seq; };

static int insert_job(struct db_conn *w, void *ctx)
{
    struct insert *i = ctx;
    struct db_tag tag = {"team", "data"};
    return db_fh_insert(w, &i->f, i->until, &tag, 1);
}

static int update_job(struct db_conn *w, void *ctx) { return db_fh_update(w, ctx, db_now_ms()); }
static int append_job(struct db_conn *w, void *ctx)
{
    struct append *a = ctx;
    return db_fh_records_append(w, a->id, a->at, a->recs, a->n);
}
static int delete_job(struct db_conn *w, void *ctx)
{
    struct upto *u = ctx;
    return db_fh_records_delete(w, u->id, u->row);
}
static int ckpt_job(struct db_conn *w, void *ctx)
{
    struct ckpt *c = ctx;
    return db_fh_checkpoint_set(w, c->id, c->shard, c->seq);
}
static int tick_job(struct db_conn *w, void *ctx) { return db_fh_tick(w, *(uint64_t *)ctx); }

static struct insert stream(const char *region, const char *name, const char *type, const char *status)
{
    struct insert i;
    memset(&i, 0, sizeof i);
    snprintf(i.f.region, sizeof i.f.region, "%s", region);
    snprintf(i.f.name, sizeof i.f.name, "%s", name);
    snprintf(i.f.type, sizeof i.f.type, "%s", type);
    snprintf(i.f.status, sizeof i.f.status, "%s", status);
    i.f.version = 1;
    i.f.created_ms = i.f.updated_ms = db_now_ms();
    i.f.destination = "{\"BucketARN\":\"arn:aws:s3:::b\"}";
    i.until = strcmp(status, "ACTIVE") ? i.f.created_ms + 3600000 : i.f.created_ms;
    return i;
}

struct names { char v[8][FH_NAME_MAX + 1]; int n; };

static int collect(void *ctx, const struct db_fh *f)
{
    struct names *n = ctx;
    strcpy(n->v[n->n++], f->name);
    return 0;
}

struct rows { int64_t ids[16]; size_t lens[16]; int n; };

static int rows(void *ctx, int64_t id, uint64_t arrival, const void *data, size_t len)
{
    struct rows *r = ctx;
    (void)arrival;
    CHECK(len == 0 || ((const char *)data)[0] == 'r');
    r->lens[r->n] = len;
    r->ids[r->n++] = id;
    return 0;
}

static int count_tags(struct db_conn *c, int64_t owner)
{
    unsigned n;
    CHECK(db_stream_tag_count(c, owner, &n) == TP_OK);
    return (int)n;
}

int main(void)
{
    char dir[] = "/tmp/tp-fhstore-XXXXXX", err[256];
    CHECK(mkdtemp(dir));
    CHECK(db_open(dir, err, sizeof err) == TP_OK);

    struct insert a = stream("us-east-1", "a", "DirectPut", "ACTIVE");
    struct insert b = stream("us-east-1", "b", "KinesisStreamAsSource", "ACTIVE");
    struct insert c = stream("eu-west-1", "c", "DirectPut", "CREATING");
    struct insert dup = stream("us-east-1", "a", "DirectPut", "ACTIVE");
    CHECK(db_write(insert_job, &a) == TP_OK && db_write(insert_job, &b) == TP_OK && db_write(insert_job, &c) == TP_OK);
    CHECK(db_write(insert_job, &dup) == TP_EEXISTS);

    struct db_conn *r = db_reader_acquire();
    struct db_fh f;
    CHECK(db_fh_get(r, "us-east-1", "a", db_now_ms(), &f) == TP_OK);
    CHECK(f.id == a.f.id && f.version == 1 && !strcmp(f.status, "ACTIVE") && !f.source && !f.encryption);
    CHECK_STREQ(f.destination, "{\"BucketARN\":\"arn:aws:s3:::b\"}");
    db_fh_clear(&f);
    CHECK(db_fh_get(r, "eu-west-1", "a", db_now_ms(), &f) == TP_ENOTFOUND); /* regions apart */
    CHECK(db_fh_get_id(r, c.f.id, db_now_ms(), &f) == TP_OK && !strcmp(f.status, "CREATING"));
    db_fh_clear(&f);

    struct names n = {.n = 0};
    CHECK(db_fh_list(r, "us-east-1", NULL, "", db_now_ms(), collect, &n) == TP_OK && n.n == 2);
    CHECK_STREQ(n.v[0], "a");
    n.n = 0;
    CHECK(db_fh_list(r, NULL, "DirectPut", "", db_now_ms(), collect, &n) == TP_OK && n.n == 2);
    CHECK_STREQ(n.v[1], "c");
    n.n = 0;
    CHECK(db_fh_list(r, "us-east-1", NULL, "a", db_now_ms(), collect, &n) == TP_OK && n.n == 1);
    CHECK(count_tags(r, db_fh_tag_owner(a.f.id)) == 1 && count_tags(r, a.f.id) == 0);
    db_reader_release(r);

    /* update */
    a.f.version = 2;
    a.f.destination = "{\"BucketARN\":\"arn:aws:s3:::other\"}";
    strcpy(a.f.status, "ACTIVE");
    CHECK(db_write(update_job, &a.f) == TP_OK);

    /* the DirectPut buffer */
    struct db_fh_put recs[3] = {{(const unsigned char *)"r1", 2, 0}, {(const unsigned char *)"r22", 3, 0},
                                {(const unsigned char *)"", 0, 0}};
    struct append ap = {a.f.id, recs, 3, db_now_ms()};
    CHECK(db_write(append_job, &ap) == TP_OK);
    CHECK(recs[0].id < recs[1].id && recs[1].id < recs[2].id);
    r = db_reader_acquire();
    struct rows got = {.n = 0};
    CHECK(db_fh_records_read(r, a.f.id, 0, 10, rows, &got) == TP_OK && got.n == 3 && got.lens[2] == 0);
    got.n = 0;
    CHECK(db_fh_records_read(r, a.f.id, recs[0].id, 1, rows, &got) == TP_OK && got.n == 1 && got.ids[0] == recs[1].id);
    db_reader_release(r);
    struct upto u = {a.f.id, recs[2].id};
    CHECK(db_write(delete_job, &u) == TP_OK);
    int64_t last = recs[2].id;
    ap.n = 1;
    CHECK(db_write(append_job, &ap) == TP_OK);
    CHECK(recs[0].id > last); /* never reused, though the table was empty */

    /* checkpoints */
    struct ckpt k = {b.f.id, 7, 42};
    CHECK(db_write(ckpt_job, &k) == TP_OK);
    k.seq = 43;
    CHECK(db_write(ckpt_job, &k) == TP_OK);

    /* reopen: all of it is still there */
    db_close();
    CHECK(db_open(dir, err, sizeof err) == TP_OK);
    r = db_reader_acquire();
    CHECK(db_fh_get(r, "us-east-1", "a", db_now_ms(), &f) == TP_OK && f.version == 2);
    CHECK_STREQ(f.destination, "{\"BucketARN\":\"arn:aws:s3:::other\"}");
    db_fh_clear(&f);
    uint64_t seq;
    CHECK(db_fh_checkpoint_get(r, b.f.id, 7, &seq) == TP_OK && seq == 43);
    CHECK(db_fh_checkpoint_get(r, b.f.id, 8, &seq) == TP_ENOTFOUND);
    got.n = 0;
    CHECK(db_fh_records_read(r, a.f.id, 0, 10, rows, &got) == TP_OK && got.n == 1 && got.ids[0] == recs[0].id);
    db_reader_release(r);

    /* DELETING ends: gone from lookups at once, from the tables at the tick */
    struct insert d = stream("us-east-1", "gone", "DirectPut", "DELETING");
    d.until = db_now_ms() + 50;
    CHECK(db_write(insert_job, &d) == TP_OK);
    usleep(60 * 1000);
    r = db_reader_acquire();
    CHECK(db_fh_get(r, "us-east-1", "gone", db_now_ms(), &f) == TP_ENOTFOUND);
    db_reader_release(r);
    struct insert again = stream("us-east-1", "gone", "DirectPut", "ACTIVE");
    CHECK(db_write(insert_job, &again) == TP_OK && again.f.id > d.f.id); /* the name is free again */
    uint64_t now = db_now_ms() + 7200000;
    CHECK(db_write(tick_job, &now) == TP_OK); /* c (CREATING) is not touched by the tick */
    r = db_reader_acquire();
    CHECK(db_fh_get_id(r, c.f.id, now, &f) == TP_OK);
    db_fh_clear(&f);
    CHECK(count_tags(r, db_fh_tag_owner(d.f.id)) == 0);
    db_reader_release(r);

    db_close();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
