/* The validation engine against AWS's texts: SerializationException type
 * messages, "N validation error(s) detected: ..." with lower-first member
 * paths, list element paths, blob renderings and the 10-error cap. */
#include "server/net/validate.h"
#include "tests/unit/check.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

static const char *const MODES[] = {"PROVISIONED", "ON_DEMAND", NULL};
static const struct v_rule ENTRY[] = {
    {.name = "Data", .type = VT_BLOB, .flags = V_NOT_NULL | V_LEN_MAX, .len_max = 4},
    {.name = "PartitionKey", .type = VT_STRING, .flags = V_NOT_NULL | V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 3},
    {0}};
static const struct v_rule ENTRY_MEMBER = {.name = "member", .type = VT_STRUCT, .children = ENTRY};
static const struct v_rule RULES[] = {
    {.name = "StreamName", .type = VT_STRING, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 8,
     .pattern = "[a-zA-Z0-9_.-]+", .ere = "[a-zA-Z0-9_.-]+"},
    {.name = "Limit", .type = VT_INT, .flags = V_MIN | V_MAX, .min = 1, .max = 10},
    {.name = "Mode", .type = VT_STRING, .enums = MODES},
    {.name = "Flag", .type = VT_BOOL},
    {.name = "Ratio", .type = VT_DOUBLE},
    {.name = "Records", .type = VT_LIST, .flags = V_LEN_MIN | V_LEN_MAX, .len_min = 1, .len_max = 2,
     .member = &ENTRY_MEMBER, .member_str = "Entry@1"},
    {0}};

/* Validates json; *msg gets the message (or NULL), to be freed. */
static enum v_result run(const char *json, char **msg)
{
    cJSON *in = cJSON_Parse(json);
    CHECK(in);
    enum v_result r = validate_request(in, RULES, 0, msg);
    cJSON_Delete(in);
    CHECK((r == V_OK) == (*msg == NULL));
    return r;
}

static void expect(const char *json, enum v_result want, const char *text)
{
    char *msg;
    CHECK(run(json, &msg) == want);
    if (text)
        CHECK_STREQ(msg, text);
    free(msg);
}

int main(void)
{
    expect("{}", V_OK, NULL);
    expect("{\"StreamName\":\"ok\",\"Limit\":10,\"Mode\":\"ON_DEMAND\",\"Unknown\":[1]}", V_OK, NULL);

    /* types first, with Coral's texts */
    expect("{\"StreamName\":1}", V_SERIALIZATION, "class java.math.BigDecimal can not be converted to an String");
    expect("{\"StreamName\":true}", V_SERIALIZATION, "class java.lang.Boolean can not be converted to an String");
    expect("{\"Limit\":\"x\"}", V_SERIALIZATION, "class java.lang.String can not be converted to an Integer");
    expect("{\"Flag\":\"yes\"}", V_SERIALIZATION, "'YES' can not be converted to an Boolean");
    expect("{\"Ratio\":\"x\"}", V_SERIALIZATION, "class java.lang.String can not be converted to an Double");
    expect("{\"Ratio\":0.25}", V_OK, NULL);
    expect("{\"Records\":{}}", V_SERIALIZATION, "Start of structure or map found where not expected.");
    expect("{\"Records\":\"x\"}", V_SERIALIZATION, "Expected list or null");
    expect("{\"StreamName\":[]}", V_SERIALIZATION, "Start of list found where not expected");
    expect("{\"Records\":[{\"Data\":\"abc\",\"PartitionKey\":\"k\"}]}", V_SERIALIZATION,
           "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3");
    expect("{\"Records\":[{\"Data\":\"ab!=\",\"PartitionKey\":\"k\"}]}", V_SERIALIZATION,
           "'ab!=' can not be converted to a Blob: Invalid Base64 character: '!'");
    expect("{\"Records\":[{\"Data\":\"YR==\",\"PartitionKey\":\"k\"}]}", V_SERIALIZATION,
           "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected");

    /* constraints */
    expect("{\"StreamName\":\"a b\"}", V_VALIDATION,
           "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: "
           "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    expect("{\"StreamName\":\"\"}", V_VALIDATION,
           "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: "
           "Member must have length greater than or equal to 1; Value '' at 'streamName' failed to satisfy "
           "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    expect("{\"Limit\":11}", V_VALIDATION,
           "1 validation error detected: Value '11' at 'limit' failed to satisfy constraint: "
           "Member must have value less than or equal to 10");
    /* numbers past long long's range are printed, not converted (UBSan: float-cast-overflow) */
    expect("{\"Limit\":1e20}", V_VALIDATION,
           "1 validation error detected: Value '100000000000000000000' at 'limit' failed to satisfy constraint: "
           "Member must have value less than or equal to 10");
    expect("{\"Limit\":-0}", V_VALIDATION,
           "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
           "Member must have value greater than or equal to 1");
    expect("{\"Limit\":1e400}", V_VALIDATION, NULL);
    expect("{\"Mode\":\"X\"}", V_VALIDATION,
           "1 validation error detected: Value 'X' at 'mode' failed to satisfy constraint: "
           "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    /* list elements: paths records.N.member.x, blobs as Java buffers, nulls */
    expect("{\"Records\":[{\"Data\":\"YWJjZGU=\",\"PartitionKey\":\"k\"},{\"PartitionKey\":\"kkkk\"}]}", V_VALIDATION,
           "3 validation errors detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=5 cap=5]' at "
           "'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 4; "
           "Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null; "
           "Value 'kkkk' at 'records.2.member.partitionKey' failed to satisfy constraint: "
           "Member must have length less than or equal to 3");
    expect("{\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"},{\"Data\":\"\",\"PartitionKey\":\"k\"},"
           "{\"Data\":\"\",\"PartitionKey\":\"k\"}]}", V_VALIDATION,
           "1 validation error detected: Value '[Entry@1, Entry@1, Entry@1]' at 'records' failed to satisfy "
           "constraint: Member must have length less than or equal to 2");
    /* a null list element is refused, whatever its member rule (AWS's lists are dense) */
    expect("{\"Records\":[null]}", V_VALIDATION,
           "1 validation error detected: Value null at 'records.1.member' failed to satisfy constraint: "
           "Member must not be null");
    expect("{\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"},null]}", V_VALIDATION,
           "1 validation error detected: Value null at 'records.2.member' failed to satisfy constraint: "
           "Member must not be null");
    /* an explicit null member is an absent one: the handler never sees it */
    {
        cJSON *in = cJSON_Parse("{\"StreamName\":null,\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"}]}");
        char *m;
        CHECK(validate_request(in, RULES, 0, &m) == V_OK);
        CHECK(!cJSON_HasObjectItem(in, "StreamName"));
        cJSON_Delete(in);
    }
    /* at most 10 errors are reported */
    char big[2048] = "{\"Records\":[";
    for (int i = 0; i < 12; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    char *msg;
    CHECK(run(big, &msg) == V_VALIDATION);
    CHECK(!strncmp(msg, "10 validation errors detected: ", 31));
    free(msg);

    /* readers of validated members */
    cJSON *in = cJSON_Parse("{\"A\":3.9,\"S\":\"x\",\"T\":1459799926.48,\"U\":\"1459799926\"}");
    CHECK(v_int(in, "A", 0) == 3 && v_int(in, "B", 7) == 7);
    CHECK_STREQ(v_str(in, "S"), "x");
    CHECK(v_str(in, "A") == NULL);
    CHECK(v_time_ms(cJSON_GetObjectItem(in, "T")) == 1459799926480ULL);
    CHECK(v_time_ms(cJSON_GetObjectItem(in, "U")) == 1459799926000ULL);
    cJSON_Delete(in);
    /* a rule without a maximum lets any number through: v_int saturates, and
     * NaN (CBOR has it, and it passes min/max checks) reads as absent */
    in = cJSON_Parse("{\"Big\":1e20,\"Small\":-1e20,\"Inf\":1e400}");
    cJSON_AddNumberToObject(in, "NaN", NAN);
    CHECK(v_int(in, "Big", 0) == INT_MAX && v_int(in, "Small", 0) == INT_MIN && v_int(in, "Inf", 0) == INT_MAX);
    CHECK(v_int(in, "NaN", 7) == 7);
    cJSON_Delete(in);
    puts("validate: ok");
    return 0;
}
