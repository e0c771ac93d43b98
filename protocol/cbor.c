/* CBOR request decoding; see cbor.h. libcbor's streaming decoder reads the
 * items; the tree is built here with an explicit stack, so hostile nesting is
 * a depth error, not a deep recursion. */
#include "protocol/cbor.h"

#include <cbor.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum frame_kind { F_ARRAY, F_MAP, F_TEXT, F_BYTES };

struct frame {
    enum frame_kind kind;
    cJSON *node;        /* F_ARRAY / F_MAP */
    long long left;     /* items (map: keys + values) still to come; -1 indefinite */
    char *key;          /* F_MAP: the key waiting for its value */
    char *buf;          /* F_TEXT / F_BYTES: the chunks so far */
    size_t len;
};

struct builder {
    struct frame stack[CBOR_MAX_DEPTH];
    int depth;
    cJSON *root;
    const char *err;
    size_t avail;       /* input bytes from the item being decoded to the end */
};

static void fail(struct builder *b, const char *err)
{
    if (!b->err)
        b->err = err;
}

static void frame_free(struct frame *f)
{
    cJSON_Delete(f->node);
    free(f->key);
    free(f->buf);
}

static void value(struct builder *b, cJSON *item);

/* A container that has all its items goes to its parent. */
static void pop(struct builder *b)
{
    struct frame *f = &b->stack[--b->depth];
    cJSON *node = f->node;
    if (f->kind == F_MAP && f->key) {
        fail(b, "map key without a value");
        frame_free(f);
        return;
    }
    f->node = NULL;
    value(b, node);
}

static void value(struct builder *b, cJSON *item)
{
    if (!item) {
        fail(b, "out of memory");
        return;
    }
    if (b->err) {
        cJSON_Delete(item);
        return;
    }
    if (!b->depth) {
        if (b->root || !cJSON_IsObject(item)) {
            fail(b, b->root ? "data after the top-level map" : "the top level is not a map");
            cJSON_Delete(item);
            return;
        }
        b->root = item;
        return;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->kind == F_MAP) {
        if (!f->key) {
            if (!cJSON_IsString(item)) {
                fail(b, "a map key that is not a text string");
                cJSON_Delete(item);
                return;
            }
            f->key = item->valuestring;
            item->valuestring = NULL;
            cJSON_Delete(item);
        } else {
            cJSON_AddItemToObject(f->node, f->key, item);
            free(f->key);
            f->key = NULL;
        }
    } else if (f->kind == F_ARRAY) {
        cJSON_AddItemToArray(f->node, item);
    } else {
        fail(b, "an item inside an indefinite string");
        cJSON_Delete(item);
        return;
    }
    if (f->left > 0 && --f->left == 0)
        pop(b);
}

static struct frame *push(struct builder *b, enum frame_kind kind, long long left)
{
    if (b->err)
        return NULL;
    if (b->depth == CBOR_MAX_DEPTH) {
        fail(b, "nested too deeply");
        return NULL;
    }
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->left = left;
    return f;
}

static void container(void *ctx, enum frame_kind kind, long long left)
{
    struct builder *b = ctx;
    struct frame *f = push(b, kind, left);
    if (!f)
        return;
    f->node = kind == F_MAP ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!f->node)
        fail(b, "out of memory");
    else if (left == 0)
        pop(b);
}

static cJSON *text_item(const unsigned char *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    memcpy(s, data, len);
    s[len] = 0;
    cJSON *item = cJSON_CreateString(s);
    free(s);
    return item;
}

/* Bytes as a cJSON_Raw whose valuestring is the bytes (NUL-terminated for
 * safety) and valueint their count. */
static cJSON *bytes_item(const unsigned char *data, size_t len)
{
    cJSON *item = cJSON_CreateRaw("");
    unsigned char *copy = malloc(len + 1);
    if (!item || !copy || len > INT32_MAX) {
        cJSON_Delete(item);
        free(copy);
        return NULL;
    }
    memcpy(copy, data, len);
    copy[len] = 0;
    free(item->valuestring);
    item->valuestring = (char *)copy;
    item->valueint = (int)len;
    return item;
}

/* A definite string: a value, or a chunk of the indefinite string open on top. */
static void chunk(void *ctx, cbor_data data, uint64_t len, enum frame_kind kind)
{
    struct builder *b = ctx;
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (b->err)
        return;
    if (f && (f->kind == F_TEXT || f->kind == F_BYTES)) {
        if (f->kind != kind) {
            fail(b, "a chunk of the wrong string type");
            return;
        }
        char *nb = realloc(f->buf, f->len + len + 1);
        if (!nb) {
            fail(b, "out of memory");
            return;
        }
        memcpy(nb + f->len, data, len);
        f->buf = nb;
        f->len += len;
        return;
    }
    value(b, kind == F_TEXT ? text_item(data, len) : bytes_item(data, len));
}

static void on_text(void *ctx, cbor_data data, uint64_t len) { chunk(ctx, data, len, F_TEXT); }
static void on_bytes(void *ctx, cbor_data data, uint64_t len) { chunk(ctx, data, len, F_BYTES); }
static void on_text_start(void *ctx) { push(ctx, F_TEXT, -1); }
static void on_bytes_start(void *ctx) { push(ctx, F_BYTES, -1); }
/* A definite container of n items (a map: n keys and n values). Every item
 * takes at least one byte after the header's, so a count the rest of the
 * input cannot hold is truncated input; checked before any arithmetic, which
 * keeps counts up to 2^64 - 1 from overflowing or passing for -1. */
static void definite(void *ctx, enum frame_kind kind, uint64_t n)
{
    struct builder *b = ctx;
    uint64_t per_item = kind == F_MAP ? 2 : 1;
    if (n > (b->avail - 1) / per_item) {
        fail(b, "truncated");
        return;
    }
    container(ctx, kind, (long long)(n * per_item));
}

static void on_array(void *ctx, uint64_t n) { definite(ctx, F_ARRAY, n); }
static void on_indef_array(void *ctx) { container(ctx, F_ARRAY, -1); }
static void on_map(void *ctx, uint64_t n) { definite(ctx, F_MAP, n); }
static void on_indef_map(void *ctx) { container(ctx, F_MAP, -1); }

static void on_break(void *ctx)
{
    struct builder *b = ctx;
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (b->err)
        return;
    if (!f || f->left != -1) {
        fail(b, "a break outside an indefinite item");
        return;
    }
    if (f->kind == F_TEXT || f->kind == F_BYTES) {
        const unsigned char *data = (const unsigned char *)(f->buf ? f->buf : "");
        cJSON *item = f->kind == F_TEXT ? text_item(data, f->len) : bytes_item(data, f->len);
        free(f->buf);
        b->depth--;
        value(b, item);
        return;
    }
    pop(b);
}

static void on_uint8(void *ctx, uint8_t v) { value(ctx, cJSON_CreateNumber(v)); }
static void on_uint16(void *ctx, uint16_t v) { value(ctx, cJSON_CreateNumber(v)); }
static void on_uint32(void *ctx, uint32_t v) { value(ctx, cJSON_CreateNumber(v)); }
static void on_uint64(void *ctx, uint64_t v) { value(ctx, cJSON_CreateNumber((double)v)); }
static void on_neg8(void *ctx, uint8_t v) { value(ctx, cJSON_CreateNumber(-1.0 - v)); }
static void on_neg16(void *ctx, uint16_t v) { value(ctx, cJSON_CreateNumber(-1.0 - v)); }
static void on_neg32(void *ctx, uint32_t v) { value(ctx, cJSON_CreateNumber(-1.0 - v)); }
static void on_neg64(void *ctx, uint64_t v) { value(ctx, cJSON_CreateNumber(-1.0 - (double)v)); }
static void on_float(void *ctx, float v) { value(ctx, cJSON_CreateNumber(v)); }
static void on_double(void *ctx, double v) { value(ctx, cJSON_CreateNumber(v)); }
static void on_null(void *ctx) { value(ctx, cJSON_CreateNull()); }
static void on_bool(void *ctx, bool v) { value(ctx, cJSON_CreateBool(v)); }
/* Tags only annotate: a tag-1 date is its number (epoch ms from the Java SDKs). */
static void on_tag(void *ctx, uint64_t tag) { (void)ctx; (void)tag; }

static const struct cbor_callbacks CALLBACKS = {
    .uint8 = on_uint8, .uint16 = on_uint16, .uint32 = on_uint32, .uint64 = on_uint64,
    .negint8 = on_neg8, .negint16 = on_neg16, .negint32 = on_neg32, .negint64 = on_neg64,
    .byte_string_start = on_bytes_start, .byte_string = on_bytes,
    .string = on_text, .string_start = on_text_start,
    .indef_array_start = on_indef_array, .array_start = on_array,
    .indef_map_start = on_indef_map, .map_start = on_map,
    .tag = on_tag, .float2 = on_float, .float4 = on_float, .float8 = on_double,
    .undefined = on_null, .null = on_null, .boolean = on_bool, .indef_break = on_break,
};

cJSON *cbor_to_json(const unsigned char *data, size_t len, const char **err)
{
    struct builder b;
    size_t off = 0;
    memset(&b, 0, sizeof b);
    while (off < len && !b.err) {
        b.avail = len - off;
        struct cbor_decoder_result r = cbor_stream_decode(data + off, len - off, &CALLBACKS, &b);
        if (r.status != CBOR_DECODER_FINISHED) {
            fail(&b, r.status == CBOR_DECODER_NEDATA ? "truncated" : "malformed");
            break;
        }
        off += r.read;
    }
    if (!b.err && (b.depth || !b.root))
        fail(&b, "truncated");
    while (b.depth)
        frame_free(&b.stack[--b.depth]);
    if (b.err) {
        cJSON_Delete(b.root);
        if (err)
            *err = b.err;
        return NULL;
    }
    return b.root;
}
