/* The database: one SQLite file in WAL mode, one writer thread, a pool of
 * reader connections.
 *
 * Writes: every change goes through db_write(), which queues a job for the
 * writer thread. The writer takes all queued jobs, runs them inside one
 * transaction (each under its own SAVEPOINT, so a failing job undoes only
 * itself), commits once, and only then wakes the requests: acknowledged means
 * committed (group commit). Readers never block the writer (WAL).
 *
 * Statements: every SQL text is prepared once per connection and cached by the
 * address of its (static) string; db_stmt returns it reset and unbound. */
#ifndef TP_DB_H
#define TP_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

#define DB_STMT_SLOTS 128

struct db_conn {
    sqlite3 *db;
    struct { const char *sql; sqlite3_stmt *st; } stmts[DB_STMT_SLOTS];
};

typedef int (*db_write_fn)(struct db_conn *w, void *ctx);

/* Opens (creating and migrating) DIR/tidepool.db, or, with dir NULL, a
 * throw-away database in a fresh temporary directory removed at db_close.
 * Returns TP_OK or TP_EIO with a message in err. */
int db_open(const char *dir, char *err, size_t errlen);
void db_close(void);

/* Runs fn(w, ctx) in the writer thread inside the next group transaction and
 * returns once that transaction is committed (or rolled back). Returns fn's
 * result; TP_EIO when the commit itself failed. */
int db_write(db_write_fn fn, void *ctx);

/* A reader connection for this thread's use until db_reader_release. */
struct db_conn *db_reader_acquire(void);
void db_reader_release(struct db_conn *c);

/* Steps a statement that gives at most one row: TP_OK with st on the row
 * (read its columns, then reset it), TP_ENOTFOUND without one, TP_EIO when
 * SQLite fails. */
int db_step_row(sqlite3_stmt *st);

/* Steps a statement that gives no row and resets it: TP_OK, TP_EEXISTS on a
 * constraint (a unique key taken), TP_EIO otherwise. */
int db_step_done(sqlite3_stmt *st);
/* Runs each of n statements that take one id parameter and give no row
 * (the DELETEs that drop something with what it owns); stops at the first
 * failure. */
int db_exec_each(struct db_conn *w, const char *const *sql, unsigned n, int64_t id);
/* Text column col of the current row into out (truncated; "" for NULL). */
void db_col_text(sqlite3_stmt *st, int col, char *out, size_t n);

/* Whether text column col of the current row starts with prefix (plen
 * bytes): the stop test of the scans that list keys under a prefix. */
int db_column_has_prefix(sqlite3_stmt *st, int col, const char *prefix, size_t plen);

/* The cached statement for sql (a string literal), reset with bindings cleared. */
sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql);

/* Registers a function the writer runs every second on its own (retention
 * trimming, finishing CREATING/DELETING). */
void db_set_tick(db_write_fn fn);

/* Wall clock in epoch milliseconds. */
uint64_t db_now_ms(void);

/* The secret that signs shard iterators, created with the database. */
const unsigned char *db_iterator_key(void);

/* The data directory db_open used: the temporary one without a dir. Other
 * state kept with the data (TLS keys) goes there too. */
const char *db_dir(void);

#endif
