/* S3 object tags: GetObjectTagging, PutObjectTagging, DeleteObjectTagging,
 * and the x-amz-tagging header of PutObject, CopyObject and
 * CreateMultipartUpload. Tags are kept with the object as a JSON object.
 * Touches: objects. */
#include "server/s3/s3.h"
#include "server/runtime/config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS 10
#define MAX_TAG_KEY 128
#define MAX_TAG_VALUE 256

/* Adds key=value to tags unless a rule breaks: 0, or InvalidTag answered. */
static int add_tag(struct s3_req *q, cJSON *tags, const char *key, const char *value)
{
    if (cJSON_GetArraySize(tags) == MAX_TAGS)
        return s3_error(q, S3_INVALID_TAG, "Object tags cannot be greater than 10");
    if (!*key || strlen(key) > MAX_TAG_KEY)
        return s3_error(q, S3_INVALID_TAG, "The TagKey you have provided is invalid");
    if (strlen(value) > MAX_TAG_VALUE)
        return s3_error(q, S3_INVALID_TAG, NULL);
    if (cJSON_GetObjectItemCaseSensitive(tags, key))
        return s3_error(q, S3_INVALID_TAG, "Cannot provide multiple Tags with the same key");
    cJSON_AddStringToObject(tags, key, value);
    return 0;
}

static char *url_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
            *o++ = (char)v;
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    if (out)
        *o = 0;
    return out;
}

int s3_tagging_header(struct s3_req *q, char **json)
{
    const char *h = s3_header(q, "x-amz-tagging");
    cJSON *tags;
    int rc = 0;
    *json = NULL;
    if (!h || !*h)
        return 0;
    if (!(tags = cJSON_CreateObject()))
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    for (const char *p = h; *p && !rc;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        char *k = url_unescape(p, eq ? (size_t)(eq - p) : len);
        char *v = eq ? url_unescape(eq + 1, len - (size_t)(eq + 1 - p)) : strdup("");
        rc = k && v ? add_tag(q, tags, k, v) : s3_error(q, S3_INTERNAL_ERROR, NULL);
        free(k);
        free(v);
        p += len + (p[len] == '&');
    }
    if (!rc && !(*json = cJSON_PrintUnformatted(tags)))
        rc = s3_error(q, S3_INTERNAL_ERROR, NULL);
    cJSON_Delete(tags);
    return rc;
}

struct tags_job {
    int64_t bucket;
    const char *key, *json;
};

static int tags_job(struct db_conn *w, void *ctx)
{
    struct tags_job *j = ctx;
    return db_object_set_tags(w, j->bucket, j->key, j->json);
}

static int set_tags(struct s3_req *q, const char *json)
{
    struct db_bucket b;
    if (s3_bucket_or_reply(q, &b))
        return -1;
    struct tags_job j = {b.id, q->key, json};
    switch (db_write(tags_job, &j)) {
    case TP_OK:
        return 0;
    case TP_ENOTFOUND:
        return s3_error(q, S3_NO_SUCH_KEY, NULL);
    default:
        return s3_error(q, S3_INTERNAL_ERROR, NULL);
    }
}

/* PutObjectTagging: the Tagging document replaces the object's tags. */
int s3_put_object_tagging(struct s3_req *q)
{
    struct xml_node *doc = xml_parse((const char *)q->body, q->body_len, NULL);
    const struct xml_node *set = doc && !strcmp(doc->name, "Tagging") ? xml_child(doc, "TagSet") : NULL;
    cJSON *tags = cJSON_CreateObject();
    char *json = NULL;
    int rc = -1;
    if (!set || !tags) {
        s3_error(q, tags ? S3_MALFORMED_XML : S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    for (const struct xml_node *t = set->child; t; t = t->next) {
        const struct xml_node *k = xml_child(t, "Key"), *v = xml_child(t, "Value");
        if (strcmp(t->name, "Tag") || !k) {
            s3_error(q, S3_MALFORMED_XML, NULL);
            goto out;
        }
        if (add_tag(q, tags, k->text, v ? v->text : ""))
            goto out;
    }
    if (!(json = cJSON_PrintUnformatted(tags))) {
        s3_error(q, S3_INTERNAL_ERROR, NULL);
        goto out;
    }
    if (set_tags(q, json))
        goto out;
    q->rs->status = 200;
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    rc = 0;
out:
    free(json);
    cJSON_Delete(tags);
    xml_free(doc);
    return rc;
}

/* DeleteObjectTagging: 204, the object keeps no tags. */
int s3_delete_object_tagging(struct s3_req *q)
{
    if (set_tags(q, NULL))
        return -1;
    q->rs->status = 204;
    response_add_header(q->rs, "x-amz-request-id", q->request_id);
    return 0;
}

/* GetObjectTagging: the TagSet, empty when the object has none. */
int s3_get_object_tagging(struct s3_req *q)
{
    struct db_bucket b;
    struct db_object o;
    if (s3_bucket_or_reply(q, &b))
        return -1;
    struct db_conn *c = db_reader_acquire();
    int rc = db_object_get(c, b.id, q->key, &o);
    db_reader_release(c);
    if (rc != TP_OK)
        return s3_error(q, rc == TP_ENOTFOUND ? S3_NO_SUCH_KEY : S3_INTERNAL_ERROR, NULL);
    cJSON *tags = o.tags ? cJSON_Parse(o.tags) : NULL, *t;
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "Tagging", S3_NS);
    xw_open(&w, "TagSet");
    cJSON_ArrayForEach(t, tags) {
        xw_open(&w, "Tag");
        xw_elem(&w, "Key", t->string);
        xw_elem(&w, "Value", cJSON_IsString(t) ? t->valuestring : "");
        xw_close(&w, "Tag");
    }
    xw_close(&w, "TagSet");
    xw_close(&w, "Tagging");
    cJSON_Delete(tags);
    db_object_free(&o);
    s3_reply_xml(q, &w);
    return 0;
}
