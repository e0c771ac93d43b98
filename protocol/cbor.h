/* CBOR (RFC 8949) as the AWS SDKs for Java speak it to Kinesis
 * (`application/x-amz-cbor-1.1`, protocols.md §1.7): a request body decodes
 * into the same cJSON tree a JSON body gives, so validation and handlers do
 * not know which one arrived. Byte strings become cJSON_Raw items holding the
 * bytes (valueint = their length; read them with v_blob), numbers under tag 1
 * (dates) stay the epoch milliseconds they are, definite and indefinite
 * lengths alike. Encoding of responses is json_writer's CBOR mode. */
#ifndef TP_CBOR_H
#define TP_CBOR_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CBOR_MAX_DEPTH 64

/* The map at the top of data, or NULL (with *err, if given, naming the fault)
 * when the bytes are not one well-formed CBOR map with string keys. */
cJSON *cbor_to_json(const unsigned char *data, size_t len, const char **err);

#endif
