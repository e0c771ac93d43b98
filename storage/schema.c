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
 *
 * Version 2 adds S3 (storage/objects.c):
 *
 * buckets(id, name UNIQUE, region, created_ms)
 *   One row per bucket; names are global, as in S3. AUTOINCREMENT: a deleted
 *   bucket's id is never reused, so a request that looked a bucket up before it
 *   was deleted cannot put an object into a newer bucket of the same id.
 *
 * objects(id, bucket_id, key, size, last_modified_ms, etag, checksum_alg, checksum,
 *         headers, tags, extents)
 *   One row per object; (bucket_id, key) unique, and that index is also the
 *   listing order: key is TEXT compared with the BINARY collation (memcmp),
 *   i.e. UTF-8 byte order, as S3 lists. headers and tags: JSON objects (tags
 *   NULL when none). extents: the object's bytes as a list of whole blobs,
 *   16 bytes each: i64 blob id, u64 size (little-endian). It is the last
 *   column so a listing, which does not read it, never touches its overflow
 *   pages (up to 160 KB for 10,000 parts).
 *
 * blobs(id, size, created_ms, refs)
 *   A byte string stored in chunks. size is NULL while it is being written.
 *   refs counts the links to it: extents of objects plus parts rows. A blob
 *   whose count drops to 0 is deleted with its chunks in the same transaction;
 *   one that never got a link (an upload cut off) keeps refs=0 and is removed
 *   at the next open. AUTOINCREMENT: an id is never reused, so a stale extent
 *   list can fail to read but never reads another object's bytes.
 *
 * chunks(id, data)
 *   Blob bytes, DB_CHUNK_SIZE (1 MiB) per row; only a blob's last chunk may be
 *   shorter. id = blob_id << 23 | chunk index: a blob's chunks are one rowid
 *   range (no index to maintain; 8 TiB per blob, 2^40 blobs). 1 MiB rows,
 *   committed one per writer job, are what the measurements call fast (few
 *   large rows), and a streaming upload never holds more than one in memory.
 *
 * uploads(upload_id PRIMARY KEY, bucket_id, key, created_ms, headers, tags, checksum_alg)
 *   Multipart uploads in progress; indexed by (bucket_id, key, created_ms) for
 *   ListMultipartUploads and for DeleteBucket's emptiness check.
 *
 * parts(upload_id, part_number, blob, size, etag, checksum, last_modified_ms)
 *   The parts uploaded so far; each holds one reference on its blob (refs).
 *
 * Version 3 adds Firehose (storage/firehose.c):
 *
 * delivery_streams(id, region, name, type, status, status_until_ms, version,
 *                  created_ms, updated_ms, source, destination, encryption)
 *   One row per delivery stream; (region, name) unique; status as for streams.
 *   source, destination, encryption: JSON text of what DescribeDeliveryStream
 *   shows (KinesisStreamSourceDescription, ExtendedS3DestinationDescription,
 *   DeliveryStreamEncryptionConfiguration), defaults filled in; the delivery
 *   engine reads its settings from the same text. AUTOINCREMENT: a stream
 *   created again under an old name never inherits the old one's buffer or
 *   checkpoints. Its tags live in `tags` under stream_id = -id.
 *
 * fh_records(id, stream_id, arrival_ms, data)
 *   Records put to a DirectPut stream and not yet delivered, one row each,
 *   in arrival order by id. AUTOINCREMENT: ids only grow, even when every row
 *   has been delivered and deleted, so the engine's "read up to id" cursor
 *   never skips a new record. Delivery deletes the rows it wrote to S3 in the
 *   same transaction that publishes the object.
 *
 * fh_checkpoints(stream_id, shard_id, next_seq)
 *   For a Kinesis-sourced stream: per source shard, the sequence index of the
 *   first record not yet delivered; advanced in the transaction that
 *   publishes the object holding the records before it.
 *
 * Version 4 adds CloudWatch metrics (storage/metrics.c):
 *
 * cw_metrics(id, region, namespace, name, dimensions, updated_ms)
 *   One row per metric: (region, namespace, name, dimensions) unique, where
 *   dimensions is canonical JSON text ([{"Name":…,"Value":…}] sorted by Name)
 *   so that equal dimension sets are equal strings. updated_ms: when data was
 *   last put (ListMetrics' RecentlyActive, retention).
 *
 * cw_points(id, metric_id, second, unit, sample_count, total, minimum, maximum)
 *   The metric's datapoints aggregated per (epoch second, unit): what
 *   GetMetricStatistics needs for any period and statistic but percentiles.
 *   Standard-resolution data (StorageResolution 60) is stored at the minute's
 *   first second. Indexed by second for retention trimming.
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
    /* 1 → 2: S3 */
    "CREATE TABLE buckets("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, region TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE objects("
    "  id INTEGER PRIMARY KEY, bucket_id INTEGER NOT NULL, key TEXT NOT NULL,"
    "  size INTEGER NOT NULL, last_modified_ms INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  checksum_alg TEXT NOT NULL DEFAULT '', checksum TEXT NOT NULL DEFAULT '',"
    "  headers TEXT, tags TEXT, extents BLOB NOT NULL,"
    "  UNIQUE(bucket_id, key));"
    "CREATE TABLE blobs("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER, created_ms INTEGER NOT NULL,"
    "  refs INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE uploads("
    "  upload_id TEXT PRIMARY KEY, bucket_id INTEGER NOT NULL, key TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, headers TEXT, tags TEXT, checksum_alg TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX uploads_by_key ON uploads(bucket_id, key, created_ms);"
    "CREATE TABLE parts("
    "  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT NOT NULL DEFAULT '',"
    "  last_modified_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(upload_id, part_number)) WITHOUT ROWID;",
    /* 2 → 3: Firehose */
    "CREATE TABLE delivery_streams("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, region TEXT NOT NULL, name TEXT NOT NULL,"
    "  type TEXT NOT NULL, status TEXT NOT NULL, status_until_ms INTEGER NOT NULL,"
    "  version INTEGER NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  source TEXT, destination TEXT NOT NULL, encryption TEXT,"
    "  UNIQUE(region, name));"
    "CREATE TABLE fh_records("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, stream_id INTEGER NOT NULL,"
    "  arrival_ms INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX fh_records_by_stream ON fh_records(stream_id, id);"
    "CREATE TABLE fh_checkpoints(stream_id INTEGER NOT NULL, shard_id INTEGER NOT NULL,"
    "  next_seq INTEGER NOT NULL, PRIMARY KEY(stream_id, shard_id)) WITHOUT ROWID;",
    /* 3 → 4: CloudWatch metrics */
    "CREATE TABLE cw_metrics("
    "  id INTEGER PRIMARY KEY, region TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
    "  dimensions TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    "  UNIQUE(region, namespace, name, dimensions));"
    "CREATE INDEX cw_metrics_by_update ON cw_metrics(updated_ms);"
    "CREATE TABLE cw_points("
    "  id INTEGER PRIMARY KEY, metric_id INTEGER NOT NULL, second INTEGER NOT NULL, unit TEXT NOT NULL,"
    "  sample_count REAL NOT NULL, total REAL NOT NULL, minimum REAL NOT NULL, maximum REAL NOT NULL,"
    "  UNIQUE(metric_id, second, unit));"
    "CREATE INDEX cw_points_by_second ON cw_points(second);",
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
