/* Bucket names read straight from a data directory's database, for
 * `tidepool hosts`: read-only, because a server may be running on the same
 * data (db_open would migrate, sweep and start a writer). */
#ifndef TP_BUCKET_NAMES_H
#define TP_BUCKET_NAMES_H

/* Calls cb for each bucket, by name; a non-zero return stops. TP_OK,
 * TP_ENOTFOUND when dir has no database, TP_EIO when it cannot be read. */
int db_bucket_names_readonly(const char *dir, int (*cb)(void *ctx, const char *name, const char *region),
                             void *ctx);

#endif
