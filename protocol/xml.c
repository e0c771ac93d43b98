/* S3 XML; see xml.h.
 * The writer appends to one growing buffer like json_writer (allocation
 * failure aborts, for the same reason). The caller nests xw_open/xw_close
 * correctly; the writer only escapes.
 * The reader builds a tree with expat in namespace mode, so that
 * <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> and a bare <Delete>
 * both arrive as "Delete". Request bodies come from anyone who can reach the
 * port, so a document type declaration (the only way to declare entities,
 * hence to mount an entity-expansion attack) stops the parse outright, and
 * size, depth and element count are capped before expat or the tree can
 * grow without bound. */
#include "protocol/xml.h"

#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

void xw_init(struct xw *w) { memset(w, 0, sizeof *w); }

void xw_free(struct xw *w) { strbuf_free(&w->b); }

static char *reserve(struct xw *w, size_t n) { return strbuf_reserve(&w->b, n); }

static void put(struct xw *w, const char *s, size_t n) { strbuf_put(&w->b, s, n); }

static void puts_(struct xw *w, const char *s) { put(w, s, strlen(s)); }

/* The five XML specials become their named entities, quotes included so the
 * same routine serves attribute values. CR becomes a character reference:
 * written raw, a parser would turn it into LF and a key "a\rb" would not come
 * back. The other C0 controls cannot be written in XML 1.0 at all; they too
 * become character references (what a client can make of them is its
 * business: botocore asks for encoding-type=url, which never gets here). */
static void put_escaped(struct xw *w, const char *s, size_t n)
{
    char *o = reserve(w, n * 6); /* worst case: every byte as &quot; or &#NN; */
    char *p = o;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        switch (c) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&apos;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n') {
                *p++ = '&';
                *p++ = '#';
                if (c >= 10)
                    *p++ = (char)('0' + c / 10);
                *p++ = (char)('0' + c % 10);
                *p++ = ';';
                continue;
            }
            *p++ = (char)c;
            continue;
        }
        size_t el = strlen(e);
        memcpy(p, e, el);
        p += el;
    }
    w->b.len += (size_t)(p - o);
    w->b.buf[w->b.len] = 0;
}

char *xw_take(struct xw *w, size_t *len) { return strbuf_take(&w->b, len); }

void xw_doc_begin(struct xw *w, const char *root, const char *ns)
{
    puts_(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    puts_(w, root);
    if (ns) {
        puts_(w, " xmlns=\"");
        put_escaped(w, ns, strlen(ns));
        put(w, "\"", 1);
    }
    put(w, ">", 1);
}

void xw_open(struct xw *w, const char *tag)
{
    put(w, "<", 1);
    puts_(w, tag);
    put(w, ">", 1);
}

void xw_close(struct xw *w, const char *tag)
{
    put(w, "</", 2);
    puts_(w, tag);
    put(w, ">", 1);
}

void xw_elemn(struct xw *w, const char *tag, const char *text, size_t n)
{
    xw_open(w, tag);
    put_escaped(w, text, n);
    xw_close(w, tag);
}

void xw_elem(struct xw *w, const char *tag, const char *text) { xw_elemn(w, tag, text, strlen(text)); }

void xw_text(struct xw *w, const char *text) { put_escaped(w, text, strlen(text)); }

void xw_raw(struct xw *w, const char *xml, size_t n) { put(w, xml, n); }

void xw_elem_u64(struct xw *w, const char *tag, uint64_t v)
{
    char b[24];
    xw_open(w, tag);
    put(w, b, (size_t)snprintf(b, sizeof b, "%" PRIu64, v));
    xw_close(w, tag);
}

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): plain
 * integer arithmetic, so no time_t range or gmtime_r locale questions. */
static void civil_from_days(uint64_t z, uint64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    uint64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (uint64_t)yoe + era * 400 + (*m <= 2);
}

void xw_elem_time(struct xw *w, const char *tag, uint64_t ms)
{
    uint64_t secs = ms / 1000, y;
    unsigned mo, d, sod = (unsigned)(secs % 86400);
    char b[64];

    civil_from_days(secs / 86400, &y, &mo, &d);
    xw_open(w, tag);
    put(w, b, (size_t)snprintf(b, sizeof b, "%04" PRIu64 "-%02u-%02uT%02u:%02u:%02u.%03uZ", y, mo,
                               d, sod / 3600, sod / 60 % 60, sod % 60, (unsigned)(ms % 1000)));
    xw_close(w, tag);
}

/* ---- reading ---- */

/* Namespaced names arrive as "uri<SEP>local". \x01 cannot occur in an XML 1.0
 * document, not even as a character reference, so it cannot be forged. */
#define NS_SEP '\x01'

struct open_elem {
    struct xml_node *node;
    struct xml_node *last_child; /* appending siblings in O(1) */
    size_t text_cap;
};

struct parse {
    XML_Parser p;
    struct xml_node *root;
    struct open_elem stack[XML_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    const char *err; /* set once, by the first fault */
};

static void stop(struct parse *ps, const char *err)
{
    if (!ps->err)
        ps->err = err;
    XML_StopParser(ps->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct parse *ps = ud;
    (void)attrs;

    /* expat may deliver events still buffered after XML_StopParser */
    if (ps->err)
        return;
    if (ps->depth == XML_MAX_DEPTH) {
        stop(ps, "XML nested too deeply");
        return;
    }
    if (ps->nodes == XML_MAX_NODES) {
        stop(ps, "XML has too many elements");
        return;
    }
    const char *local = strrchr(name, NS_SEP);
    local = local ? local + 1 : name;

    struct xml_node *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strdup(local))) {
        free(n);
        stop(ps, "out of memory");
        return;
    }
    ps->nodes++;
    if (ps->depth == 0) {
        ps->root = n; /* expat rejects a second root before we could see it */
    } else {
        struct open_elem *parent = &ps->stack[ps->depth - 1];
        if (parent->last_child)
            parent->last_child->next = n;
        else
            parent->node->child = n;
        parent->last_child = n;
    }
    ps->stack[ps->depth++] = (struct open_elem){n, NULL, 0};
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parse *ps = ud;
    (void)name; /* expat has matched it with the start tag */

    if (ps->err || ps->depth == 0)
        return;
    struct xml_node *n = ps->stack[--ps->depth].node;
    if (!n->text && !(n->text = calloc(1, 1)))
        stop(ps, "out of memory");
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *ps = ud;

    /* Text outside the root is only whitespace, which expat does not report. */
    if (ps->err || ps->depth == 0 || len <= 0)
        return;
    struct open_elem *e = &ps->stack[ps->depth - 1];
    struct xml_node *n = e->node;
    size_t need = n->text_len + (size_t)len + 1;
    if (need > e->text_cap) {
        size_t cap = e->text_cap ? e->text_cap : 64;
        while (cap < need)
            cap *= 2;
        char *t = realloc(n->text, cap);
        if (!t) {
            stop(ps, "out of memory");
            return;
        }
        n->text = t;
        e->text_cap = cap;
    }
    memcpy(n->text + n->text_len, s, (size_t)len);
    n->text_len += (size_t)len;
    n->text[n->text_len] = '\0';
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud, "XML document type declarations are not allowed");
}

/* Entities can only be declared inside a DOCTYPE, which on_doctype already
 * refuses; this is the second lock on the same door. */
static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid,
        (void)pubid, (void)notation;
    stop(ud, "XML entity declarations are not allowed");
}

struct xml_node *xml_parse(const char *data, size_t len, const char **err)
{
    struct parse ps;
    const char *e = NULL;

    memset(&ps, 0, sizeof ps);
    if (len > XML_MAX_BYTES) {
        e = "XML document too large";
        goto out;
    }
    ps.p = XML_ParserCreateNS(NULL, NS_SEP);
    if (!ps.p) {
        e = "out of memory";
        goto out;
    }
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    XML_SetCharacterDataHandler(ps.p, on_text);
    XML_SetStartDoctypeDeclHandler(ps.p, on_doctype);
    XML_SetEntityDeclHandler(ps.p, on_entity);
    XML_SetParamEntityParsing(ps.p, XML_PARAM_ENTITY_PARSING_NEVER);

    /* len <= XML_MAX_BYTES, so it fits expat's int */
    if (XML_Parse(ps.p, data, (int)len, XML_TRUE) != XML_STATUS_OK && !ps.err)
        ps.err = XML_ErrorString(XML_GetErrorCode(ps.p));
    /* Belt and braces: a parse that returned OK has closed every element. */
    if (!ps.err && (!ps.root || ps.depth != 0))
        ps.err = "XML document is incomplete";
    e = ps.err;
    XML_ParserFree(ps.p);
out:
    if (e) {
        xml_free(ps.root);
        if (err)
            *err = e;
        return NULL;
    }
    return ps.root;
}

void xml_free(struct xml_node *n)
{
    /* Siblings iteratively, children recursively: depth is capped at
     * XML_MAX_DEPTH, sibling counts are not. */
    while (n) {
        struct xml_node *next = n->next;
        xml_free(n->child);
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

const struct xml_node *xml_child(const struct xml_node *n, const char *name)
{
    if (!n)
        return NULL;
    for (const struct xml_node *c = n->child; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}
