/* S3 multipart uploads and their parts (tables uploads, parts; see schema.c).
 * A part's bytes are a finished blob (storage/objects.h) linked by its parts
 * row; re-uploading a part number replaces it and unlinks the old blob.
 * Completing an upload turns the chosen parts into one object (its extents,
 * in part order) and removes the upload in the same transaction; aborting
 * unlinks every part. Functions taking `w` run only inside a db_write job. */
#ifndef TP_UPLOADS_H
#define TP_UPLOADS_H

#include <stdint.h>

#include "storage/objects.h"

#define DB_UPLOAD_ID_MAX 64

struct db_upload {
    char upload_id[DB_UPLOAD_ID_MAX + 1];
    int64_t bucket_id;
    char *key;
    uint64_t created_ms;
    char *headers;          /* JSON object, as db_object.headers */
    char *tags;             /* JSON object or NULL */
    char checksum_alg[16];  /* "" or the algorithm every part carries */
};

struct db_part {
    unsigned part_number;   /* 1..10000 */
    struct db_extent ext;
    char etag[64];          /* quoted hex MD5 */
    char checksum[64];      /* base64, "" when none */
    uint64_t last_modified_ms;
};

/* Strings of a db_upload from db_upload_get are owned by it. */
void db_upload_free(struct db_upload *u);
/* TP_ENOTFOUND when absent. */
int db_upload_get(struct db_conn *c, const char *upload_id, struct db_upload *out);
/* Parts in part-number order after `after` (0 for all); cb returns non-zero to stop. */
int db_upload_parts(struct db_conn *c, const char *upload_id, unsigned after,
                    int (*cb)(void *ctx, const struct db_part *p), void *ctx);
/* Uploads of a bucket whose keys start with prefix, ordered by (key,
 * created_ms, upload_id), after the (key_marker, upload_id_marker) position
 * (markers may be ""; an id marker counts only with a key marker). The upload
 * passed to cb is valid during the call only. */
int db_uploads_list(struct db_conn *c, int64_t bucket_id, const char *prefix, const char *key_marker,
                    const char *upload_id_marker, int (*cb)(void *ctx, const struct db_upload *u), void *ctx);

/* ---- writer side ---- */

/* TP_ENOTFOUND when the bucket is gone. The caller chose a unique upload_id. */
int db_upload_create(struct db_conn *w, const struct db_upload *u);
/* Stores (or replaces) a part and links its blob; TP_ENOTFOUND when the upload is gone. */
int db_upload_put_part(struct db_conn *w, const char *upload_id, const struct db_part *p);
/* Makes the object o (whose extents are the chosen parts' blobs, in order)
 * and removes the upload with all its parts; blobs of parts not used are
 * freed. TP_ENOTFOUND when the upload is gone (or is for another key);
 * TP_EIO, changing nothing, when an extent is no longer one of its parts (a
 * part re-uploaded meanwhile). */
int db_upload_complete(struct db_conn *w, const char *upload_id, const struct db_object *o);
/* Removes the upload and frees its parts' blobs; TP_ENOTFOUND when absent. */
int db_upload_abort(struct db_conn *w, const char *upload_id);

#endif
