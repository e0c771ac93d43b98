/* Lambda functions for Firehose data transformation. Functions do not run in
 * tidepool: each function name maps to a hook given at start-up
 * (`--lambda NAME=HOOK`, or {"lambdas": {NAME: HOOK}} in the init file):
 *
 *   exec:COMMAND   /bin/sh -c COMMAND, the event JSON on stdin, the response
 *                  JSON on stdout (stderr goes to tidepool's stderr)
 *   http://URL     POST the event, read the response body (the Lambda Runtime
 *   https://URL    Interface Emulator's .../2015-03-31/functions/function/invocations)
 *   builtin:NAME   one of LAMBDA_BUILTINS, run in process
 *
 * lambda_invoke runs a hook and answers like Lambda's Invoke; lambda_check_response
 * then judges the answer the way Firehose does. Failures carry the error code
 * and message Firehose writes into processing-failed records (sources in
 * lambda_response.c). */
#ifndef TP_LAMBDA_H
#define TP_LAMBDA_H

#include <stddef.h>

/* Lambda's limit on a synchronous response (bytes; its error names this number). */
#define LAMBDA_RESPONSE_MAX 6291556
/* Hook timeout unless lambda_set_timeout_ms says otherwise (ms; the workshop function's 60 s). */
#define LAMBDA_DEFAULT_TIMEOUT_MS 60000

/* The builtin hooks, as named after "builtin:". */
#define LAMBDA_BUILTINS "identity, add-approximate-arrival-time"
enum lambda_builtin {
    LAMBDA_BUILTIN_IDENTITY,     /* every record back as {recordId, result:"Ok", data} */
    LAMBDA_BUILTIN_ARRIVAL_TIME, /* the workshop's EnrichEvents function */
};

/* A registered hook; valid until lambda_global_cleanup. */
struct lambda_hook;

/* Why an invocation or a response failed. */
enum lambda_error {
    LAMBDA_E_FUNCTION_ERROR,       /* the function failed (exit status, error object, timeout, HTTP error) */
    LAMBDA_E_INVOKE_LIMIT,         /* HTTP 429 */
    LAMBDA_E_ACCESS_DENIED,        /* HTTP 403 */
    LAMBDA_E_NOT_FOUND,            /* no hook for the function, HTTP 404 */
    LAMBDA_E_JSON,                 /* the response is not a JSON object */
    LAMBDA_E_BAD_RESULT,           /* a record's result or data breaks the status model */
    LAMBDA_E_MISSING_RECORD_ID,    /* per record */
    LAMBDA_E_DUPLICATED_RECORD_ID, /* per record */
    LAMBDA_E_PROCESSING_FAILED,    /* per record: the function said ProcessingFailed */
    LAMBDA_E_NULL_DATA,            /* per record: Ok without data */
};

struct lambda_failure {
    const char *code;    /* Firehose errorCode, e.g. "Lambda.FunctionError" (static) */
    const char *message; /* the errorMessage Firehose pairs with it (static) */
    int retryable;       /* Firehose retries the invocation (NumberOfRetries) before giving up */
    char detail[512];    /* what actually happened, for tidepool's log */
};

/* Once at start-up, before any thread invokes: curl_global_init, and SIGPIPE
 * ignored so that a hook exiting without reading its stdin fails the
 * invocation instead of killing tidepool. 0, or -1 if libcurl fails. */
int lambda_global_init(void);
/* At exit: forgets every hook and cleans up libcurl. */
void lambda_global_cleanup(void);

/* "NAME=HOOK". NAME is a function name or ARN. -1 with err filled for a bad
 * spec (empty or invalid name, unknown scheme, unknown builtin). A later
 * registration of a name replaces the earlier one. */
int lambda_register(const char *spec, char *err, size_t errlen);
int lambda_register_pair(const char *name, const char *hook, char *err, size_t errlen);
/* The hook for a LambdaArn parameter: a function name, NAME:QUALIFIER, a partial
 * ARN (ACCOUNT:function:NAME) or a full ARN, arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
 * (region, account and qualifier ignored). NULL when none is registered. */
const struct lambda_hook *lambda_find(const char *arn_or_name);
/* For diagnostics: the registered name and the hook text ("exec:./t.sh"). */
const char *lambda_hook_name(const struct lambda_hook *h);
const char *lambda_hook_text(const struct lambda_hook *h);

/* How long an exec or http hook may take (ms) before it fails, its process
 * group killed. Safe to call at any time; applies to invocations that start later. */
void lambda_set_timeout_ms(unsigned ms);

/* Invokes h (from lambda_find; NULL fails as Lambda.ResourceNotFound) with the
 * event JSON, synchronously; thread-safe. 0 with *resp (malloc'd, NUL-terminated,
 * a JSON object that is not a Lambda error object) of *resp_len bytes; -1 with
 * *fail filled when the invocation failed (fail->retryable is 0 only when the
 * hook did answer, with something that is not a JSON object). */
int lambda_invoke(const struct lambda_hook *h, const char *event, size_t len, char **resp /* out */,
                  size_t *resp_len /* out */, struct lambda_failure *fail /* out */);

/* ---- Judging a response (lambda_response.c) ---- */

enum lambda_result { LAMBDA_OK, LAMBDA_DROPPED, LAMBDA_FAILED };

struct lambda_record {
    enum lambda_result result;
    unsigned char *data;          /* LAMBDA_OK: the decoded data (malloc'd, may be empty) */
    size_t len;                   /* bytes of data */
    const char *code, *message;   /* LAMBDA_FAILED: Firehose errorCode and errorMessage (static) */
};

/* Checks resp (NUL-terminated at resp[len], as lambda_invoke returns it)
 * against the n recordIds sent, in order. 0 with out[i] the outcome of ids[i];
 * -1 with *fail filled when the whole batch fails. Firehose does not retry
 * either: the function answered. Free out with lambda_records_free. */
int lambda_check_response(const char *resp, size_t len, const char *const *ids, size_t n,
                          struct lambda_record *out /* out: n */, struct lambda_failure *fail /* out */);
void lambda_records_free(struct lambda_record *r, size_t n);

/* Fills *f with the code and message of e and a printf-style detail. Returns -1. */
int lambda_fail(struct lambda_failure *f, enum lambda_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Builtins (lambda_builtin.c) ---- */

/* The builtin called name ("identity"), or -1. */
int lambda_builtin_find(const char *name);
/* Runs builtin b on the event like the real function would: the payload it
 * returns, malloc'd and NUL-terminated: a response, or a Lambda error object
 * ({"errorType","errorMessage"}) where the function would throw. */
char *lambda_builtin_run(enum lambda_builtin b, const char *event, size_t len, size_t *out_len /* out */);

#endif
