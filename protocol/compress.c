/* Firehose compressors; see compress.h. GZIP streams through ISA-L's igzip,
 * the two
 * Snappy framings cut the input into 32 KiB blocks (snappy-java's default,
 * so the output is byte for byte snappy-java's, as AWS's objects are), ZIP
 * collects the object and lets libzip write the archive at the end. */
#include "protocol/compress.h"

#include <isa-l/igzip_lib.h>
#include <limits.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* The engine must compress ~100 MB/s while the same two cores take the puts.
 * On 1 KiB JSON records zlib gives ~120 MB/s at level 1 (~21 at its default
 * 6, whose output is only ~20% smaller); ISA-L's igzip at level 1 is several
 * times faster for a similar ratio, so GZIP uses it. ZIP (libzip, on zlib)
 * stays at zlib's level 1. */
#define DEFLATE_LEVEL 1
#define GZIP_OUT_CHUNK (128 * 1024)
#define SNAPPY_BLOCK (32 * 1024)
#define SNAPPY_JAVA_HEADER_LEN 16
#define ZIP_READ_CHUNK (256 * 1024)

/* SnappyCodec's header: magic, then version 1 and compatible version 1. */
static const unsigned char snappy_java_header[SNAPPY_JAVA_HEADER_LEN] = {
    0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00, 0, 0, 0, 1, 0, 0, 0, 1};

struct compressor {
    enum fh_compression kind;
    compressor_sink sink;
    void *ctx;
    int failed;

    struct isal_zstream zs;  /* GZIP */
    unsigned char *level_buf;/* GZIP: igzip's work area for its level */
    unsigned char *out;      /* GZIP: deflate output; Snappy: one framed block */
    unsigned char *in;       /* Snappy: the block being filled; ZIP: the object */
    size_t in_len, in_cap;
    int header_sent;         /* Snappy */
    char *entry_name;        /* ZIP */
};

static const struct {
    const char *name, *extension, *content_encoding;
} formats[] = {
    [FH_UNCOMPRESSED] = {"UNCOMPRESSED", "", NULL},
    [FH_GZIP] = {"GZIP", ".gz", "gzip"},
    [FH_ZIP] = {"ZIP", ".zip", "zip"},
    [FH_SNAPPY] = {"Snappy", ".snappy", "snappy-java"},
    [FH_HADOOP_SNAPPY] = {"HADOOP_SNAPPY", ".snappy", "hadoop-snappy"},
};

int fh_compression_parse(const char *name, enum fh_compression *out)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *out = (enum fh_compression)i;
            return 0;
        }
    }
    return -1;
}

const char *fh_compression_extension(enum fh_compression c) { return formats[c].extension; }

const char *fh_compression_content_encoding(enum fh_compression c)
{
    return formats[c].content_encoding;
}

static int fail(struct compressor *z)
{
    z->failed = 1;
    return -1;
}

static int emit(struct compressor *z, const void *p, size_t n)
{
    return n && z->sink(z->ctx, p, n) != 0 ? fail(z) : 0;
}

/* ---- GZIP ---- */

static int gzip_init(struct compressor *z)
{
    z->out = malloc(GZIP_OUT_CHUNK);
    z->level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
    if (!z->out || !z->level_buf)
        return -1;
    isal_deflate_init(&z->zs);
    z->zs.level = 1;
    z->zs.level_buf = z->level_buf;
    z->zs.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    z->zs.gzip_flag = IGZIP_GZIP; /* a gzip header and trailer around the deflate stream */
    z->zs.next_out = z->out;
    z->zs.avail_out = GZIP_OUT_CHUNK;
    return 0;
}

/* Deflates the pending input (all of it, or to the end of the stream when
 * end is set); the output goes to the sink a full chunk at a time. */
static int gzip_run(struct compressor *z, int end)
{
    z->zs.end_of_stream = (uint16_t)end;
    for (;;) {
        if (isal_deflate(&z->zs) != COMP_OK)
            return fail(z);
        int done = end ? z->zs.internal_state.state == ZSTATE_END : z->zs.avail_in == 0;
        if (z->zs.avail_out == 0 || (done && end)) {
            if (emit(z, z->out, GZIP_OUT_CHUNK - z->zs.avail_out) != 0)
                return -1;
            z->zs.next_out = z->out;
            z->zs.avail_out = GZIP_OUT_CHUNK;
        }
        if (done)
            return 0;
    }
}

static int gzip_write(struct compressor *z, const unsigned char *p, size_t n)
{
    while (n > 0) {
        /* avail_in is 32 bits */
        uint32_t take = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;

        z->zs.next_in = (uint8_t *)p;
        z->zs.avail_in = take;
        if (gzip_run(z, 0) != 0)
            return -1;
        p += take;
        n -= take;
    }
    return 0;
}

/* ---- Snappy and HADOOP_SNAPPY ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int snappy_init(struct compressor *z)
{
    z->in = malloc(SNAPPY_BLOCK);
    z->out = malloc(SNAPPY_JAVA_HEADER_LEN + 8 + snappy_max_compressed_length(SNAPPY_BLOCK));
    return z->in && z->out ? 0 : -1;
}

/* Frames and sends one block of at most SNAPPY_BLOCK bytes in one sink call,
 * preceded by the stream header for the first block of a snappy-java stream. */
static int snappy_block(struct compressor *z, const unsigned char *p, size_t n)
{
    size_t pos = 0;

    if (z->kind == FH_SNAPPY && !z->header_sent) {
        memcpy(z->out, snappy_java_header, SNAPPY_JAVA_HEADER_LEN);
        pos = SNAPPY_JAVA_HEADER_LEN;
        z->header_sent = 1;
    }
    if (z->kind == FH_HADOOP_SNAPPY) {
        put_be32(z->out + pos, (uint32_t)n);
        pos += 4;
    }
    size_t clen = snappy_max_compressed_length(n);
    if (snappy_compress((const char *)p, n, (char *)z->out + pos + 4, &clen) != SNAPPY_OK)
        return fail(z);
    put_be32(z->out + pos, (uint32_t)clen);
    return emit(z, z->out, pos + 4 + clen);
}

static int snappy_write(struct compressor *z, const unsigned char *p, size_t n)
{
    while (n > 0) {
        /* whole blocks straight from the caller's memory, saving a copy */
        if (z->in_len == 0 && n >= SNAPPY_BLOCK) {
            if (snappy_block(z, p, SNAPPY_BLOCK) != 0)
                return -1;
            p += SNAPPY_BLOCK;
            n -= SNAPPY_BLOCK;
            continue;
        }
        size_t take = SNAPPY_BLOCK - z->in_len < n ? SNAPPY_BLOCK - z->in_len : n;
        memcpy(z->in + z->in_len, p, take);
        z->in_len += take;
        p += take;
        n -= take;
        if (z->in_len == SNAPPY_BLOCK) {
            z->in_len = 0;
            if (snappy_block(z, z->in, SNAPPY_BLOCK) != 0)
                return -1;
        }
    }
    return 0;
}

static int snappy_finish(struct compressor *z)
{
    if (z->in_len > 0)
        return snappy_block(z, z->in, z->in_len);
    /* snappy-java writes its header even for an empty stream */
    if (z->kind == FH_SNAPPY && !z->header_sent)
        return emit(z, snappy_java_header, SNAPPY_JAVA_HEADER_LEN);
    return 0;
}

/* ---- ZIP ---- */

static int zip_collect(struct compressor *z, const unsigned char *p, size_t n)
{
    if (z->in_len + n > z->in_cap) {
        size_t cap = z->in_cap ? z->in_cap : 1024 * 1024;
        while (cap < z->in_len + n)
            cap *= 2;
        unsigned char *grown = realloc(z->in, cap);
        if (!grown)
            return fail(z);
        z->in = grown;
        z->in_cap = cap;
    }
    memcpy(z->in + z->in_len, p, n);
    z->in_len += n;
    return 0;
}

/* Builds the archive in a libzip memory source, then streams it out. */
static int zip_finish(struct compressor *z)
{
    zip_source_t *archive = zip_source_buffer_create(NULL, 0, 0, NULL);
    if (!archive)
        return -1;
    zip_source_keep(archive); /* zip_close must not free it: we read it after */
    zip_t *za = zip_open_from_source(archive, ZIP_TRUNCATE, NULL);
    if (!za) {
        zip_source_free(archive);
        return -1;
    }
    /* libzip takes the object buffer over (last argument 1 = free it) */
    zip_source_t *entry = zip_source_buffer(za, z->in, z->in_len, 1);
    if (!entry) {
        zip_discard(za);
        zip_source_free(archive);
        return -1;
    }
    z->in = NULL;
    zip_int64_t idx = zip_file_add(za, z->entry_name, entry, ZIP_FL_ENC_UTF_8);
    if (idx < 0)
        zip_source_free(entry);
    if (idx < 0 || zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE,
                                            DEFLATE_LEVEL) != 0 ||
        zip_close(za) != 0) {
        zip_discard(za);
        zip_source_free(archive);
        return -1;
    }

    int rc = -1;
    unsigned char *chunk = malloc(ZIP_READ_CHUNK);
    if (chunk && zip_source_open(archive) == 0) {
        zip_int64_t got;
        while ((got = zip_source_read(archive, chunk, ZIP_READ_CHUNK)) > 0)
            if (emit(z, chunk, (size_t)got) != 0)
                break;
        rc = got == 0 && !z->failed ? 0 : -1;
        zip_source_close(archive);
    }
    free(chunk);
    zip_source_free(archive);
    return rc;
}

/* ---- the common interface ---- */

struct compressor *compressor_new(enum fh_compression c, const char *entry_name,
                                  compressor_sink sink, void *ctx)
{
    struct compressor *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->kind = c;
    z->sink = sink;
    z->ctx = ctx;

    int rc = 0;
    switch (c) {
    case FH_UNCOMPRESSED:
        break;
    case FH_GZIP:
        rc = gzip_init(z);
        break;
    case FH_ZIP:
        z->entry_name = entry_name ? strdup(entry_name) : NULL;
        rc = z->entry_name ? 0 : -1;
        break;
    case FH_SNAPPY:
    case FH_HADOOP_SNAPPY:
        rc = snappy_init(z);
        break;
    }
    if (rc != 0) {
        compressor_free(z);
        return NULL;
    }
    return z;
}

int compressor_write(struct compressor *z, const void *p, size_t n)
{
    if (z->failed)
        return -1;
    if (n == 0)
        return 0;
    switch (z->kind) {
    case FH_UNCOMPRESSED:
        return emit(z, p, n);
    case FH_GZIP:
        return gzip_write(z, p, n);
    case FH_ZIP:
        return zip_collect(z, p, n);
    case FH_SNAPPY:
    case FH_HADOOP_SNAPPY:
        return snappy_write(z, p, n);
    }
    return -1;
}

int compressor_finish(struct compressor *z)
{
    int rc = z->failed ? -1 : 0;

    if (rc == 0) {
        switch (z->kind) {
        case FH_UNCOMPRESSED:
            break;
        case FH_GZIP:
            z->zs.next_in = NULL;
            z->zs.avail_in = 0;
            rc = gzip_run(z, 1);
            break;
        case FH_ZIP:
            rc = zip_finish(z);
            break;
        case FH_SNAPPY:
        case FH_HADOOP_SNAPPY:
            rc = snappy_finish(z);
            break;
        }
    }
    compressor_free(z);
    return rc;
}

void compressor_free(struct compressor *z)
{
    if (!z)
        return;
    free(z->level_buf);
    free(z->out);
    free(z->in);
    free(z->entry_name);
    free(z);
}
