/* Kinesis tags, through both APIs: the stream-named one (AddTagsToStream,
 * RemoveTagsFromStream, ListTagsForStream) and the ARN-named one
 * (TagResource, UntagResource, ListTagsForResource; the shared lookups read
 * ResourceARN as well). Touches: tags. */
#include "server/runtime/config.h"
#include "server/kinesis/kinesis.h"
#include "server/shared/tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds or replaces the request's Tags; a stream holds at most 50. Writing
 * first and counting after is safe: a failing job's savepoint is rolled back. */
static int put_tags_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    unsigned count;
    int rc = tags_put_counted(w, s->id, cJSON_GetObjectItemCaseSensitive(ch->in, "Tags"), &count);
    if (rc == TP_OK && count > KINESIS_MAX_TAGS) {
        snprintf(ch->msg, sizeof ch->msg, "Failed to add tags to stream %s under account %s because a given "
                 "stream cannot have more than %d tags.", s->name, g_cfg.account, KINESIS_MAX_TAGS);
        rc = ERR_INVALID_ARGUMENT;
    }
    return rc;
}

static int remove_tags_apply(struct db_conn *w, struct db_stream *s, struct kinesis_change *ch)
{
    return tags_remove_listed(w, s->id, cJSON_GetObjectItemCaseSensitive(ch->in, "TagKeys"));
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

/* ListTagsForStream: tags by key, Limit (default 50) after ExclusiveStartTagKey.
 * Rules already enforced: LIST_TAGS_FOR_STREAM. */
int kinesis_list_tags_for_stream(struct svc_ctx *c, const cJSON *in)
{
    struct db_stream s;
    struct tag_page p;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(in, "ExclusiveStartTagKey");

    if (kinesis_stream_lookup_or_reply(c, in, &s))
        return -1;
    jw_obj_begin(&c->out);
    if (tags_write_or_reply(c, s.id, cJSON_IsString(start) ? start->valuestring : "",
                            v_int(in, "Limit", KINESIS_MAX_TAGS), &p))
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
    if (tags_write_or_reply(c, s.id, "", KINESIS_MAX_TAGS, &p))
        return -1;
    jw_obj_end(&c->out);
    return 0;
}
