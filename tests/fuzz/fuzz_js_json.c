/* libFuzzer target: the builtins' V8-exact JSON (Lambda transformation
 * records are client bytes): JSON.parse of the input with a member added in
 * front, and Buffer.toString's UTF-8 repair. */
#include "protocol/js_json.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strbuf out = {0}, tmp = {0};
    struct js_error err = {0};
    size_t n = 0;
    const char *text = js_utf8_repair((const char *)data, size, &tmp, &n);
    if (js_assign_first(text, n, "approximate_arrival_timestamp", "1700000000000", &out, &err) != 0 && !err.type)
        __builtin_trap();
    strbuf_free(&out);
    strbuf_free(&tmp);
    return 0;
}
