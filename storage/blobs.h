/* Blob link counting, shared by the storage files that store links to blobs
 * (objects.c: object extents; uploads.c: parts rows). Internal to storage:
 * the server never counts links itself. Both run only inside a db_write job,
 * in the same job that stores or removes the link, so a count never differs
 * from the links committed (see blobs in schema.c). */
#ifndef TP_BLOBS_H
#define TP_BLOBS_H

#include <stdint.h>

#include "storage/objects.h"

/* Adds a link to the finished blob e->blob of exactly e->size bytes; TP_EIO
 * when it is missing, unfinished or of another size. */
int db_blob_ref(struct db_conn *w, const struct db_extent *e);
/* Drops a link; the last one deletes the blob and its chunks. */
int db_blob_unref(struct db_conn *w, int64_t blob);

#endif
