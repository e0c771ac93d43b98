/* Request bodies sent with `Content-Encoding: gzip`: the SDKs compress
 * CloudWatch PutMetricData bodies over 10 KiB (botocore's and the Java SDK
 * v2's requestCompression trait), on every protocol. */
#ifndef TP_GUNZIP_H
#define TP_GUNZIP_H

#include <stddef.h>

/* The inflated bytes of one or more concatenated gzip members (malloc'd,
 * NUL-terminated, *outlen their count), or NULL when data is not gzip, is
 * cut short, or inflates past max bytes. */
unsigned char *gunzip(const unsigned char *data, size_t len, size_t max, size_t *outlen);

#endif
