/* Resource tags as Kinesis and Firehose keep them (storage/streams.c, under an
 * owner id) and answer them: shared by the two services, owned by neither. */
#ifndef TP_TAGS_H
#define TP_TAGS_H

#include "server/net/service.h"

struct db_conn;
/* Writer side: adds or replaces the request's tags (a map or a list of
 * {Key, Value}); *count gets how many the owner has now. */
int tags_put_counted(struct db_conn *w, int64_t owner, const cJSON *tags, unsigned *count);
/* Writer side: removes the listed keys; absent ones are ignored, as AWS does. */
int tags_remove_listed(struct db_conn *w, int64_t owner, const cJSON *keys);
/* Writes "Tags": [...] with up to limit tags after `after`; p reports the page. */
struct tag_page {
    struct jw *w;
    int limit, count, more;
};
int tags_write_or_reply(struct svc_ctx *c, int64_t owner, const char *after, int limit, struct tag_page *p);

#endif
