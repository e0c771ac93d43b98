/* Tags shared by the services that keep them (tags table, storage/streams.c,
 * under an owner id): request members into rows, and the "Tags" list of the
 * listing operations. Kinesis sends a map {key: value}, Firehose a list of
 * {Key, Value}; both come in here. */
#include "server/shared/tags.h"
#include "storage/streams.h"

#include <stdlib.h>

int tags_put_counted(struct db_conn *w, int64_t owner, const cJSON *tags, unsigned *count)
{
    const cJSON *t;
    unsigned n = 0;
    struct db_tag *v = calloc((size_t)cJSON_GetArraySize(tags) + 1, sizeof *v);
    if (!v)
        return TP_EIO;
    cJSON_ArrayForEach(t, tags) {
        if (cJSON_IsObject(t)) { /* {Key, Value} */
            v[n].key = v_str(t, "Key");
            v[n++].value = v_str(t, "Value") ? v_str(t, "Value") : "";
        } else { /* a map member */
            v[n].key = t->string;
            v[n++].value = cJSON_IsString(t) ? t->valuestring : "";
        }
    }
    int rc = db_tags_put(w, owner, v, n);
    free(v);
    return rc == TP_OK ? db_stream_tag_count(w, owner, count) : rc;
}

int tags_remove_listed(struct db_conn *w, int64_t owner, const cJSON *keys)
{
    const cJSON *k;
    unsigned n = 0;
    const char **v = calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof *v);
    if (!v)
        return TP_EIO;
    cJSON_ArrayForEach(k, keys) {
        if (cJSON_IsString(k))
            v[n++] = k->valuestring;
    }
    int rc = db_tags_remove(w, owner, v, n);
    free(v);
    return rc;
}

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

int tags_write_or_reply(struct svc_ctx *c, int64_t owner, const char *after, int limit, struct tag_page *p)
{
    *p = (struct tag_page){&c->out, limit, 0, 0};
    jw_key(&c->out, "Tags");
    jw_arr_begin(&c->out);
    struct db_conn *db = db_reader_acquire();
    int rc = db_stream_tags(db, owner, after, tag_row, p);
    db_reader_release(db);
    jw_arr_end(&c->out);
    return rc == TP_OK ? 0 : reply_error(c, ERR_INTERNAL, NULL);
}
