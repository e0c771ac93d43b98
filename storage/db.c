/* Connections, the group-commit writer and the reader pool; see db.h.
 *
 * Crash story: the writer commits in WAL mode with synchronous=NORMAL, which
 * survives a killed process (kill -9) with every committed transaction intact;
 * a request is answered only after its transaction committed. A job whose
 * transaction did not commit is answered with an error, never acknowledged. */
#define _XOPEN_SOURCE 700 /* nftw */
#define _DEFAULT_SOURCE
#include "storage/db.h"
#include "storage/objects.h"
#include "storage/schema.h"

#include <errno.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define ITERATOR_KEY_BYTES 32

struct job {
    db_write_fn fn;
    void *ctx;
    int rc;
    sem_t done;        /* posted once the job's transaction has ended */
    struct job *next;
};

static struct {
    char path[4096];
    char dir[4096];            /* the data directory: tmpdir for a throw-away database */
    char tmpdir[256];          /* set for a throw-away database */
    struct db_conn writer;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;       /* writer waits for jobs */
    pthread_cond_t work_ckpt;  /* wakes the checkpointer to stop */
    struct job *head, **tail;
    int stopping, running, ckpt_running;
    db_write_fn tick;
    pthread_t checkpointer;
    struct db_conn ckpt;
    pthread_mutex_t pool_mu;
    struct db_conn *pool[64];
    int pool_n;
    unsigned char iterator_key[ITERATOR_KEY_BYTES];
} D = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
       .work_ckpt = PTHREAD_COND_INITIALIZER, .pool_mu = PTHREAD_MUTEX_INITIALIZER};

sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) % DB_STMT_SLOTS;
    for (unsigned i = 0; i < DB_STMT_SLOTS; i++, h = (h + 1) % DB_STMT_SLOTS) {
        if (c->stmts[h].sql == sql) {
            sqlite3_reset(c->stmts[h].st);
            sqlite3_clear_bindings(c->stmts[h].st);
            return c->stmts[h].st;
        }
        if (!c->stmts[h].sql) {
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[h].st, NULL) != SQLITE_OK) {
                fprintf(stderr, "tidepool: cannot prepare [%s]: %s\n", sql, sqlite3_errmsg(c->db));
                abort(); /* a static statement that does not compile is a bug */
            }
            c->stmts[h].sql = sql;
            return c->stmts[h].st;
        }
    }
    fprintf(stderr, "tidepool: statement cache full\n");
    abort();
}

int db_step_row(sqlite3_stmt *st)
{
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        return TP_OK;
    case SQLITE_DONE:
        return TP_ENOTFOUND;
    default:
        return TP_EIO;
    }
}

int db_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? TP_OK : rc == SQLITE_CONSTRAINT ? TP_EEXISTS : TP_EIO;
}

void db_col_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

int db_exec_each(struct db_conn *w, const char *const *sql, unsigned n, int64_t id)
{
    int rc = TP_OK;
    for (unsigned i = 0; i < n && rc == TP_OK; i++) {
        sqlite3_stmt *st = db_stmt(w, sql[i]);
        sqlite3_bind_int64(st, 1, id);
        rc = db_step_done(st);
    }
    return rc;
}

int db_column_has_prefix(sqlite3_stmt *st, int col, const char *prefix, size_t plen)
{
    const void *text = sqlite3_column_text(st, col);
    return text && (size_t)sqlite3_column_bytes(st, col) >= plen && !memcmp(text, prefix, plen);
}

static void conn_close(struct db_conn *c)
{
    for (unsigned i = 0; i < DB_STMT_SLOTS; i++)
        if (c->stmts[i].sql)
            sqlite3_finalize(c->stmts[i].st);
    sqlite3_close(c->db);
    memset(c, 0, sizeof *c);
}

static int conn_open(struct db_conn *c, int writer)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    memset(c, 0, sizeof *c);
    if (sqlite3_open_v2(D.path, &c->db, flags, NULL) != SQLITE_OK)
        return TP_EIO;
    sqlite3_busy_timeout(c->db, 10000);
    /* page size must be set before the first table exists; large pages suit
     * the multi-kilobyte segment rows */
    if (writer)
        sqlite3_exec(c->db, "PRAGMA page_size=8192", NULL, NULL, NULL);
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
        return TP_EIO;
    /* savepoints and sorts must not create files in /var/tmp per transaction */
    sqlite3_exec(c->db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
    /* the checkpointer thread does this off the writer's path (see below) */
    if (writer) {
        /* Debian builds SQLite with SECURE_DELETE: freeing a 1 GiB object (or
         * trimming a stream) would write as many zeros to the WAL */
        sqlite3_exec(c->db, "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
        sqlite3_exec(c->db, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL);
        sqlite3_exec(c->db, "PRAGMA journal_size_limit=268435456", NULL, NULL, NULL);
    }
    sqlite3_exec(c->db, D.tmpdir[0] ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL",
                 NULL, NULL, NULL);
    /* the writer keeps hot index pages; readers stream segments, which the
     * OS page cache holds anyway, and there is one reader per busy thread */
    sqlite3_exec(c->db, writer ? "PRAGMA cache_size=-16384" : "PRAGMA cache_size=-2048", NULL, NULL, NULL);
    return TP_OK;
}

struct db_conn *db_reader_acquire(void)
{
    struct db_conn *c = NULL;
    pthread_mutex_lock(&D.pool_mu);
    if (D.pool_n)
        c = D.pool[--D.pool_n];
    pthread_mutex_unlock(&D.pool_mu);
    if (c)
        return c;
    c = calloc(1, sizeof *c);
    if (!c || conn_open(c, 0) != TP_OK) {
        fprintf(stderr, "tidepool: cannot open a reader connection\n");
        abort();
    }
    return c;
}

void db_reader_release(struct db_conn *c)
{
    pthread_mutex_lock(&D.pool_mu);
    if (D.pool_n < (int)(sizeof D.pool / sizeof *D.pool)) {
        D.pool[D.pool_n++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&D.pool_mu);
    if (c) {
        conn_close(c);
        free(c);
    }
}

/* Transaction control on the writer, from cached statements: sqlite3_exec
 * would parse "BEGIN IMMEDIATE" and "COMMIT" again for every batch. */
static int exec(const char *sql)
{
    sqlite3_stmt *st = db_stmt(&D.writer, sql);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Runs a batch of jobs in one transaction; returns with every job's rc set.
 * A lone job needs no savepoint: its failure rolls the transaction back. */
static void run_batch(struct job *batch)
{
    int begun = exec("BEGIN IMMEDIATE") == SQLITE_OK;
    int alone = !batch->next;
    for (struct job *j = batch; j; j = j->next) {
        if (!begun) {
            j->rc = TP_EIO;
            continue;
        }
        if (!alone)
            exec("SAVEPOINT job");
        j->rc = j->fn(&D.writer, j->ctx);
        if (alone)
            break;
        if (j->rc != TP_OK)
            exec("ROLLBACK TO job");
        exec("RELEASE job");
    }
    if (begun && alone && batch->rc != TP_OK) {
        exec("ROLLBACK");
        return;
    }
    if (begun && exec("COMMIT") != SQLITE_OK) {
        fprintf(stderr, "tidepool: commit failed: %s\n", sqlite3_errmsg(D.writer.db));
        exec("ROLLBACK");
        for (struct job *j = batch; j; j = j->next)
            j->rc = TP_EIO;
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    struct timespec next_tick;
    clock_gettime(CLOCK_REALTIME, &next_tick);
    pthread_mutex_lock(&D.mu);
    for (;;) {
        while (!D.head && !D.stopping) {
            if (pthread_cond_timedwait(&D.work, &D.mu, &next_tick) == ETIMEDOUT)
                break;
        }
        struct job *batch = D.head;
        D.head = NULL;
        D.tail = &D.head;
        int stopping = D.stopping;
        pthread_mutex_unlock(&D.mu);

        if (batch)
            run_batch(batch);
        /* wake each request on its own semaphore: no herd on a shared lock.
         * A woken request frees its job, so read next first. */
        for (struct job *j = batch, *next; j; j = next) {
            next = j->next;
            sem_post(&j->done);
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (D.tick && (now.tv_sec > next_tick.tv_sec ||
                       (now.tv_sec == next_tick.tv_sec && now.tv_nsec >= next_tick.tv_nsec))) {
            struct job t = {.fn = D.tick};
            run_batch(&t);
            next_tick = now;
            next_tick.tv_sec += 1;
        }

        pthread_mutex_lock(&D.mu);
        if (stopping && !D.head)
            break;
    }
    pthread_mutex_unlock(&D.mu);
    return NULL;
}

/* Checkpoints copy the WAL into the database file and fsync: up to ~100 ms.
 * Done by the writer (SQLite's default) they stall every waiting request, so
 * the writer never checkpoints and this thread does, PASSIVE (never blocking
 * the writer or readers), a few times a second.
 * The WAL starts over when a transaction begins with every frame copied. At
 * any pause in the writes that happens by itself (and journal_size_limit
 * trims the file); only saturating writes keep it growing (1.4 GB in the
 * 10 s PutRecords benchmark). A RESTART checkpoint forces it, but blocks
 * writers while it copies the backlog (p99 went from 60 ms to 1-2.6 s at
 * 256 MiB and 1 GiB thresholds), so it is only a guard for the disk. */
#define WAL_RESTART_FRAMES 524288 /* 4 GiB of 8 KiB pages */
static void *checkpointer_main(void *arg)
{
    (void)arg;
    struct timespec t;
    pthread_mutex_lock(&D.mu);
    while (D.running) {
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 250 * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&D.work_ckpt, &D.mu, &t);
        if (!D.running)
            break;
        pthread_mutex_unlock(&D.mu);
        int frames = 0, copied = 0;
        sqlite3_wal_checkpoint_v2(D.ckpt.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
        if (frames > WAL_RESTART_FRAMES)
            sqlite3_wal_checkpoint_v2(D.ckpt.db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&D.mu);
    }
    pthread_mutex_unlock(&D.mu);
    return NULL;
}

int db_write(db_write_fn fn, void *ctx)
{
    struct job j = {.fn = fn, .ctx = ctx};
    pthread_mutex_lock(&D.mu);
    if (!D.running) {
        pthread_mutex_unlock(&D.mu);
        return TP_EIO;
    }
    sem_init(&j.done, 0, 0);
    *D.tail = &j;
    D.tail = &j.next;
    pthread_cond_signal(&D.work);
    pthread_mutex_unlock(&D.mu);
    while (sem_wait(&j.done) && errno == EINTR)
        ;
    sem_destroy(&j.done);
    return j.rc;
}

uint64_t db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void db_set_tick(db_write_fn fn) { D.tick = fn; }

const unsigned char *db_iterator_key(void) { return D.iterator_key; }

const char *db_dir(void) { return D.dir; }

static int load_iterator_key(void)
{
    sqlite3_stmt *st = db_stmt(&D.writer, "SELECT value FROM meta WHERE key='iterator_key'");
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ITERATOR_KEY_BYTES) {
        memcpy(D.iterator_key, sqlite3_column_blob(st, 0), ITERATOR_KEY_BYTES);
        sqlite3_reset(st);
        return TP_OK;
    }
    sqlite3_reset(st);
    gnutls_rnd(GNUTLS_RND_KEY, D.iterator_key, ITERATOR_KEY_BYTES);
    st = db_stmt(&D.writer, "INSERT INTO meta(key, value) VALUES('iterator_key', ?)");
    sqlite3_bind_blob(st, 1, D.iterator_key, ITERATOR_KEY_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? TP_OK : TP_EIO;
    sqlite3_reset(st);
    return rc;
}

static int mkdirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* Where a throw-away database goes: RAM (/dev/shm) when it has room, else
 * $TMPDIR or /tmp. Docker gives containers a 64 MiB /dev/shm, too small for
 * a stream of any size. */
static const char *tmp_base(void)
{
    struct statvfs vfs;
    const char *t = getenv("TMPDIR");
    if (access("/dev/shm", W_OK) == 0 && statvfs("/dev/shm", &vfs) == 0 &&
        (unsigned long long)vfs.f_bavail * vfs.f_frsize >= 1024ULL * 1024 * 1024)
        return "/dev/shm";
    return t && *t ? t : "/tmp";
}

int db_open(const char *dir, char *err, size_t errlen)
{
    if (!dir) {
        const char *base = tmp_base();
        snprintf(D.tmpdir, sizeof D.tmpdir, "%s/tidepool-XXXXXX", base);
        if (!mkdtemp(D.tmpdir)) {
            snprintf(err, errlen, "cannot create a temporary directory in %s: %s", base, strerror(errno));
            return TP_EIO;
        }
        dir = D.tmpdir;
    } else if (mkdirs(dir)) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return TP_EIO;
    }
    snprintf(D.dir, sizeof D.dir, "%s", dir);
    snprintf(D.path, sizeof D.path, "%s/tidepool.db", dir);
    if (conn_open(&D.writer, 1) != TP_OK) {
        snprintf(err, errlen, "cannot open %s: %s", D.path,
                 D.writer.db ? sqlite3_errmsg(D.writer.db) : "out of memory");
        return TP_EIO;
    }
    if (schema_migrate(D.writer.db, err, errlen) != SQLITE_OK)
        return TP_EIO;
    if (load_iterator_key() != TP_OK) {
        snprintf(err, errlen, "cannot store the iterator key: %s", sqlite3_errmsg(D.writer.db));
        return TP_EIO;
    }
    /* blobs an upload left unlinked (a crash) go before any request can
     * start a new upload, which would look the same (objects.c) */
    if (exec("BEGIN IMMEDIATE") != SQLITE_OK || db_objects_sweep(&D.writer, NULL) != TP_OK ||
        exec("COMMIT") != SQLITE_OK) {
        snprintf(err, errlen, "cannot remove unlinked blobs: %s", sqlite3_errmsg(D.writer.db));
        exec("ROLLBACK");
        return TP_EIO;
    }
    if (conn_open(&D.ckpt, 0) != TP_OK) {
        snprintf(err, errlen, "cannot open %s for checkpoints", D.path);
        return TP_EIO;
    }
    D.tail = &D.head;
    D.stopping = 0;
    D.running = 1;
    if (pthread_create(&D.thread, NULL, writer_main, NULL)) {
        D.running = 0;
        snprintf(err, errlen, "cannot start the writer thread");
        return TP_EIO;
    }
    if (pthread_create(&D.checkpointer, NULL, checkpointer_main, NULL)) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        return TP_EIO; /* db_close stops the writer */
    }
    D.ckpt_running = 1;
    return TP_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

void db_close(void)
{
    pthread_mutex_lock(&D.mu);
    int running = D.running;
    D.stopping = 1;
    D.running = 0;
    pthread_cond_signal(&D.work);
    pthread_cond_signal(&D.work_ckpt);
    pthread_mutex_unlock(&D.mu);
    if (running)
        pthread_join(D.thread, NULL);
    if (D.ckpt_running)
        pthread_join(D.checkpointer, NULL);
    D.ckpt_running = 0;
    if (D.ckpt.db)
        conn_close(&D.ckpt);
    for (int i = 0; i < D.pool_n; i++) {
        conn_close(D.pool[i]);
        free(D.pool[i]);
    }
    D.pool_n = 0;
    if (D.writer.db) {
        exec("PRAGMA wal_checkpoint(TRUNCATE)");
        conn_close(&D.writer);
    }
    if (D.tmpdir[0])
        nftw(D.tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
