/* ListShards: pages of a stream's shards, by name or by NextToken, with
 * ShardFilter. Touches: streams, shards. */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"
#include "protocol/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum shard_filter { F_FROM_TRIM_HORIZON, F_AFTER_SHARD_ID, F_AT_TRIM_HORIZON, F_AT_LATEST, F_AT_TIMESTAMP,
                    F_FROM_TIMESTAMP };
static const char *const FILTER_NAMES[] = {"FROM_TRIM_HORIZON", "AFTER_SHARD_ID", "AT_TRIM_HORIZON",
                                           "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"};
#define LIST_SHARDS_TOKEN_TTL_MS 300000

/* The page state a ListShards NextToken carries (base64 of its text form). */
struct shards_page {
    uint64_t stream_created_ms, issued_ms, filter_ts;
    int64_t after_ix, filter_ix;
    int filter, max_results;
    char name[STREAM_NAME_MAX + 1];
};

static void token_encode(const struct shards_page *p, char *out, size_t outlen)
{
    char text[512];
    int n = snprintf(text, sizeof text, "1:%llu:%llu:%lld:%d:%lld:%llu:%d:%s",
                     (unsigned long long)p->stream_created_ms, (unsigned long long)p->issued_ms,
                     (long long)p->after_ix, p->filter, (long long)p->filter_ix,
                     (unsigned long long)p->filter_ts, p->max_results, p->name);
    if (base64_encoded_len((size_t)n) < outlen)
        out[base64_encode((const unsigned char *)text, (size_t)n, out)] = 0;
}

static int token_decode(const char *tok, struct shards_page *p)
{
    unsigned char text[513];
    size_t tl = strlen(tok), dl;
    unsigned long long created, issued, ts;
    long long after, fix;
    int used = 0;
    if (tl > 680 || base64_decode(tok, tl, text, &dl, NULL) != BASE64_OK)
        return -1;
    text[dl] = 0;
    if (sscanf((char *)text, "1:%llu:%llu:%lld:%d:%lld:%llu:%d:%n", &created, &issued, &after, &p->filter,
               &fix, &ts, &p->max_results, &used) != 7 || !used || p->filter < 0 || p->filter > F_FROM_TIMESTAMP ||
        strlen((char *)text + used) > STREAM_NAME_MAX || !text[used])
        return -1;
    p->stream_created_ms = created;
    p->issued_ms = issued;
    p->after_ix = after;
    p->filter_ix = fix;
    p->filter_ts = ts;
    strcpy(p->name, (char *)text + used);
    return 0;
}

/* Which shards a ShardFilter keeps. Shards never close before resharding
 * exists, so "open at a time" reduces to created by then or initial. */
static int filter_keeps(const struct shards_page *p, const struct db_shard *sh)
{
    switch (p->filter) {
    case F_AFTER_SHARD_ID: return (int64_t)sh->ix > p->filter_ix;
    case F_AT_TRIM_HORIZON: return sh->parent_ix < 0;
    case F_AT_LATEST: return sh->closed_seq < 0;
    case F_AT_TIMESTAMP: return sh->closed_seq < 0 && (sh->parent_ix < 0 || sh->created_ms <= p->filter_ts);
    default: return 1;
    }
}

/* ListShards: pages of MaxResults (≤ 1000) shards, by StreamName/StreamARN or
 * by NextToken (never both), with ExclusiveStartShardId and ShardFilter.
 * Rules already enforced: LIST_SHARDS. */
int kinesis_list_shards(struct svc_ctx *c, const cJSON *in)
{
    struct shards_page p;
    struct db_stream s;
    struct db_shard *sh = NULL;
    unsigned n = 0, shown = 0, i = 0;
    const char *token = v_str(in, "NextToken");
    int has_stream = v_str(in, "StreamName") || v_str(in, "StreamARN");
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(in, "ShardFilter");

    memset(&p, 0, sizeof p);
    if (token && has_stream)
        return reply_error(c, ERR_INVALID_ARGUMENT, "NextToken and StreamName cannot be provided together.");
    if (!token && !has_stream)
        return reply_error(c, ERR_INVALID_ARGUMENT, "Either NextToken or StreamName should be provided.");
    if (token) {
        if (token_decode(token, &p))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Invalid NextToken.");
        if (c->now_ms > p.issued_ms + LIST_SHARDS_TOKEN_TTL_MS)
            return reply_error(c, ERR_EXPIRED_NEXT_TOKEN, "The requested token has expired.");
        if (kinesis_token_stream_or_reply(c, p.name, p.stream_created_ms, "Invalid NextToken.", &s))
            return -1;
        if (cJSON_GetObjectItemCaseSensitive(in, "MaxResults"))
            p.max_results = v_int(in, "MaxResults", 1000);
    } else {
        if (kinesis_stream_lookup_or_reply(c, in, &s))
            return -1;
        const char *start = v_str(in, "ExclusiveStartShardId");
        p.after_ix = start ? kinesis_shard_ix(start) : -1;
        p.max_results = v_int(in, "MaxResults", 1000);
        p.filter_ix = -1;
        if (filter) {
            const char *type = v_str(filter, "Type");
            const char *fid = v_str(filter, "ShardId");
            const cJSON *fts = cJSON_GetObjectItemCaseSensitive(filter, "Timestamp");
            for (unsigned k = 0; k < sizeof FILTER_NAMES / sizeof *FILTER_NAMES; k++)
                if (!strcmp(type, FILTER_NAMES[k]))
                    p.filter = (int)k;
            if (p.filter == F_AFTER_SHARD_ID && !fid)
                return reply_error(c, ERR_INVALID_ARGUMENT, "Must specify ShardId in ShardFilter when filter type is AFTER_SHARD_ID.");
            if ((p.filter == F_AT_TIMESTAMP || p.filter == F_FROM_TIMESTAMP) && !fts)
                return reply_error(c, ERR_INVALID_ARGUMENT, "Must specify Timestamp in ShardFilter when filter type is %s.", type);
            p.filter_ix = fid ? kinesis_shard_ix(fid) : -1;
            p.filter_ts = fts ? v_time_ms(fts) : 0;
        }
        p.stream_created_ms = s.created_ms;
        snprintf(p.name, sizeof p.name, "%s", s.name);
    }
    if (p.max_results > 1000)
        p.max_results = 1000;
    if (kinesis_shards_or_reply(c, &s, &sh, &n))
        return -1;

    struct jw *w = &c->out;
    jw_obj_begin(w);
    jw_key(w, "Shards");
    jw_arr_begin(w);
    for (; i < n && (int)shown < p.max_results; i++)
        if ((int64_t)sh[i].ix > p.after_ix && filter_keeps(&p, &sh[i])) {
            kinesis_write_shard(w, &sh[i]);
            p.after_ix = sh[i].ix;
            shown++;
        }
    jw_arr_end(w);
    int more = 0;
    for (; i < n; i++)
        more |= (int64_t)sh[i].ix > p.after_ix && filter_keeps(&p, &sh[i]);
    if (more) {
        char tok[1024];
        p.issued_ms = c->now_ms;
        token_encode(&p, tok, sizeof tok);
        jw_key(w, "NextToken");
        jw_str(w, tok);
    }
    jw_obj_end(w);
    free(sh);
    return 0;
}

