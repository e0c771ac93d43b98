/* The builtin Lambda hooks, run in process (see lambda.h).
 *
 * identity: every record back as {recordId, result: "Ok", data}, data unchanged.
 *
 * add-approximate-arrival-time: the workshop's EnrichEvents function
 * (streaming-analytics-workshop, resources/beam-on-kda/cdk/lambda/
 * add-approximate-arrival-time.js, Node.js 12), per record:
 *     payload = JSON.parse(Buffer.from(data, "base64").toString())
 *     ts = new Date(kinesisRecordMetadata.approximateArrivalTimestamp).toISOString()
 *     data = base64(JSON.stringify(Object.assign({approximate_arrival_timestamp: ts}, payload)) + "\n")
 * (a DirectPut record has no kinesisRecordMetadata: its own approximateArrivalTimestamp
 * is used). The payload is re-serialised byte for byte as V8 does
 * (protocol/js_json.c), so the output equals the real function's.
 * Known differences: data that is not valid base64 fails (Node would decode
 * what it can); a timestamp that is not a number fails (new Date would parse
 * a string). */
#include "server/firehose/lambda.h"
#include "protocol/base64.h"
#include "protocol/js_json.h"
#include "protocol/json_writer.h"
#include "protocol/strbuf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The functions                                                            */
/* ------------------------------------------------------------------------ */

/* new Date(ms).toISOString(), or -1 where it throws (RangeError). */
static int iso_time(double ms, char out[64])
{
    long long t, days, rem, z, era, y;
    unsigned doe, yoe, doy, mp, d, mo;
    char year[16];

    if (!isfinite(ms) || fabs(ms) > 8.64e15)
        return -1;
    t = (long long)ms; /* TimeClip: toward zero */
    days = t / 86400000;
    rem = t % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    /* Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted). */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    mo = mp < 10 ? mp + 3 : mp - 9;
    y = (long long)yoe + era * 400 + (mo <= 2);
    if (y >= 0 && y <= 9999)
        snprintf(year, sizeof year, "%04lld", y);
    else /* the expanded years of Date.prototype.toISOString */
        snprintf(year, sizeof year, "%c%06lld", y < 0 ? '-' : '+', y < 0 ? -y : y);
    snprintf(out, 64, "%s-%02u-%02uT%02d:%02d:%02d.%03dZ", year, mo, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
    return 0;
}

/* The enriched data of one record, or -1 with what the JS function would throw. */
static int arrival_time_record(const cJSON *rec, struct strbuf *out, struct js_error *err)
{
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "data"));
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "kinesisRecordMetadata");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(meta) ? meta : rec,
                                                      "approximateArrivalTimestamp");
    struct strbuf repaired = {0};
    unsigned char *raw;
    size_t rawlen, textlen;
    const char *text;
    char ts[64];
    int rc = -1, ts_ok;

    if (!data) {
        err->type = "TypeError";
        snprintf(err->msg, sizeof err->msg, "The first argument must be of type string or an instance of "
                 "Buffer, ArrayBuffer, or Array or an Array-like Object. Received undefined");
        return -1;
    }
    rawlen = strlen(data);
    if (!(raw = malloc(base64_decoded_max(rawlen) + 1)))
        abort();
    if (base64_decode(data, rawlen, raw, &rawlen, NULL) != BASE64_OK) {
        err->type = "Error";
        snprintf(err->msg, sizeof err->msg, "record data is not base64");
        goto out;
    }
    text = js_utf8_repair((const char *)raw, rawlen, &repaired, &textlen);
    ts_ok = cJSON_IsNumber(at) && iso_time(at->valuedouble, ts) == 0;
    /* JSON.parse runs before new Date: its SyntaxError comes first. */
    if ((rc = js_assign_first(text, textlen, "approximate_arrival_timestamp", ts_ok ? ts : "", out, err)) == 0 &&
        !ts_ok) {
        err->type = "RangeError";
        snprintf(err->msg, sizeof err->msg, "Invalid time value");
        rc = -1;
    }
    strbuf_put(out, "\n", 1);
out:
    strbuf_free(&repaired);
    free(raw);
    return rc;
}

int lambda_builtin_find(const char *name)
{
    if (!strcmp(name, "identity"))
        return LAMBDA_BUILTIN_IDENTITY;
    if (!strcmp(name, "add-approximate-arrival-time"))
        return LAMBDA_BUILTIN_ARRIVAL_TIME;
    return -1;
}

char *lambda_builtin_run(enum lambda_builtin b, const char *event, size_t len, size_t *out_len)
{
    cJSON *ev = cJSON_ParseWithLength(event, len);
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(ev, "records"), *rec;
    struct js_error err = {0};
    struct strbuf payload = {0};
    struct jw w;

    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "records");
    jw_arr_begin(&w);
    if (!cJSON_IsArray(records)) {
        err.type = "TypeError";
        snprintf(err.msg, sizeof err.msg, "event.records is not an array");
    }
    cJSON_ArrayForEach(rec, (err.type ? NULL : records)) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "recordId"));
        const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "data"));

        if (b == LAMBDA_BUILTIN_ARRIVAL_TIME) {
            payload.len = 0;
            if (arrival_time_record(rec, &payload, &err) != 0)
                break;
        }
        jw_obj_begin(&w);
        if (id) {
            jw_key(&w, "recordId");
            jw_str(&w, id);
        }
        jw_key(&w, "result");
        jw_str(&w, "Ok");
        if (b == LAMBDA_BUILTIN_ARRIVAL_TIME) {
            jw_key(&w, "data");
            jw_blob(&w, payload.buf, payload.len);
        } else if (data) {
            jw_key(&w, "data");
            jw_str(&w, data);
        }
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    if (err.type) { /* the function threw: Lambda answers with its error object */
        jw_free(&w);
        jw_init(&w);
        jw_obj_begin(&w);
        jw_key(&w, "errorType");
        jw_str(&w, err.type);
        jw_key(&w, "errorMessage");
        jw_str(&w, err.msg);
        jw_obj_end(&w);
    }
    strbuf_free(&payload);
    cJSON_Delete(ev);
    return jw_take(&w, out_len);
}
