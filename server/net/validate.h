/* Request validation as data. Each operation lists its members with a type and
 * constraints; one engine checks types first (SerializationException, Coral's
 * texts) and then constraints (ValidationException: "N validation errors
 * detected: Value 'x' at 'member.path' failed to satisfy constraint: ...", at
 * most 10, member paths lower-first), the way AWS words them. */
#ifndef TP_VALIDATE_H
#define TP_VALIDATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

enum v_type { VT_STRING, VT_INT, VT_LONG, VT_DOUBLE, VT_BOOL, VT_BLOB, VT_TIMESTAMP, VT_LIST, VT_MAP, VT_STRUCT };

enum {
    V_NOT_NULL = 1 << 0,
    V_LEN_MIN = 1 << 1,
    V_LEN_MAX = 1 << 2,
    V_MIN = 1 << 3,
    V_MAX = 1 << 4,
};

struct v_rule {
    const char *name;           /* wire member name; NULL ends a table */
    enum v_type type;
    unsigned flags;
    long long len_min, len_max; /* strings: characters, blobs: bytes, lists/maps: entries */
    long long min, max;         /* numbers */
    const char *pattern;        /* as AWS prints it */
    const char *ere;            /* the same as a POSIX extended regex, anchored by the engine */
    const char *const *enums;   /* NULL-terminated */
    const struct v_rule *member;   /* list element or map value */
    const struct v_rule *children; /* structure members */
    const char *member_str;     /* how AWS prints a list element in a message */
};

enum v_result { V_OK = 0, V_SERIALIZATION, V_VALIDATION };


/* validate_request flags */
#define V_TIMESTAMPS_MS 1u /* timestamp numbers are epoch milliseconds (CBOR) */

/* Checks body against rules; on failure *msg gets the AWS message (malloc'd,
 * the caller frees it), else NULL. Blob members are base64-decoded in the
 * process (read them with v_blob; CBOR byte strings arrive decoded), and
 * timestamps end up in seconds whatever the flags said they were. */
enum v_result validate_request(cJSON *body, const struct v_rule *rules, unsigned flags, char **msg);

/* Members of a validated body; the default (or NULL) when absent. */
int v_int(const cJSON *in, const char *name, int dflt);
const char *v_str(const cJSON *in, const char *name);
/* A timestamp member (epoch seconds, possibly fractional) in milliseconds. */
uint64_t v_time_ms(const cJSON *v);

/* The decoded bytes of a blob member (NULL, *len 0 when absent). */
const unsigned char *v_blob(const cJSON *in, const char *name, size_t *len);

#endif
