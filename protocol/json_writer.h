/* A streaming writer for response documents: appends to one growing buffer,
 * no tree. It writes JSON, or, for requests that came in CBOR, the same
 * document in CBOR (indefinite-length maps and arrays, byte strings for blobs,
 * tag 1 + epoch milliseconds for timestamps: what the Java SDKs read), so
 * handlers never know which. JSON commas are placed from one flag, so
 * containers need no stack: a value after a value gets a comma, a value after
 * '{', '[' or a key does not. */
#ifndef TP_JSON_WRITER_H
#define TP_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/strbuf.h"

struct jw {
    struct strbuf b;
    int sep;    /* JSON: next value needs a comma */
    int cbor;   /* write CBOR instead of JSON */
    int time_s; /* CBOR timestamps as tag 1 + epoch seconds (a double), as
                 * Smithy RPC v2 CBOR has them, not the Java SDKs' milliseconds */
};

void jw_init(struct jw *w);
/* An empty writer of the same kind (JSON or CBOR) as like. */
void jw_init_as(struct jw *w, const struct jw *like);
void jw_free(struct jw *w);
/* Hands the buffer over to the caller (NUL-terminated, for JSON's sake); *len
 * gets its length. */
char *jw_take(struct jw *w, size_t *len);

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
/* A double: in JSON the shortest text that reads back as the same value; in
 * CBOR an integer when it is one exactly, else a double. Not for NaN or
 * infinities, which neither JSON nor AWS's APIs carry. */
void jw_double(struct jw *w, double v);
/* That JSON text of v into out (32 bytes are always enough); its length. */
size_t jw_fmt_double(char *out, size_t outlen, double v);
/* AWS timestamps: in JSON epoch seconds as a number with millisecond
 * fraction; in CBOR tag 1 and an integer of epoch milliseconds (or, with
 * time_s, a double of epoch seconds). */
void jw_time_ms(struct jw *w, uint64_t ms);
/* A value already encoded by a writer of the same kind, spliced in as it is. */
void jw_raw(struct jw *w, const char *json, size_t n);
/* Bytes: a base64 string in JSON, a byte string in CBOR. */
void jw_blob(struct jw *w, const void *data, size_t n);

#endif
