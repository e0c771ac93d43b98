/* Kinesis tags, through both APIs: the stream-named one (AddTagsToStream,
 * RemoveTagsFromStream, ListTagsForStream) and the ARN-named one
 * (TagResource, UntagResource, ListTagsForResource; the shared lookups read
 * ResourceARN as well). Touches: tags. */
#include "server/config.h"
#include "server/kinesis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds or replaces the request's Tags; a stream holds at most 50. Writing
 * first and counting after is safe: a failing job's savepoint is rolled back. */
static int put_tags_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(ch->in, "Tags"), *t;
    unsigned n = 0, count;
    struct db_tag *tags = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof *tags);
    if (!tags)
        return TP_EIO;
    cJSON_ArrayForEach(t, map) {
        tags[n].key = t->string;
        tags[n++].value = cJSON_IsString(t) ? t->valuestring : "";
    }
    int rc = db_tags_put(w, s->id, tags, n);
    free(tags);
    if (rc == TP_OK && (rc = db_stream_tag_count(w, s->id, &count)) == TP_OK && count > KINESIS_MAX_TAGS) {
        snprintf(ch->msg, sizeof ch->msg, "Failed to add tags to stream %s under account %s because a given "
                 "stream cannot have more than %d tags.", s->name, g_cfg.account, KINESIS_MAX_TAGS);
        rc = ERR_INVALID_ARGUMENT;
    }
    return rc;
}

static int remove_tags_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(ch->in, "TagKeys"), *k;
    unsigned n = 0;
    const char **keys = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *keys);
    if (!keys)
        return TP_EIO;
    cJSON_ArrayForEach(k, list) {
        if (cJSON_IsString(k))
            keys[n++] = k->valuestring;
    }
    int rc = db_tags_remove(w, s->id, keys, n);
    free(keys);
    return rc;
}

/* AddTagsToStream. Rules already enforced: ADD_TAGS. */
int kinesis_add_tags_to_stream(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = put_tags_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* TagResource: AddTagsToStream by ResourceARN. Rules: TAG_RESOURCE. */
int kinesis_tag_resource(struct svc_ctx *c, const cJSON *in)
{
    return kinesis_add_tags_to_stream(c, in);
}

/* RemoveTagsFromStream: keys that are absent are ignored, as AWS does. */
int kinesis_remove_tags_from_stream(struct svc_ctx *c, const cJSON *in)
{
    struct kinesis_change ch = {.apply = remove_tags_apply, .in = in};
    return kinesis_change_or_reply(c, &ch);
}

/* UntagResource: RemoveTagsFromStream by ResourceARN. Rules: UNTAG_RESOURCE. */
int kinesis_untag_resource(struct svc_ctx *c, const cJSON *in)
{
    return kinesis_remove_tags_from_stream(c, in);
}

struct tag_page {
    struct jw *w;
    int limit, count, more;
};

static int tag_row(void *ctx, const char *key, const char *value)
{
    struct tag_page *p = ctx;
    if (p->count == p->limit) {
        p->more = 1;
        return 1;
    }
    p->count++;
    jw_obj_begin(p->w);
    jw_key(p->w, "Key");
    jw_str(p->w, key);
    jw_key(p->w, "Value");
    jw_str(p->w, value);
    jw_obj_end(p->w);
    return 0;
}

/* Writes "Tags": [...] for up to limit tags after `after`; returns the page. */
static int write_tags_or_reply(struct svc_ctx *c, const struct db_stream *s, const char *after, int limit,
                               struct tag_page *p)
{
    *p = (struct tag_page){&c->out, limit, 0, 0};
    jw_key(&c->out, "Tags");
    jw_arr_begin(&c->out);
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_tags(db, s->id, after, tag_row, p);
    db_reader_release(db);
    jw_arr_end(&c->out);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}

/* ListTagsForStream: tags by key, Limit (default 50) after ExclusiveStartTagKey.
 * Rules already enforced: LIST_TAGS_FOR_STREAM. */
int kinesis_list_tags_for_stream(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct tag_page p;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(in, "ExclusiveStartTagKey");
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(in, "Limit");

    if (kinesis_stream_lookup_or_reply(c, in, &s))
        return -1;
    jw_obj_begin(&c->out);
    if (write_tags_or_reply(c, &s, cJSON_IsString(start) ? start->valuestring : "",
                            cJSON_IsNumber(limit) ? (int)floor(limit->valuedouble) : KINESIS_MAX_TAGS, &p))
        return -1;
    jw_key(&c->out, "HasMoreTags");
    jw_bool(&c->out, p.more);
    jw_obj_end(&c->out);
    return 0;
}

/* ListTagsForResource: every tag of the stream named by ResourceARN. */
int kinesis_list_tags_for_resource(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct tag_page p;
    if (kinesis_stream_lookup_or_reply(c, in, &s))
        return -1;
    jw_obj_begin(&c->out);
    if (write_tags_or_reply(c, &s, "", KINESIS_MAX_TAGS, &p))
        return -1;
    jw_obj_end(&c->out);
    return 0;
}
