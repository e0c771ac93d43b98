/* TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream. Tags
 * are kept with the Kinesis ones (storage/streams.c) under db_fh_tag_owner.
 * Touches: tags. */
#include "server/runtime/config.h"
#include "server/firehose/firehose.h"
#include "server/shared/tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds or replaces; at most 50 per stream. Counting after writing is safe: a
 * failing job's savepoint is rolled back. */
static int tag_apply(struct db_conn *w, struct db_fh *f, struct firehose_change *ch)
{
    unsigned count;
    int rc = tags_put_counted(w, db_fh_tag_owner(f->id), cJSON_GetObjectItemCaseSensitive(ch->in, "Tags"), &count);
    if (rc == TP_OK && count > FH_MAX_TAGS) {
        snprintf(ch->msg, sizeof ch->msg, "Failed to add tags to Firehose %s under account %s because a given "
                 "Firehose cannot have more than %d tags.", f->name, g_cfg.account, FH_MAX_TAGS);
        rc = ERR_LIMIT_EXCEEDED;
    }
    return rc;
}

static int untag_apply(struct db_conn *w, struct db_fh *f, struct firehose_change *ch)
{
    return tags_remove_listed(w, db_fh_tag_owner(f->id), cJSON_GetObjectItemCaseSensitive(ch->in, "TagKeys"));
}

int firehose_tag_delivery_stream(struct svc_ctx *c, const cJSON *in)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(in, "Tags")) {
        if (!strncmp(v_str(t, "Key"), "aws:", 4))
            return reply_error(c, ERR_INVALID_ARGUMENT, "Tag keys starting with 'aws:' are reserved.");
    }
    struct firehose_change ch = {.apply = tag_apply, .in = in};
    return firehose_change_or_reply(c, &ch);
}

int firehose_untag_delivery_stream(struct svc_ctx *c, const cJSON *in)
{
    struct firehose_change ch = {.apply = untag_apply, .in = in};
    return firehose_change_or_reply(c, &ch);
}

int firehose_list_tags(struct svc_ctx *c, const cJSON *in)
{
    struct db_fh f;
    struct tag_page p;
    const char *start = v_str(in, "ExclusiveStartTagKey");
    if (firehose_lookup_or_reply(c, in, &f))
        return -1;
    jw_obj_begin(&c->out);
    int rc = tags_write_or_reply(c, db_fh_tag_owner(f.id), start ? start : "", v_int(in, "Limit", FH_MAX_TAGS), &p);
    db_fh_clear(&f);
    if (rc)
        return -1;
    jw_key(&c->out, "HasMoreTags");
    jw_bool(&c->out, p.more);
    jw_obj_end(&c->out);
    return 0;
}
