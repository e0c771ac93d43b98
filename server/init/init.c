/* What exists at start-up: an init file (--init FILE) and built-in presets
 * (--preset workshop) declare Lambda hooks, buckets, Kinesis streams,
 * Firehose delivery streams and generated datasets; each is created if absent.
 *
 * Streams, delivery streams and buckets are created through the router with
 * the same requests a client would send, so an init file gets the API's
 * validation, defaults and error texts; what already exists is left alone
 * (ResourceInUseException, BucketAlreadyOwnedByYou). Dataset objects are
 * written straight to storage. */
#include "server/init/init.h"
#include "protocol/checksum.h"
#include "server/runtime/config.h"
#include "server/firehose/lambda.h"
#include "server/net/request.h"
#include "server/init/workshop_data.h"
#include "storage/objects.h"

#include <cjson/cJSON.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declarations applied in order: every loaded file, presets first. */
static cJSON *g_docs[8];
static unsigned g_n_docs;

static const char WORKSHOP_OUTPUT_BUCKET[] = "beam-workshop-historictrips";

static int add_doc(cJSON *doc, const char *what, char *err, size_t errlen)
{
    static const char *const MEMBERS[] = {"lambdas", "buckets", "streams", "deliveryStreams", "datasets", NULL};
    cJSON *m, *l;
    if (!cJSON_IsObject(doc)) {
        snprintf(err, errlen, "%s: not a JSON object", what);
        goto bad;
    }
    cJSON_ArrayForEach(m, doc) {
        unsigned i = 0;
        while (MEMBERS[i] && strcmp(MEMBERS[i], m->string))
            i++;
        if (!MEMBERS[i] || (i == 0 ? !cJSON_IsObject(m) : !cJSON_IsArray(m))) {
            snprintf(err, errlen, "%s: unexpected member \"%s\" (expected lambdas {NAME: HOOK}, and lists "
                     "buckets, streams, deliveryStreams, datasets)", what, m->string);
            goto bad;
        }
    }
    /* hooks are needed before any request: register them now */
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(doc, "lambdas")) {
        if (!cJSON_IsString(l)) {
            snprintf(err, errlen, "%s: lambda %s: the hook must be a string", what, l->string);
            goto bad;
        }
        if (lambda_register_pair(l->string, l->valuestring, err, errlen))
            goto bad;
    }
    if (g_n_docs == sizeof g_docs / sizeof *g_docs) {
        snprintf(err, errlen, "%s: too many init files", what);
        goto bad;
    }
    g_docs[g_n_docs++] = doc;
    return 0;
bad:
    cJSON_Delete(doc);
    return -1;
}

int init_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n = -1;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open it", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (16L << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)n + 1)) && fread(text, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    cJSON *doc = text && n >= 0 ? cJSON_ParseWithLength(text, (size_t)n) : NULL;
    free(text);
    if (!doc) {
        snprintf(err, errlen, "%s: not valid JSON", path);
        return -1;
    }
    return add_doc(doc, path, err, errlen);
}

int init_preset(const char *name, unsigned long trips, char *err, size_t errlen)
{
    if (strcmp(name, "workshop")) {
        snprintf(err, errlen, "unknown preset %s (known: workshop)", name);
        return -1;
    }
    if (trips < WORKSHOP_MIN_TRIPS) {
        snprintf(err, errlen, "--trips must be at least %d (the replay tool waits for that many events)",
                 WORKSHOP_MIN_TRIPS);
        return -1;
    }
    /* what the workshop's CloudFormation stack provides */
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(doc, "lambdas"), "EnrichEventsLambda",
                            "builtin:add-approximate-arrival-time");
    cJSON *buckets = cJSON_AddArrayToObject(doc, "buckets");
    cJSON_AddItemToArray(buckets, cJSON_CreateString(WORKSHOP_BUCKET));
    cJSON_AddItemToArray(buckets, cJSON_CreateString(WORKSHOP_OUTPUT_BUCKET));
    cJSON *ds = cJSON_CreateObject();
    cJSON_AddStringToObject(ds, "Type", "workshop-taxi");
    cJSON_AddNumberToObject(ds, "Trips", (double)trips);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "datasets"), ds);
    return add_doc(doc, "preset workshop", err, errlen);
}

/* ---- requests through the router ---- */

/* Sends one request as a client would; returns the HTTP status, with the
 * error type (__type or S3 <Code>) in type when it failed. */
static int call(const char *method, const char *path, const char *target, const char *service, const char *region,
                const char *body, char *type, size_t typelen, char *msg, size_t msglen)
{
    char auth[256];
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 Credential=tidepool/20260101/%s/%s/aws4_request, "
             "SignedHeaders=host;x-amz-date, Signature=0", region, service);
    struct tp_header h[5] = {{"host", "localhost"}, {"x-amz-date", "20260101T000000Z"}, {"authorization", auth},
                             {"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", (char *)target}};
    struct tp_request rq = {.method = method, .path = path, .query = "", .headers = h,
                            .n_headers = target ? 5 : 3, .body = (const unsigned char *)body,
                            .body_len = body ? strlen(body) : 0, .internal = 1};
    struct tp_response rs;
    memset(&rs, 0, sizeof rs);
    router_dispatch(&rq, &rs);
    int status = rs.status;
    type[0] = msg[0] = 0;
    if (status != 200 && rs.body) {
        char *text = strndup((const char *)rs.body, rs.body_len);
        cJSON *j = text && target ? cJSON_Parse(text) : NULL;
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "__type"));
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "message"));
        if (!target && text) { /* S3: <Code>…</Code> */
            const char *a = strstr(text, "<Code>"), *b = a ? strstr(a, "</Code>") : NULL;
            if (b)
                snprintf(type, typelen, "%.*s", (int)(b - a - 6), a + 6);
        }
        if (t)
            snprintf(type, typelen, "%s", t);
        snprintf(msg, msglen, "%s", m ? m : "");
        cJSON_Delete(j);
        free(text);
    }
    response_free(&rs);
    return status;
}

/* A region member of an entry (tidepool's, not the API's), removed from it. */
static void take_region(cJSON *entry, char region[32])
{
    cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(entry, "Region");
    snprintf(region, 32, "%s", cJSON_IsString(r) ? r->valuestring : g_cfg.region);
    cJSON_Delete(r);
}

/* Creates what a list declares with one API call each. */
static int create_each(const cJSON *list, const char *target, const char *service, const char *name_member,
                       const char *what, char *err, size_t errlen)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        char region[32], type[128], msg[512];
        cJSON *entry = cJSON_Duplicate(e, 1);
        take_region(entry, region);
        char *body = cJSON_PrintUnformatted(entry);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, name_member));
        int status = call("POST", "/", target, service, region, body, type, sizeof type, msg, sizeof msg);
        if (status == 200)
            log_msg(LOG_INFO, "init: created %s %s in %s", what, name ? name : "?", region);
        else if (strcmp(type, "ResourceInUseException"))
            snprintf(err, errlen, "%s %s: %s: %s", what, name ? name : "?", type, msg);
        free(body);
        cJSON_Delete(entry);
        if (status != 200 && strcmp(type, "ResourceInUseException"))
            return -1;
    }
    return 0;
}

static int create_buckets(const cJSON *list, char *err, size_t errlen)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        char path[80], region[32], type[128], msg[512], body[256];
        const char *name = cJSON_IsString(e) ? e->valuestring
                                             : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Bucket"));
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Region"));
        if (!name || strlen(name) > DB_BUCKET_NAME_MAX) {
            snprintf(err, errlen, "buckets: each is a name or {\"Bucket\": NAME, \"Region\": REGION}");
            return -1;
        }
        snprintf(region, sizeof region, "%s", r ? r : g_cfg.region);
        snprintf(path, sizeof path, "/%s", name);
        snprintf(body, sizeof body, "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                 "</CreateBucketConfiguration>", region);
        int status = call("PUT", path, NULL, "s3", region, strcmp(region, "us-east-1") ? body : NULL, type,
                          sizeof type, msg, sizeof msg);
        if (status == 200)
            log_msg(LOG_INFO, "init: created bucket %s", name);
        else if (strcmp(type, "BucketAlreadyOwnedByYou")) {
            snprintf(err, errlen, "bucket %s: %s", name, type[0] ? type : "failed");
            return -1;
        }
    }
    return 0;
}

/* ---- datasets, straight into storage ---- */

struct put_object {
    const struct db_object *o;
};

static int link_object(struct db_conn *w, const struct db_extent *ext, void *ctx)
{
    struct db_object o = *((struct put_object *)ctx)->o;
    o.extents = (struct db_extent *)ext;
    o.n_extents = 1;
    return db_object_put(w, &o);
}

static int put_object(int64_t bucket_id, const char *key, const unsigned char *data, size_t len)
{
    unsigned char md5[16];
    struct db_object o = {.bucket_id = bucket_id, .key = (char *)key, .size = len,
                          .last_modified_ms = db_now_ms() / 1000 * 1000,
                          .headers = "{\"Content-Type\":\"application/octet-stream\"}"};
    struct put_object ctx = {&o};
    struct db_extent ext;
    gnutls_hash_fast(GNUTLS_DIG_MD5, data, len, md5);
    checksum_etag(md5, o.etag);
    struct db_blob_writer *bw = db_blob_begin();
    if (!bw)
        return -1;
    if (db_blob_write(bw, data, len) != TP_OK) {
        db_blob_abort(bw);
        return -1;
    }
    return db_blob_finish_with(bw, link_object, &ctx, &ext) == TP_OK ? 0 : -1;
}

static int any_object(void *ctx, const struct db_object *o)
{
    (void)o;
    *(int *)ctx = 1;
    return 1;
}

static int workshop_dataset(const cJSON *ds, char *err, size_t errlen)
{
    const cJSON *trips = cJSON_GetObjectItemCaseSensitive(ds, "Trips");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(ds, "Seed");
    unsigned long n = cJSON_IsNumber(trips) ? (unsigned long)trips->valuedouble : WORKSHOP_DEFAULT_TRIPS;
    struct db_bucket b;
    int exists = 0;
    struct db_conn *c = db_reader_acquire();
    int rc = db_bucket_get(c, WORKSHOP_BUCKET, &b);
    if (rc == TP_OK)
        rc = db_objects_list(c, b.id, WORKSHOP_PREFIX, "", any_object, &exists);
    db_reader_release(c);
    if (rc != TP_OK) {
        snprintf(err, errlen, "dataset: bucket %s is missing (list it under buckets)", WORKSHOP_BUCKET);
        return -1;
    }
    if (exists) {
        log_msg(LOG_INFO, "init: dataset s3://%s/%s already there", WORKSHOP_BUCKET, WORKSHOP_PREFIX);
        return 0;
    }
    struct trips_gen *g = trips_gen_new(cJSON_IsNumber(seed) ? (uint64_t)seed->valuedouble : 2018, n);
    char name[128], key[DB_KEY_MAX + 1];
    unsigned char *data;
    size_t len, objects = 0;
    uint64_t bytes = 0;
    while (g && (rc = trips_gen_next(g, name, sizeof name, &data, &len)) == 1) {
        snprintf(key, sizeof key, "%s%s", WORKSHOP_PREFIX, name);
        rc = put_object(b.id, key, data, len);
        free(data);
        if (rc)
            break;
        objects++;
        bytes += len;
    }
    trips_gen_free(g);
    if (!g || rc) {
        snprintf(err, errlen, "dataset: generating or storing the trips failed");
        return -1;
    }
    log_msg(LOG_INFO, "init: dataset of %lu taxi trips in %zu objects (%.1f MB, LZ4) at s3://%s/%s", n, objects,
           (double)bytes / 1e6, WORKSHOP_BUCKET, WORKSHOP_PREFIX);
    return 0;
}

static int create_datasets(const cJSON *list, char *err, size_t errlen)
{
    const cJSON *ds;
    cJSON_ArrayForEach(ds, list) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ds, "Type"));
        if (!type || strcmp(type, "workshop-taxi")) {
            snprintf(err, errlen, "datasets: unknown Type %s (known: workshop-taxi)", type ? type : "(none)");
            return -1;
        }
        if (workshop_dataset(ds, err, errlen))
            return -1;
    }
    return 0;
}

int init_apply(char *err, size_t errlen)
{
    for (unsigned i = 0; i < g_n_docs; i++) {
        const cJSON *d = g_docs[i];
        const cJSON *l;
        if (create_buckets(cJSON_GetObjectItemCaseSensitive(d, "buckets"), err, errlen) ||
            create_datasets(cJSON_GetObjectItemCaseSensitive(d, "datasets"), err, errlen) ||
            create_each(cJSON_GetObjectItemCaseSensitive(d, "streams"), "Kinesis_20131202.CreateStream", "kinesis",
                        "StreamName", "stream", err, errlen) ||
            create_each(cJSON_GetObjectItemCaseSensitive(d, "deliveryStreams"),
                        "Firehose_20150804.CreateDeliveryStream", "firehose", "DeliveryStreamName",
                        "delivery stream", err, errlen))
            return -1;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(d, "lambdas"))
            log_msg(LOG_INFO, "init: lambda %s = %s", l->string, l->valuestring);
    }
    return 0;
}

void init_free(void)
{
    for (unsigned i = 0; i < g_n_docs; i++)
        cJSON_Delete(g_docs[i]);
    g_n_docs = 0;
}
