/* libFuzzer target: the validation engine on JSON or CBOR bodies, with the
 * rules of every real Kinesis, Firehose and CloudWatch operation. Input: a
 * byte picking the service, one picking the operation, a byte whose bit 0
 * says CBOR (timestamps in ms, as RPC v2 and Kinesis CBOR send them), then
 * the body as the protocol layer decodes it. A body the engine accepts must
 * hold only what the rules allow, since handlers read it without checking
 * again: that is what `conforms` asserts. A new rule table is covered by
 * adding its service to SERVICES. */
#include "protocol/cbor.h"
#include "server/net/service.h"

#include <stdint.h>
#include <stdlib.h>

extern const struct svc_service kinesis_service, firehose_service, cloudwatch_service;

static const struct svc_service *const SERVICES[] = {&kinesis_service, &firehose_service, &cloudwatch_service};

static int conforms(const cJSON *v, const struct v_rule *r);

/* Members of a structure: each absent, null (read as absent) or conforming. */
static int members_conform(const cJSON *obj, const struct v_rule *rules)
{
    for (const struct v_rule *r = rules; r && r->name; r++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, r->name);
        if (v && !cJSON_IsNull(v) && !conforms(v, r))
            return 0;
    }
    return 1;
}

static int conforms(const cJSON *v, const struct v_rule *r)
{
    const cJSON *c;
    switch (r->type) {
    case VT_STRING: return cJSON_IsString(v);
    case VT_INT:
    case VT_LONG:
    case VT_DOUBLE: return cJSON_IsNumber(v);
    case VT_TIMESTAMP: return cJSON_IsNumber(v) || cJSON_IsString(v);
    case VT_BOOL: return cJSON_IsBool(v);
    case VT_BLOB: return cJSON_IsRaw(v); /* decoded by the engine */
    case VT_STRUCT: return cJSON_IsObject(v) && members_conform(v, r->children);
    case VT_LIST:
    case VT_MAP:
        if (r->type == VT_LIST ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
            return 0;
        cJSON_ArrayForEach(c, v) {
            if (r->member && !conforms(c, r->member)) /* a null element included */
                return 0;
        }
        return 1;
    }
    return 0;
}

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
        if (r == V_OK && !members_conform(body, op->rules))
            __builtin_trap(); /* accepted what a handler would misread */
        free(msg);
    }
    cJSON_Delete(body);
    return 0;
}
