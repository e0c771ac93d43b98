/* The one table of AWS error types: the code a handler or storage returns, the
 * `__type` AWS puts on the wire and the HTTP status that goes with it. */
#ifndef TP_ERRORS_H
#define TP_ERRORS_H

enum tp_err {
    TP_OK = 0,
    TP_ENOTFOUND,      /* storage: no such row */
    TP_EEXISTS,        /* storage: unique key taken */
    TP_EIO,            /* storage: SQLite failed */
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
    ERR_INTERNAL,
    ERR_COUNT
};

struct tp_err_info {
    const char *type;   /* AWS __type */
    int status;         /* HTTP status */
    int capital_message;/* Coral serialisation errors spell it "Message" */
};

const struct tp_err_info *errors_info(enum tp_err e);

#endif
