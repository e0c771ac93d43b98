/* Kinesis names on the wire, for every part that speaks of streams and shards
 * (the Kinesis API, Firehose's Kinesis source): stream ARNs and shard ids. */
#ifndef TP_KINESIS_IDS_H
#define TP_KINESIS_IDS_H

#include <stddef.h>
#include <stdint.h>

#define KINESIS_STREAM_NAME_MAX 128

/* arn:aws:kinesis:REGION:ACCOUNT:stream/NAME → region and name; -1 when it is not one. */
int kinesis_parse_arn(const char *arn, char *region, size_t rlen, char name[KINESIS_STREAM_NAME_MAX + 1]);
/* "shardId-000000000007" for shard 7. */
void kinesis_shard_id(uint32_t ix, char out[24]);
/* Parses "shardId-000000000007" (or "7"); -1 when it is not one. */
int64_t kinesis_shard_ix(const char *shard_id);

#endif
