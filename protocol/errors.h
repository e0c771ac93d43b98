/* The one table of AWS error types: the code a handler or storage returns, the
 * `__type` (JSON services) or `<Code>` (S3, awsQuery) AWS puts on the wire, the HTTP
 * status that goes with it and, for S3, AWS's usual message. */
#ifndef TP_ERRORS_H
#define TP_ERRORS_H

enum tp_err {
    TP_OK = 0,
    TP_ENOTFOUND,      /* storage: no such row */
    TP_EEXISTS,        /* storage: unique key taken */
    TP_EIO,            /* storage: SQLite failed */
    TP_ENOTEMPTY,      /* storage: a container still holds something */
    ERR_VALIDATION,
    ERR_SERIALIZATION,
    ERR_RESOURCE_NOT_FOUND,
    ERR_RESOURCE_IN_USE,
    ERR_INVALID_ARGUMENT,
    ERR_LIMIT_EXCEEDED,
    ERR_EXPIRED_ITERATOR,
    ERR_EXPIRED_NEXT_TOKEN,
    ERR_UNKNOWN_OPERATION,
    ERR_MISSING_AUTH,
    ERR_INCOMPLETE_SIGNATURE,
    ERR_INVALID_SIGNATURE,
    ERR_ACCESS_DENIED,
    ERR_UNRECOGNIZED_CLIENT,
    ERR_INTERNAL,
    ERR_CONCURRENT_MODIFICATION, /* Firehose */
    ERR_SERVICE_UNAVAILABLE,     /* Firehose */
    /* CloudWatch: awsQuery codes (<Code>), and on the JSON and CBOR
     * protocols the shape id as __type plus x-amzn-query-error */
    CW_INVALID_PARAMETER_VALUE,
    CW_MISSING_PARAMETER,
    CW_INVALID_PARAMETER_COMBINATION,
    CW_VALIDATION_ERROR,
    CW_INVALID_NEXT_TOKEN,
    CW_MALFORMED_INPUT,
    CW_INVALID_ACTION,
    CW_MISSING_ACTION,
    CW_INVALID_CLIENT_TOKEN_ID,
    CW_SIGNATURE_DOES_NOT_MATCH,
    /* S3 (XML <Error><Code>) */
    S3_ACCESS_DENIED,
    S3_BAD_DIGEST,
    S3_BUCKET_ALREADY_OWNED,
    S3_BUCKET_NOT_EMPTY,
    S3_INCOMPLETE_BODY,
    S3_INTERNAL_ERROR,
    S3_INVALID_ARGUMENT,
    S3_INVALID_BUCKET_NAME,
    S3_INVALID_DIGEST,
    S3_INVALID_RANGE,
    S3_INVALID_REQUEST,
    S3_KEY_TOO_LONG,
    S3_MALFORMED_XML,
    S3_METHOD_NOT_ALLOWED,
    S3_NO_SUCH_BUCKET,
    S3_NO_SUCH_KEY,
    S3_NOT_IMPLEMENTED,
    S3_PRECONDITION_FAILED,
    S3_INVALID_LOCATION,
    S3_NO_SUCH_UPLOAD,
    S3_INVALID_PART,
    S3_INVALID_PART_ORDER,
    S3_ENTITY_TOO_SMALL,
    S3_INVALID_TAG,
    S3_INVALID_URI,
    S3_INVALID_ACCESS_KEY_ID,
    S3_SIGNATURE_DOES_NOT_MATCH,
    S3_REQUEST_TIME_TOO_SKEWED,
    S3_AUTH_HEADER_MALFORMED,
    S3_AUTH_QUERY_PARAMS,
    S3_CONTENT_SHA256_MISMATCH,
    ERR_COUNT
};

struct tp_err_info {
    const char *type;   /* AWS __type, or S3 <Code> */
    int status;         /* HTTP status */
    int capital_message;/* Coral serialisation errors spell it "Message" */
    const char *message;/* S3: the usual <Message> */
    const char *shape;  /* awsQuery-compatible services: __type on the JSON
                           and CBOR protocols, with `type` in x-amzn-query-error */
};

const struct tp_err_info *errors_info(enum tp_err e);

#endif
