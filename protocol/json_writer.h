/* A streaming JSON writer for responses: appends to one growing buffer, no tree.
 * Commas are placed from one flag, so containers need no stack: a value after a
 * value gets a comma, a value after '{', '[' or a key does not. */
#ifndef TP_JSON_WRITER_H
#define TP_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct jw {
    char *buf;
    size_t len, cap;
    int sep; /* next value needs a comma */
};

void jw_init(struct jw *w);
void jw_free(struct jw *w);
/* Hands the NUL-terminated buffer over to the caller; *len gets its length. */
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
/* AWS JSON timestamps: epoch seconds as a number with millisecond fraction. */
void jw_time_ms(struct jw *w, uint64_t ms);
/* A value already encoded as JSON, spliced in as it is. */
void jw_raw(struct jw *w, const char *json, size_t n);
/* Bytes as a base64 string. */
void jw_blob(struct jw *w, const void *data, size_t n);

#endif
