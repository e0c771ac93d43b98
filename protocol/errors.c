/* AWS error types and statuses (protocols.md §1.5). Storage codes that reach the
 * wire unmapped become InternalFailure, which is what AWS answers for its own faults. */
#include "protocol/errors.h"

#include <stddef.h>

static const struct tp_err_info ERRORS[ERR_COUNT] = {
    [TP_OK] = {"InternalFailure", 500, 0},
    [TP_ENOTFOUND] = {"InternalFailure", 500, 0},
    [TP_EEXISTS] = {"InternalFailure", 500, 0},
    [TP_EIO] = {"InternalFailure", 500, 0},
    [TP_ENOTEMPTY] = {"InternalFailure", 500, 0},
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
    [ERR_UNRECOGNIZED_CLIENT] = {"UnrecognizedClientException", 400, 0},
    [ERR_INTERNAL] = {"InternalFailure", 500, 0},
    [ERR_CONCURRENT_MODIFICATION] = {"ConcurrentModificationException", 400, 0},
    [ERR_SERVICE_UNAVAILABLE] = {"ServiceUnavailableException", 503, 0},
    /* CloudWatch: codes and statuses of botocore's service model (its error
     * shapes); ValidationError is Coral's constraint failure, which the
     * service reports under that code on awsQuery */
    [CW_INVALID_PARAMETER_VALUE] = {"InvalidParameterValue", 400, 0, NULL, "com.amazonaws.cloudwatch#InvalidParameterValueException"},
    [CW_MISSING_PARAMETER] = {"MissingParameter", 400, 0, NULL, "com.amazonaws.cloudwatch#MissingRequiredParameterException"},
    [CW_INVALID_PARAMETER_COMBINATION] = {"InvalidParameterCombination", 400, 0, NULL,
                                          "com.amazonaws.cloudwatch#InvalidParameterCombinationException"},
    [CW_VALIDATION_ERROR] = {"ValidationError", 400, 0, NULL, "com.amazon.coral.validate#ValidationException"},
    [CW_INVALID_NEXT_TOKEN] = {"InvalidNextToken", 400, 0, NULL, "com.amazonaws.cloudwatch#InvalidNextToken"},
    [CW_MALFORMED_INPUT] = {"MalformedInput", 400, 0},
    [CW_INVALID_ACTION] = {"InvalidAction", 400, 0},
    [CW_MISSING_ACTION] = {"MissingAction", 400, 0},
    /* its front's answers to bad credentials, as the query-protocol services give them */
    [CW_INVALID_CLIENT_TOKEN_ID] = {"InvalidClientTokenId", 403, 0},
    [CW_SIGNATURE_DOES_NOT_MATCH] = {"SignatureDoesNotMatch", 403, 0},
    /* S3: codes, statuses and messages as AWS's S3 error reference lists them */
    [S3_ACCESS_DENIED] = {"AccessDenied", 403, 0, "Access Denied"},
    [S3_BAD_DIGEST] = {"BadDigest", 400, 0, "The Content-MD5 you specified did not match what we received."},
    [S3_BUCKET_ALREADY_OWNED] = {"BucketAlreadyOwnedByYou", 409, 0,
                                 "Your previous request to create the named bucket succeeded and you already own it."},
    [S3_BUCKET_NOT_EMPTY] = {"BucketNotEmpty", 409, 0, "The bucket you tried to delete is not empty"},
    [S3_INCOMPLETE_BODY] = {"IncompleteBody", 400, 0,
                            "You did not provide the number of bytes specified by the Content-Length HTTP header"},
    [S3_INTERNAL_ERROR] = {"InternalError", 500, 0, "We encountered an internal error. Please try again."},
    [S3_INVALID_ARGUMENT] = {"InvalidArgument", 400, 0, "Invalid Argument"},
    [S3_INVALID_BUCKET_NAME] = {"InvalidBucketName", 400, 0, "The specified bucket is not valid."},
    [S3_INVALID_DIGEST] = {"InvalidDigest", 400, 0, "The Content-MD5 you specified is not valid."},
    [S3_INVALID_RANGE] = {"InvalidRange", 416, 0, "The requested range is not satisfiable"},
    [S3_INVALID_REQUEST] = {"InvalidRequest", 400, 0, "Invalid Request"},
    [S3_KEY_TOO_LONG] = {"KeyTooLong", 400, 0, "Your key is too long"},
    [S3_MALFORMED_XML] = {"MalformedXML", 400, 0,
                          "The XML you provided was not well-formed or did not validate against our published schema"},
    [S3_METHOD_NOT_ALLOWED] = {"MethodNotAllowed", 405, 0, "The specified method is not allowed against this resource."},
    [S3_NO_SUCH_BUCKET] = {"NoSuchBucket", 404, 0, "The specified bucket does not exist"},
    [S3_NO_SUCH_KEY] = {"NoSuchKey", 404, 0, "The specified key does not exist."},
    [S3_NOT_IMPLEMENTED] = {"NotImplemented", 501, 0,
                            "A header you provided implies functionality that is not implemented"},
    [S3_PRECONDITION_FAILED] = {"PreconditionFailed", 412, 0,
                                "At least one of the pre-conditions you specified did not hold"},
    [S3_INVALID_LOCATION] = {"InvalidLocationConstraint", 400, 0, "The specified location-constraint is not valid"},
    [S3_NO_SUCH_UPLOAD] = {"NoSuchUpload", 404, 0,
                           "The specified upload does not exist. The upload ID may be invalid, or the upload may "
                           "have been aborted or completed."},
    [S3_INVALID_PART] = {"InvalidPart", 400, 0,
                         "One or more of the specified parts could not be found.  The part may not have been "
                         "uploaded, or the specified entity tag may not match the part's entity tag."},
    [S3_INVALID_PART_ORDER] = {"InvalidPartOrder", 400, 0,
                               "The list of parts was not in ascending order. Parts must be ordered by part number."},
    [S3_ENTITY_TOO_SMALL] = {"EntityTooSmall", 400, 0,
                             "Your proposed upload is smaller than the minimum allowed object size."},
    [S3_INVALID_TAG] = {"InvalidTag", 400, 0, "The TagValue you have provided is invalid"},
    [S3_INVALID_URI] = {"InvalidURI", 400, 0, "Couldn't parse the specified URI."},
    [S3_INVALID_ACCESS_KEY_ID] = {"InvalidAccessKeyId", 403, 0,
                                  "The AWS Access Key Id you provided does not exist in our records."},
    [S3_SIGNATURE_DOES_NOT_MATCH] = {"SignatureDoesNotMatch", 403, 0,
                                     "The request signature we calculated does not match the signature you "
                                     "provided. Check your key and signing method."},
    [S3_REQUEST_TIME_TOO_SKEWED] = {"RequestTimeTooSkewed", 403, 0,
                                    "The difference between the request time and the current time is too large."},
    [S3_AUTH_HEADER_MALFORMED] = {"AuthorizationHeaderMalformed", 400, 0, "The authorization header is malformed."},
    [S3_AUTH_QUERY_PARAMS] = {"AuthorizationQueryParametersError", 400, 0, NULL},
    [S3_CONTENT_SHA256_MISMATCH] = {"XAmzContentSHA256Mismatch", 400, 0,
                                    "The provided 'x-amz-content-sha256' header does not match what was computed."},
};

const struct tp_err_info *errors_info(enum tp_err e)
{
    if ((unsigned)e >= ERR_COUNT)
        e = ERR_INTERNAL;
    return &ERRORS[e];
}
