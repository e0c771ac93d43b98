/* Tables of tidepool.db. Version 1:
 *
 * meta(key PRIMARY KEY, value)            -- 'iterator_key': 32 random bytes signing shard iterators
 *
 * streams(id, region, name, created_ms, status, status_until_ms, retention_hours,
 *         mode, encryption, key_id, metrics, max_record_kib, warm_mibps, next_shard_ix)
 *   One row per Kinesis stream; (region, name) unique. status is the state
 *   written (CREATING, ACTIVE, UPDATING, DELETING); it holds until
 *   status_until_ms, after which CREATING/UPDATING read as ACTIVE and DELETING
 *   as gone (the writer's tick then removes the rows). metrics: the enhanced
 *   monitoring metric names, comma-separated.
 *
 * shards(id, stream_id, shard_ix, parent_ix, adjacent_ix, start_hash, end_hash,
 *        created_ms, next_seq, closed_seq)
 *   start_hash/end_hash: 16-byte big-endian blobs, so memcmp orders them.
 *   next_seq: the sequence index the next record of this shard gets.
 *   closed_seq: NULL while open.
 *
 * segments(id, shard_id, first_seq, last_seq, arrival_ms, encrypted, body)
 *   The records of one PutRecord(s) call that went to one shard, packed into one
 *   row (storage-measurements.md: rows of many records are what reach 150k
 *   records/s). Records first_seq..last_seq, in order; body is, per record,
 *   u16 partition-key length, u32 data length (little-endian), key, data.
 *   Indexed by (shard_id, last_seq) for reads and (shard_id, arrival_ms) for
 *   AT_TIMESTAMP and retention trimming.
 *   Invariants: per shard, segments never overlap and ascend with id; every
 *   record of a segment arrived at arrival_ms.
 *
 * tags(stream_id, key, value) -- the stream's tags.
 */
#include "storage/schema.h"

#include <stdio.h>

static const char *const MIGRATIONS[] = {
    /* 0 → 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
    "CREATE TABLE streams("
    "  id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, status TEXT NOT NULL, status_until_ms INTEGER NOT NULL,"
    "  retention_hours INTEGER NOT NULL, mode TEXT NOT NULL, encryption TEXT NOT NULL,"
    "  key_id TEXT, metrics TEXT NOT NULL DEFAULT '', max_record_kib INTEGER NOT NULL,"
    "  warm_mibps INTEGER, next_shard_ix INTEGER NOT NULL,"
    "  UNIQUE(region, name));"
    "CREATE TABLE shards("
    "  id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL REFERENCES streams(id),"
    "  shard_ix INTEGER NOT NULL, parent_ix INTEGER, adjacent_ix INTEGER,"
    "  start_hash BLOB NOT NULL, end_hash BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    "  next_seq INTEGER NOT NULL DEFAULT 0, closed_seq INTEGER,"
    "  UNIQUE(stream_id, shard_ix));"
    "CREATE TABLE segments("
    "  id INTEGER PRIMARY KEY, shard_id INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL, arrival_ms INTEGER NOT NULL, encrypted INTEGER NOT NULL,"
    "  body BLOB NOT NULL);"
    "CREATE INDEX segments_by_shard ON segments(shard_id, last_seq);"
    "CREATE INDEX segments_by_time ON segments(shard_id, arrival_ms);"
    "CREATE TABLE tags(stream_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY(stream_id, key)) WITHOUT ROWID;",
};

int schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int version = 0, rc;

    if ((rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL)) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > TP_SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than this tidepool (%d)",
                 version, TP_SCHEMA_VERSION);
        return SQLITE_ERROR;
    }
    for (; version < TP_SCHEMA_VERSION; version++) {
        char sql[64];
        if ((rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
            goto out;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", version + 1);
        if ((rc = sqlite3_exec(db, MIGRATIONS[version], NULL, NULL, NULL)) != SQLITE_OK ||
            (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
            (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
            snprintf(err, errlen, "migration to schema %d failed: %s", version + 1, sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return SQLITE_OK;
out:
    snprintf(err, errlen, "reading the schema version failed: %s", sqlite3_errmsg(db));
    return rc;
}
