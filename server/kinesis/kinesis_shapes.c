/* Response shapes several Kinesis operations share: a stream's name, ARN,
 * status, mode, monitoring and encryption members, and a Shard object. */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"
#include "protocol/seqnum.h"

#include <stdlib.h>
#include <string.h>

const char *const KINESIS_METRICS[KINESIS_N_METRICS] = {
    "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
    "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"};

void kinesis_write_metrics(struct jw *w, const char *csv)
{
    jw_arr_begin(w);
    for (unsigned i = 0; i < KINESIS_N_METRICS; i++) {
        size_t n = strlen(KINESIS_METRICS[i]);
        for (const char *p = csv; (p = strstr(p, KINESIS_METRICS[i])); p += n)
            if ((p == csv || p[-1] == ',') && (p[n] == ',' || !p[n])) {
                jw_str(w, KINESIS_METRICS[i]);
                break;
            }
    }
    jw_arr_end(w);
}

void kinesis_write_monitoring(struct jw *w, const struct db_stream *s)
{
    jw_key(w, "EnhancedMonitoring");
    jw_arr_begin(w);
    jw_obj_begin(w);
    jw_key(w, "ShardLevelMetrics");
    kinesis_write_metrics(w, s->metrics);
    jw_obj_end(w);
    jw_arr_end(w);
}

void kinesis_write_encryption(struct jw *w, const struct db_stream *s)
{
    jw_key(w, "EncryptionType");
    jw_str(w, s->encryption);
    if (s->key_id[0]) {
        jw_key(w, "KeyId");
        jw_str(w, s->key_id);
    }
}

void kinesis_write_stream_head(struct jw *w, const struct db_stream *s)
{
    char arn[512];
    kinesis_stream_arn(s, arn, sizeof arn);
    jw_key(w, "StreamName");
    jw_str(w, s->name);
    jw_key(w, "StreamARN");
    jw_str(w, arn);
    jw_key(w, "StreamStatus");
    jw_str(w, s->status);
    jw_key(w, "StreamModeDetails");
    jw_obj_begin(w);
    jw_key(w, "StreamMode");
    jw_str(w, s->mode);
    jw_obj_end(w);
}

void kinesis_write_shard(struct jw *w, const struct db_shard *sh)
{
    char id[24], hk[HASHKEY_DEC_MAX], seq[SEQNUM_DEC_MAX];
    struct seqnum sn = {sh->created_ms / 1000, sh->ix, 0, sh->created_ms / 1000};
    jw_obj_begin(w);
    kinesis_shard_id(sh->ix, id);
    jw_key(w, "ShardId");
    jw_str(w, id);
    if (sh->parent_ix >= 0) {
        kinesis_shard_id((uint32_t)sh->parent_ix, id);
        jw_key(w, "ParentShardId");
        jw_str(w, id);
    }
    if (sh->adjacent_ix >= 0) {
        kinesis_shard_id((uint32_t)sh->adjacent_ix, id);
        jw_key(w, "AdjacentParentShardId");
        jw_str(w, id);
    }
    jw_key(w, "HashKeyRange");
    jw_obj_begin(w);
    hashkey_format(sh->start, hk);
    jw_key(w, "StartingHashKey");
    jw_str(w, hk);
    hashkey_format(sh->end, hk);
    jw_key(w, "EndingHashKey");
    jw_str(w, hk);
    jw_obj_end(w);
    jw_key(w, "SequenceNumberRange");
    jw_obj_begin(w);
    seqnum_format(&sn, seq);
    jw_key(w, "StartingSequenceNumber");
    jw_str(w, seq);
    if (sh->closed_seq >= 0) {
        sn.seq_ix = (uint64_t)sh->closed_seq;
        seqnum_format(&sn, seq);
        jw_key(w, "EndingSequenceNumber");
        jw_str(w, seq);
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

int kinesis_shards_or_reply(struct svc_ctx *c, const struct db_stream *s, struct db_shard **sh, unsigned *n)
{
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_shards(db, s->id, sh, n);
    db_reader_release(db);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

