/* libFuzzer target: the validation engine on JSON or CBOR bodies, with the
 * rules of every real Kinesis, Firehose and CloudWatch operation. Input: a
 * byte picking the service, one picking the operation, a byte whose bit 0
 * says CBOR (timestamps in ms, as RPC v2 and Kinesis CBOR send them), then
 * the body as the protocol layer decodes it. Structured this way so that a
 * new rule table is covered by adding it to SERVICES. */
#include "protocol/cbor.h"
#include "server/service.h"

#include <stdint.h>
#include <stdlib.h>

extern const struct svc_service kinesis_service, firehose_service, cloudwatch_service;

static const struct svc_service *const SERVICES[] = {&kinesis_service, &firehose_service, &cloudwatch_service};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const struct svc_service *s = SERVICES[data[0] % (sizeof SERVICES / sizeof *SERVICES)];
    const struct svc_op *op = &s->ops[data[1] % s->n_ops];
    int cbor = data[2] & 1;
    data += 3, size -= 3;
    cJSON *body = cbor ? cbor_to_json(data, size, NULL) : cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsObject(body)) {
        char *msg = NULL;
        enum v_result r = validate_request(body, op->rules, cbor ? V_TIMESTAMPS_MS : 0, &msg);
        if ((r == V_OK) != (msg == NULL))
            __builtin_trap(); /* every refusal has AWS's message, and only a refusal */
        free(msg);
    }
    cJSON_Delete(body);
    return 0;
}
