/* A growable byte buffer, kept NUL-terminated, under the response writers
 * (json_writer.c for JSON/CBOR, xml.c for XML). Allocation failure aborts: a
 * server that cannot allocate a response buffer has no sensible way to answer. */
#ifndef TP_STRBUF_H
#define TP_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len, cap;
};

/* Room for n more bytes (and the NUL); returns where they go. */
char *strbuf_reserve(struct strbuf *b, size_t n);
/* Appends n bytes. */
void strbuf_put(struct strbuf *b, const void *s, size_t n);
/* Hands the buffer over (NUL-terminated); *len gets its length; b is empty after. */
char *strbuf_take(struct strbuf *b, size_t *len);
void strbuf_free(struct strbuf *b);

#endif
