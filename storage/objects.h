/* S3 buckets and objects (tables buckets, objects, blobs, chunks; see
 * schema.c). Object bytes live in blobs: a blob is filled 1 MiB chunk by chunk
 * while an upload streams in, each chunk committed by its own writer job (a
 * 5 GiB upload never holds more than a chunk in memory nor one giant
 * transaction), and becomes visible only when the job that publishes the
 * object links it. A blob never linked (crash, aborted upload) is removed at
 * the next open (db_objects_sweep). An object is a list of extents (blob,
 * size): one for a PutObject, one per part for a multipart upload.
 *
 * Readers: db_object_get and db_blob_read on a reader connection. A reader
 * that streams an object over many reads holds one read transaction
 * (db_read_begin/db_read_end) so an overwrite mid-way cannot mix old and new.
 * Functions taking `w` run only inside a db_write job. */
#ifndef TP_OBJECTS_H
#define TP_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/db.h"

#define DB_CHUNK_SIZE (1024 * 1024)
#define DB_BUCKET_NAME_MAX 63
#define DB_KEY_MAX 1024          /* bytes of UTF-8, as S3 */

struct db_bucket {
    int64_t id;
    char name[DB_BUCKET_NAME_MAX + 1];
    char region[32];
    uint64_t created_ms;
};

struct db_extent {
    int64_t blob;
    uint64_t size;
};

/* What S3 keeps with an object besides its bytes. Strings are owned by the
 * struct after db_object_get (free with db_object_free); the caller's when
 * passed to db_object_put. */
struct db_object {
    int64_t id;
    int64_t bucket_id;
    char *key;
    uint64_t size;
    uint64_t last_modified_ms;   /* whole seconds, as S3 */
    char etag[64];               /* quoted hex MD5, or "<hex>-<parts>" for multipart */
    char *headers;               /* JSON object: Content-Type, Content-Encoding, ..., x-amz-meta-* */
    char *tags;                  /* JSON object of tags, or NULL */
    char checksum_alg[16];       /* "" or CRC32, CRC32C, CRC64NVME, SHA1, SHA256 */
    char checksum[64];           /* base64 (with "-N" for a composite) */
    struct db_extent *extents;   /* in order */
    unsigned n_extents;
};

/* ---- buckets ---- */

int db_bucket_get(struct db_conn *c, const char *name, struct db_bucket *out);        /* TP_ENOTFOUND */
int db_buckets_list(struct db_conn *c, int (*cb)(void *ctx, const struct db_bucket *b), void *ctx);
int db_bucket_create(struct db_conn *w, const char *name, const char *region, uint64_t now); /* TP_EEXISTS */
/* TP_ENOTFOUND, or TP_ENOTEMPTY while it holds objects (or uploads in progress) */
int db_bucket_delete(struct db_conn *w, const char *name);

/* ---- blobs ---- */

struct db_blob_writer;

/* Starts a blob; nothing is written before the first full chunk (or the
 * finish). NULL when out of memory. */
struct db_blob_writer *db_blob_begin(void);
/* Appends bytes; every full chunk is committed before this returns. */
int db_blob_write(struct db_blob_writer *bw, const void *data, size_t n);
/* Commits the last partial chunk and frees bw; *ext gets the blob and size. */
int db_blob_finish(struct db_blob_writer *bw, struct db_extent *ext);
/* The same, and link(w, ext, ctx) runs in that last chunk's transaction (the
 * object or part that links the blob): a body of up to one chunk costs one
 * transaction in all. When link fails, nothing of it stays (bw is freed, its
 * blob dropped); its error is returned. */
int db_blob_finish_with(struct db_blob_writer *bw, int (*link)(struct db_conn *w, const struct db_extent *ext, void *ctx),
                        void *ctx, struct db_extent *ext);
/* Drops what was written and frees bw. */
void db_blob_abort(struct db_blob_writer *bw);
/* Reads up to n bytes from offset off of the object made of these extents;
 * *got is the count (short only at the end). */
int db_blob_read(struct db_conn *c, const struct db_extent *ext, unsigned n_ext, uint64_t off, void *buf,
                 size_t n, size_t *got);

/* One read transaction around many reads, for a consistent snapshot. */
int db_read_begin(struct db_conn *c);
void db_read_end(struct db_conn *c);

/* ---- objects ---- */

/* TP_ENOTFOUND when absent. */
int db_object_get(struct db_conn *c, int64_t bucket_id, const char *key, struct db_object *out);
void db_object_free(struct db_object *o);
/* Keys in byte order, strictly after `after` (may be ""), starting with prefix
 * (may be ""); cb returns non-zero to stop. The object passed to cb is valid
 * during the call only; its extents are not loaded. */
int db_objects_list(struct db_conn *c, int64_t bucket_id, const char *prefix, const char *after,
                    int (*cb)(void *ctx, const struct db_object *o), void *ctx);
/* Creates or replaces (bucket_id, key) with o (id, extents owned by the
 * caller); the replaced object's blobs are freed in the same transaction. */
int db_object_put(struct db_conn *w, const struct db_object *o);
/* TP_ENOTFOUND when absent; frees its blobs. */
int db_object_delete(struct db_conn *w, int64_t bucket_id, const char *key);
int db_object_set_tags(struct db_conn *w, int64_t bucket_id, const char *key, const char *tags_json);

/* At open: removes blobs no object or part links. */
int db_objects_sweep(struct db_conn *w, void *unused);

#endif
