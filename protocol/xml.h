/* XML for S3 and the awsQuery protocol.
 * Writing: a streaming writer like json_writer (declaration, namespaced root,
 * escaped text). Reading: request bodies (CompleteMultipartUpload,
 * DeleteObjects, CreateBucketConfiguration, Tagging) parsed with expat into a
 * small element tree, with limits on size, depth and element count so
 * malformed or hostile input is an error, never a crash or a hang. */
#ifndef TP_XML_H
#define TP_XML_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/strbuf.h"

/* ---- writing ---- */

struct xw {
    struct strbuf b;
};

void xw_init(struct xw *w);
void xw_free(struct xw *w);
char *xw_take(struct xw *w, size_t *len);
/* <?xml version="1.0" encoding="UTF-8"?> then <root xmlns="ns"> (ns may be NULL) */
void xw_doc_begin(struct xw *w, const char *root, const char *ns);
void xw_open(struct xw *w, const char *tag);
void xw_close(struct xw *w, const char *tag);
/* <tag>escaped text</tag> */
void xw_elem(struct xw *w, const char *tag, const char *text);
void xw_elemn(struct xw *w, const char *tag, const char *text, size_t n);
void xw_elem_u64(struct xw *w, const char *tag, uint64_t v);
/* Escaped text inside the open element. */
void xw_text(struct xw *w, const char *text);
/* Markup built by another writer, spliced in as it is. */
void xw_raw(struct xw *w, const char *xml, size_t n);
/* <tag>2009-10-12T17:50:30.000Z</tag> from epoch milliseconds */
void xw_elem_time(struct xw *w, const char *tag, uint64_t ms);

/* ---- reading ---- */

struct xml_node {
    char *name;              /* local name, namespace prefix/URI dropped */
    char *text;              /* concatenated character data, "" when none */
    size_t text_len;
    struct xml_node *child;  /* first child element */
    struct xml_node *next;   /* next sibling */
};

#define XML_MAX_DEPTH 16
#define XML_MAX_NODES 20000
#define XML_MAX_BYTES (4 * 1024 * 1024)

/* Parses a whole document; NULL when it is not well-formed or breaks a limit
 * (then *err, if given, names the fault). */
struct xml_node *xml_parse(const char *data, size_t len, const char **err);
void xml_free(struct xml_node *root);
/* The first child element named name, or NULL. */
const struct xml_node *xml_child(const struct xml_node *n, const char *name);

#endif
