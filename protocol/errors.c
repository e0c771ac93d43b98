/* AWS error types and statuses (protocols.md §1.5). Storage codes that reach the
 * wire unmapped become InternalFailure, which is what AWS answers for its own faults. */
#include "protocol/errors.h"

static const struct tp_err_info ERRORS[ERR_COUNT] = {
    [TP_OK] = {"InternalFailure", 500, 0},
    [TP_ENOTFOUND] = {"InternalFailure", 500, 0},
    [TP_EEXISTS] = {"InternalFailure", 500, 0},
    [TP_EIO] = {"InternalFailure", 500, 0},
    [ERR_VALIDATION] = {"ValidationException", 400, 0},
    [ERR_SERIALIZATION] = {"SerializationException", 400, 1},
    [ERR_RESOURCE_NOT_FOUND] = {"ResourceNotFoundException", 400, 0},
    [ERR_RESOURCE_IN_USE] = {"ResourceInUseException", 400, 0},
    [ERR_INVALID_ARGUMENT] = {"InvalidArgumentException", 400, 0},
    [ERR_LIMIT_EXCEEDED] = {"LimitExceededException", 400, 0},
    [ERR_EXPIRED_ITERATOR] = {"ExpiredIteratorException", 400, 0},
    [ERR_EXPIRED_NEXT_TOKEN] = {"ExpiredNextTokenException", 400, 0},
    [ERR_UNKNOWN_OPERATION] = {"UnknownOperationException", 400, 0},
    [ERR_MISSING_AUTH] = {"MissingAuthenticationTokenException", 400, 0},
    [ERR_INCOMPLETE_SIGNATURE] = {"IncompleteSignatureException", 400, 0},
    [ERR_INVALID_SIGNATURE] = {"InvalidSignatureException", 400, 0},
    [ERR_ACCESS_DENIED] = {"AccessDeniedException", 400, 0},
    [ERR_INTERNAL] = {"InternalFailure", 500, 0},
};

const struct tp_err_info *errors_info(enum tp_err e)
{
    if ((unsigned)e >= ERR_COUNT)
        e = ERR_INTERNAL;
    return &ERRORS[e];
}
