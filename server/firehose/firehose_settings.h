/* What the delivery engine runs by: a delivery stream's stored destination
 * (firehose_config.c) read into plain fields. */
#ifndef TP_FIREHOSE_SETTINGS_H
#define TP_FIREHOSE_SETTINGS_H

#include <stdint.h>

#include "protocol/compress.h"

struct fh_s3 {
    char bucket[64];
    char *prefix, *error_prefix;   /* NULL when not set */
    uint64_t size_bytes, interval_ms;
    enum fh_compression compression;
    char ext[130];                 /* FileExtension, or the compression's */
    char time_zone[51];            /* "" = UTC */
};

struct fh_settings {
    struct fh_s3 dest;
    int backup;                    /* S3BackupMode Enabled: source records also to backup_dest */
    struct fh_s3 backup_dest;
    int append_delimiter;          /* AppendDelimiterToRecord */
    char lambda_arn[600];          /* "" when there is no Lambda processor */
    unsigned lambda_retries;
    uint64_t lambda_buffer_bytes, lambda_interval_ms;
};

/* 0, or -1 when the text is not a destination this engine can run. */
int firehose_settings_parse(const char *stored, struct fh_settings *s);
void firehose_settings_free(struct fh_settings *s);

#endif
