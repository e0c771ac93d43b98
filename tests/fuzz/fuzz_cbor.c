/* libFuzzer target: CBOR request bodies (Kinesis, CloudWatch RPC v2) into the
 * cJSON tree the handlers read. */
#include "protocol/cbor.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    cJSON *j = cbor_to_json(data, size, &err);
    if (!j && !err)
        __builtin_trap(); /* a refusal always says why */
    cJSON_Delete(j);
    return 0;
}
