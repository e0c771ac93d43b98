/* JSON as JavaScript (V8) parses and prints it; see js_json.c. */
#ifndef TP_JS_JSON_H
#define TP_JS_JSON_H

#include <stddef.h>

#include "protocol/strbuf.h"

/* What JavaScript throws: the Lambda error object's errorType and errorMessage. */
struct js_error {
    const char *type;
    char msg[256];
};

/* s as Buffer.prototype.toString() sees it: s itself when well-formed UTF-8,
 * else a copy in tmp with U+FFFD for the ill-formed sequences; *out_n gets
 * the length. */
const char *js_utf8_repair(const char *s, size_t n, struct strbuf *tmp, size_t *out_n);

/* Appends JSON.stringify(Object.assign({[key]: value}, JSON.parse(text))) to
 * out: 0, or -1 with what JSON.parse would throw in err. */
int js_assign_first(const char *text, size_t n, const char *key, const char *value, struct strbuf *out,
                    struct js_error *err);

#endif
