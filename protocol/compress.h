/* Streaming compressors for Firehose's CompressionFormat (protocols.md §2.5):
 * the delivery engine feeds records one at a time and the compressed object
 * comes out through a sink callback. Formats as real Firehose writes them
 * (floci-io/floci#2328 compared them with delivered objects):
 *   GZIP           a gzip stream
 *   ZIP            an archive of one deflated entry, named by the caller
 *                  (Firehose uses a random UUID unrelated to the object key)
 *   Snappy         xerial snappy-java's SnappyOutputStream framing: magic
 *                  82 'SNAPPY' 00, int32 BE version 1, int32 BE compatible
 *                  version 1, then per 32 KiB of input an int32 BE compressed
 *                  length and a raw snappy block
 *   HADOOP_SNAPPY  Hadoop's BlockCompressorStream framing for SnappyCodec
 *                  (snappy-java's SnappyHadoopCompatibleOutputStream): per
 *                  32 KiB of input an int32 BE uncompressed length, an int32
 *                  BE compressed length and a raw snappy block */
#ifndef TP_COMPRESS_H
#define TP_COMPRESS_H

#include <stddef.h>

enum fh_compression { FH_UNCOMPRESSED, FH_GZIP, FH_ZIP, FH_SNAPPY, FH_HADOOP_SNAPPY };

/* The exact (case-sensitive) AWS names: UNCOMPRESSED GZIP ZIP Snappy
 * HADOOP_SNAPPY. 0, or -1 for anything else. */
int fh_compression_parse(const char *name, enum fh_compression *out);
/* The default object key extension: "", ".gz", ".zip", ".snappy", and
 * ".snappy" for HADOOP_SNAPPY too, as the service writes (its docs say
 * ".hsnappy"). */
const char *fh_compression_extension(enum fh_compression c);
/* The object's Content-Encoding: NULL (none), "gzip", "zip", "snappy-java",
 * "hadoop-snappy". */
const char *fh_compression_content_encoding(enum fh_compression c);

/* Receives the compressed bytes in order; non-zero aborts the compressor. */
typedef int (*compressor_sink)(void *ctx, const void *p, size_t n);

struct compressor;

/* entry_name is required for ZIP (copied), ignored otherwise. NULL when out
 * of memory. ZIP holds the whole object in memory until compressor_finish;
 * the other formats hold at most one block. */
struct compressor *compressor_new(enum fh_compression c, const char *entry_name,
                                  compressor_sink sink, void *ctx);
/* 0, or -1 when the sink failed or memory ran out; errors are sticky. */
int compressor_write(struct compressor *z, const void *p, size_t n);
/* Flushes the rest of the object into the sink and frees z: 0, or -1 when
 * this or an earlier call failed. */
int compressor_finish(struct compressor *z);
/* Abandons the object: frees z without another call to the sink. */
void compressor_free(struct compressor *z);

#endif
