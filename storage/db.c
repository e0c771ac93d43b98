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
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
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
    pthread_cond_t idle;       /* the writer finished a batch */
    struct job *head, **tail;
    int stopping, running, ckpt_running;
    int hold;                  /* the checkpointer asks the writer to start no batch */
    int in_batch;              /* the writer is running a batch (or the tick) */
    atomic_int wal_frames;     /* frames in the WAL after the writer's last commit */
    db_write_fn tick;
    pthread_t checkpointer;
    struct db_conn ckpt;
    pthread_mutex_t pool_mu;
    struct db_conn *pool[64];
    int pool_n;
    unsigned char iterator_key[ITERATOR_KEY_BYTES];
} D = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
       .work_ckpt = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER,
       .pool_mu = PTHREAD_MUTEX_INITIALIZER};

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
        while ((D.hold || !D.head) && !D.stopping) {
            if (D.hold)
                pthread_cond_wait(&D.work, &D.mu);
            else if (pthread_cond_timedwait(&D.work, &D.mu, &next_tick) == ETIMEDOUT)
                break;
        }
        struct job *batch = D.head;
        D.head = NULL;
        D.tail = &D.head;
        int stopping = D.stopping;
        D.in_batch = 1;
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
        D.in_batch = 0;
        pthread_cond_signal(&D.idle);
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
 *
 * The WAL starts over only when a transaction begins with every frame copied
 * and no reader on an old snapshot. At a pause in the writes that happens by
 * itself, but under sustained writes the copy never catches up with the
 * writer: the WAL grew to 4 GB in 30 s of mixed writes. A RESTART checkpoint
 * while the backlog is large blocks writers for the whole copy (3.6 s). So
 * past WAL_RESET_FRAMES the passes run back to back until what the writer
 * added meanwhile (the WAL hook counts it) is a short tail; then the writer
 * is held between two batches while a RESTART checkpoint copies the tail and
 * starts the WAL over (journal_size_limit trims the file at the next
 * commit). Writers wait for that short copy only (bench/wal.sh: largest WAL
 * 290-323 MiB, longest request 0.6-1.1 s, where it was 4.2 GB and 3.8-4.5 s
 * with the 4 GiB guard). Readers still on an old snapshot (a
 * slow S3 GET keeps one) make the reset give up after READER_WAIT_MS; it is
 * tried again RETRY_MS later, and the WAL grows meanwhile. */
#define WAL_RESET_FRAMES 8192    /* 64 MiB of 8 KiB pages: reset the WAL past this */
#define WAL_TAIL_FRAMES 1024     /* reset once at most 8 MiB is left to copy */
#define WAL_FORCE_FRAMES 32768   /* 256 MiB: reset whatever is left */
#define READER_WAIT_MS 50        /* writers held at most this long for old readers */
#define RETRY_MS 1000            /* after a reset that readers prevented */
#define PASS_MS 250              /* between PASSIVE passes; 10 ms while catching up */

static void deadline_in(struct timespec *t, long ms)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += ms % 1000 * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* The checkpointer's busy handler: a WAL reset waits for readers still on
 * old snapshots in 1 ms steps, READER_WAIT_MS at most. */
static int reader_wait(void *arg, int n)
{
    (void)arg;
    if (n >= READER_WAIT_MS)
        return 0;
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return 1;
}

/* Holds the writer between batches and starts the WAL over; 0 when done. */
static int reset_wal(void)
{
    pthread_mutex_lock(&D.mu);
    D.hold = 1;
    while (D.in_batch)
        pthread_cond_wait(&D.idle, &D.mu);
    pthread_mutex_unlock(&D.mu);
    int rc = sqlite3_wal_checkpoint_v2(D.ckpt.db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    if (rc == SQLITE_OK)
        atomic_store(&D.wal_frames, 0); /* no commit until the hold ends */
    pthread_mutex_lock(&D.mu);
    D.hold = 0;
    pthread_cond_signal(&D.work);
    pthread_mutex_unlock(&D.mu);
    return rc == SQLITE_OK ? 0 : -1;
}

static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)arg; (void)db; (void)name;
    atomic_store(&D.wal_frames, frames);
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    (void)arg;
    struct timespec t;
    int copied_before = 0;
    uint64_t next_reset_ms = 0;
    long pause_ms = PASS_MS;
    pthread_mutex_lock(&D.mu);
    while (D.running) {
        deadline_in(&t, pause_ms);
        pthread_cond_timedwait(&D.work_ckpt, &D.mu, &t);
        if (!D.running)
            break;
        pthread_mutex_unlock(&D.mu);
        int copied = 0;
        sqlite3_wal_checkpoint_v2(D.ckpt.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
        /* what the writer added while the pass ran is left to copy too */
        int frames = atomic_load(&D.wal_frames);
        pause_ms = PASS_MS;
        if (frames > WAL_RESET_FRAMES && db_now_ms() >= next_reset_ms &&
            (frames - copied <= WAL_TAIL_FRAMES || frames > WAL_FORCE_FRAMES)) {
            if (reset_wal() != 0)
                next_reset_ms = db_now_ms() + RETRY_MS;
        } else if (frames > WAL_RESET_FRAMES && copied != copied_before) {
            pause_ms = 10; /* each pass copies only what came since the last one */
        }
        copied_before = copied;
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

/* mkdir -p: the data directory itself private (0700), the parents it needs
 * as mkdir -p makes them. A directory that exists keeps its mode: it is the
 * user's. */
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
    return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

/* The database file is the owner's only (0600), made so before SQLite
 * creates it; SQLite gives the -wal and -shm files the database's mode. A
 * file left by an older version (0644) is tightened, and so are its -wal and
 * -shm when a crash left them. */
static int private_files(char *err, size_t errlen)
{
    static const char *const suffix[] = {"-wal", "-shm"};
    char p[sizeof D.path + 8];
    int fd = open(D.path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600)) {
        snprintf(err, errlen, "cannot create %s: %s", D.path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (unsigned i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(p, sizeof p, "%s%s", D.path, suffix[i]);
        if (chmod(p, 0600) && errno != ENOENT) {
            snprintf(err, errlen, "cannot make %s private: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
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
    if (private_files(err, errlen))
        return TP_EIO;
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
    sqlite3_busy_handler(D.ckpt.db, reader_wait, NULL);
    sqlite3_wal_hook(D.writer.db, on_commit, NULL);
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
