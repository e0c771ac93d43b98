/* What Firehose makes of a transformation function's answer: the error codes
 * and messages it writes into processing-failed records, and the per-record
 * verdicts of a response (see lambda.h). Sources:
 * - Firehose developer guide, monitoring-with-cloudwatch-logs.html, "Lambda
 *   invocation errors": JsonProcessingException, InvokeLimitExceeded,
 *   InvokeAccessDenied, ResourceNotFound and their messages.
 * - Captured processing-failed records: FunctionError's message,
 *   DuplicatedRecordId/MissingRecordId as the service spells them ("record
 *   Id"), ProcessingFailedStatus (CloudSnorkel/CloudWatch2S3#9).
 * - Two emulators that probed AWS (floci's FirehoseLambdaTransformer, stackd):
 *   missing, duplicated and ProcessingFailed records fail one by one while the
 *   rest are delivered; an unknown recordId is ignored; no records array fails
 *   every record as missing; Ok without data is Lambda.InvalidReturnFormat; an
 *   invalid result or data that is not base64 fails the batch; an oversized
 *   response is a function error; an answer the function did give is never
 *   retried. Where they disagree (duplicates: per record or per batch), the
 *   one that says it probed that case wins. */
#define _GNU_SOURCE /* qsort_r */
#include "server/firehose/lambda.h"
#include "protocol/base64.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code, *message;
    int retryable;
} ERRORS[] = {
    [LAMBDA_E_FUNCTION_ERROR] = {"Lambda.FunctionError",
        "The Lambda function was successfully invoked but it returned an error result.", 1},
    [LAMBDA_E_INVOKE_LIMIT] = {"Lambda.InvokeLimitExceeded",
        "The Lambda concurrent execution limit is exceeded. Increase the concurrent execution limit.", 1},
    [LAMBDA_E_ACCESS_DENIED] = {"Lambda.InvokeAccessDenied",
        "Access was denied. Ensure that the access policy allows access to the Lambda function.", 1},
    [LAMBDA_E_NOT_FOUND] = {"Lambda.ResourceNotFound",
        "The specified Lambda function does not exist. Use a different function that does exist.", 1},
    [LAMBDA_E_JSON] = {"Lambda.JsonProcessingException",
        "There was an error parsing returned records from the Lambda function. Ensure that the "
        "returned records follow the status model required by Firehose.", 0},
    [LAMBDA_E_BAD_RESULT] = {"Lambda.FunctionError",
        "Check your function and make sure the output is in required format. In addition to that, "
        "make sure the processed records contain valid result status of Dropped, Ok, or ProcessingFailed", 0},
    [LAMBDA_E_MISSING_RECORD_ID] = {"Lambda.MissingRecordId",
        "One or more record Ids were not returned. Ensure that the Lambda function returns all "
        "received record Ids.", 0},
    [LAMBDA_E_DUPLICATED_RECORD_ID] = {"Lambda.DuplicatedRecordId",
        "Multiple records were returned with the same record Id. Ensure that the Lambda function "
        "returns a unique record Id for each record.", 0},
    [LAMBDA_E_PROCESSING_FAILED] = {"Lambda.ProcessingFailedStatus",
        "ProcessingFailed status set for record", 0},
    [LAMBDA_E_NULL_DATA] = {"Lambda.InvalidReturnFormat",
        "The data field cannot be null when the SourceType is DirectPut or KinesisStreamAsSource and "
        "processing result is Ok. The value field cannot be null when the SourceType is MSKAsSource "
        "and processing result is Ok.", 0},
};

int lambda_fail(struct lambda_failure *f, enum lambda_error e, const char *fmt, ...)
{
    va_list ap;

    f->code = ERRORS[e].code;
    f->message = ERRORS[e].message;
    f->retryable = ERRORS[e].retryable;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    return -1;
}

static void record_fail(struct lambda_record *r, enum lambda_error e)
{
    r->result = LAMBDA_FAILED;
    r->code = ERRORS[e].code;
    r->message = ERRORS[e].message;
}

/* ids sorted (as indexes), for a binary search per returned record: a batch
 * can hold thousands of small records. */
static int cmp_id_r(const void *a, const void *b, void *ids)
{
    const char *const *v = ids;
    return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

static size_t *sort_ids(const char *const *ids, size_t n)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);

    if (!order)
        abort();
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_id_r, (void *)ids);
    return order;
}

/* Index of id among ids (via order), or n. */
static size_t find_id(const char *const *ids, const size_t *order, size_t n, const char *id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ids[order[mid]], id);
        if (c == 0)
            return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

/* Base64 as Java's basic decoder takes it: padding optional. 0, or -1. */
static int decode_data(const char *s, struct lambda_record *r)
{
    size_t n = strlen(s), pad = (4 - n % 4) % 4;
    char *padded = malloc(n + pad + 1);
    int rc = -1;

    if (!padded)
        abort();
    memcpy(padded, s, n);
    memset(padded + n, '=', pad);
    r->data = malloc(base64_decoded_max(n + pad) + 1);
    if (!r->data)
        abort();
    if (pad < 3 && base64_decode(padded, n + pad, r->data, &r->len, NULL) == BASE64_OK)
        rc = 0;
    free(padded);
    return rc;
}

int lambda_check_response(const char *resp, size_t len, const char *const *ids, size_t n,
                          struct lambda_record *out, struct lambda_failure *fail)
{
    /* cJSON checks for nothing after the value only if the NUL is inside the length. */
    cJSON *doc = cJSON_ParseWithLengthOpts(resp, len + 1, NULL, 1);
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(doc, "records");
    const cJSON *rec;
    size_t *order = NULL;
    unsigned char *seen = NULL; /* per id: 0 not returned, 1 returned, 2 returned twice */
    const cJSON **entry = NULL; /* per id: what the function returned for it */
    int rc = 0;

    memset(out, 0, n * sizeof *out);
    if (!cJSON_IsObject(doc)) {
        rc = lambda_fail(fail, LAMBDA_E_JSON, "the response is not a JSON object");
        goto out;
    }
    seen = calloc(n ? n : 1, 1);
    entry = calloc(n ? n : 1, sizeof *entry);
    if (!seen || !entry)
        abort();
    order = sort_ids(ids, n);
    /* Without a records array nothing came back: every record is missing. */
    cJSON_ArrayForEach(rec, (cJSON_IsArray(records) ? records : NULL)) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "recordId"));
        const char *result = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "result"));
        size_t i;

        if (!result || (strcmp(result, "Ok") && strcmp(result, "Dropped") &&
                        strcmp(result, "ProcessingFailed"))) {
            rc = lambda_fail(fail, LAMBDA_E_BAD_RESULT, "record %s: result is %s", id ? id : "(no recordId)",
                             result ? result : "missing");
            goto out;
        }
        if (!id || (i = find_id(ids, order, n, id)) == n)
            continue; /* not one of ours: AWS ignores it */
        if (seen[i]++ == 0)
            entry[i] = rec;
        else
            seen[i] = 2;
    }
    for (size_t i = 0; i < n; i++) {
        const char *result, *data;

        if (seen[i] == 0) {
            record_fail(&out[i], LAMBDA_E_MISSING_RECORD_ID);
            continue;
        }
        if (seen[i] == 2) {
            record_fail(&out[i], LAMBDA_E_DUPLICATED_RECORD_ID);
            continue;
        }
        result = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry[i], "result"));
        data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry[i], "data"));
        if (!strcmp(result, "Dropped")) {
            out[i].result = LAMBDA_DROPPED;
        } else if (!strcmp(result, "ProcessingFailed")) {
            record_fail(&out[i], LAMBDA_E_PROCESSING_FAILED);
        } else if (!data) {
            record_fail(&out[i], LAMBDA_E_NULL_DATA);
        } else if (decode_data(data, &out[i]) != 0) {
            rc = lambda_fail(fail, LAMBDA_E_BAD_RESULT, "record %s: data is not base64", ids[i]);
            goto out;
        }
    }
out:
    if (rc != 0)
        lambda_records_free(out, n);
    free(order);
    free(seen);
    free(entry);
    cJSON_Delete(doc);
    return rc;
}

void lambda_records_free(struct lambda_record *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].data);
        r[i].data = NULL;
        r[i].len = 0;
    }
}
