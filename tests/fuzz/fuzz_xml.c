/* libFuzzer target: S3 XML request bodies (CompleteMultipartUpload,
 * DeleteObjects, CreateBucketConfiguration, Tagging) through expat into the
 * element tree, then walked the way the handlers walk it. */
#include "protocol/xml.h"

#include <stdint.h>
#include <string.h>

static size_t walk(const struct xml_node *n, int depth)
{
    size_t count = 0;
    if (depth > XML_MAX_DEPTH + 1)
        __builtin_trap(); /* the depth limit did not hold */
    for (; n; n = n->next) {
        if (strlen(n->text) > n->text_len)
            __builtin_trap();
        count += 1 + walk(n->child, depth + 1);
        (void)xml_child(n, "Key");
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    struct xml_node *root = xml_parse((const char *)data, size, &err);
    if (root && walk(root, 0) > XML_MAX_NODES)
        __builtin_trap();
    xml_free(root);
    return 0;
}
