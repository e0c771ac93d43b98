/* Unit tests of the Firehose compressors. Every format compresses the same
 * inputs (empty, one byte, block boundaries, JSON-like records fed one by
 * one, random binary fed in random splits, each piece in its own exactly
 * sized heap buffer for ASan) and is decoded independently: gzip with zlib's
 * inflate and the gzip tool, ZIP with libzip and unzip, the two Snappy
 * framings by parsing them here, block sizes included, and snappy_uncompress.
 * A failing sink must fail the compressor for good, and an abandoned one
 * must leak nothing. Finally each format's throughput on 1 KiB JSON records
 * is printed, for the record (not checked: sanitizer builds are slow). */
#include "protocol/compress.h"

#include <snappy-c.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "tests/unit/check.h"

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        CHECK(b->p != NULL);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

struct sink_state {
    struct buf out;
    size_t calls;
    size_t fail_at; /* 1-based call that fails; 0 = never */
};

static int sink(void *ctx, const void *p, size_t n)
{
    struct sink_state *s = ctx;

    CHECK(n > 0); /* empty calls would only be noise */
    s->calls++;
    if (s->fail_at && s->calls >= s->fail_at)
        return -1;
    buf_put(&s->out, p, n);
    return 0;
}

/* A JSON-like record of about `size` bytes, as Firehose producers send. */
static size_t json_record(char *out, size_t size)
{
    static const char *events[] = {"click", "view", "purchase", "signup"};
    int n = snprintf(out, size,
                     "{\"ts\":%llu,\"user\":\"user-%06llu\",\"event\":\"%s\",\"value\":%llu,"
                     "\"ua\":\"Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0\",\"tags\":[",
                     1700000000000ULL + test_rand() % 100000000,
                     (unsigned long long)(test_rand() % 1000000), events[test_rand() % 4],
                     (unsigned long long)(test_rand() % 100000));
    while ((size_t)n < size - 24)
        n += snprintf(out + n, size - (size_t)n, "\"t%llu\",",
                      (unsigned long long)(test_rand() % 5000));
    n += snprintf(out + n, size - (size_t)n, "\"end\"]}\n");
    return (size_t)n;
}

/* Feeds input in pieces of the given sizes (cycled; 0 = random up to 100000,
 * and zero-length writes happen too), each copied to its own heap buffer. */
static struct buf compress_all(enum fh_compression c, const unsigned char *in, size_t len,
                               const size_t *pieces, size_t npieces)
{
    struct sink_state s = {0};
    struct compressor *z = compressor_new(c, "0f8c2c34-5d6e-4f70-8a9b-0c1d2e3f4a5b", sink, &s);
    CHECK(z != NULL);
    for (size_t pos = 0, i = 0; pos < len; i++) {
        size_t n = pieces[i % npieces];
        if (n == 0)
            n = test_rand() % 8 == 0 ? 0 : (size_t)(test_rand() % 100000);
        if (n > len - pos)
            n = len - pos;
        unsigned char *piece = malloc(n ? n : 1);
        CHECK(piece != NULL);
        memcpy(piece, in + pos, n);
        CHECK(compressor_write(z, piece, n) == 0);
        free(piece);
        pos += n;
    }
    CHECK(compressor_finish(z) == 0);
    return s.out;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- decoders ---- */

static void check_gzip(const struct buf *z, const unsigned char *in, size_t len)
{
    CHECK(z->len >= 18 && z->p[0] == 0x1f && z->p[1] == 0x8b);
    unsigned char *out = malloc(len + 1);
    CHECK(out != NULL);
    z_stream zs = {0};
    CHECK(inflateInit2(&zs, 15 + 16) == Z_OK);
    zs.next_in = z->p;
    zs.avail_in = (uInt)z->len;
    zs.next_out = out;
    zs.avail_out = (uInt)len + 1;
    CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
    CHECK(zs.total_out == len && zs.avail_in == 0); /* one member, nothing after */
    CHECK(len == 0 || memcmp(out, in, len) == 0);
    inflateEnd(&zs);
    free(out);
}

static void check_zip(const struct buf *z, const unsigned char *in, size_t len)
{
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(z->p, z->len, 0, &err);
    CHECK(src != NULL);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    CHECK(za != NULL);
    CHECK(zip_get_num_entries(za, 0) == 1);
    CHECK_STREQ(zip_get_name(za, 0, 0), "0f8c2c34-5d6e-4f70-8a9b-0c1d2e3f4a5b");
    zip_stat_t st;
    CHECK(zip_stat_index(za, 0, 0, &st) == 0);
    CHECK(st.size == len && st.comp_method == ZIP_CM_DEFLATE);
    unsigned char *out = malloc(len + 1);
    CHECK(out != NULL);
    zip_file_t *f = zip_fopen_index(za, 0, 0);
    CHECK(f != NULL);
    size_t got = 0;
    zip_int64_t n;
    while ((n = zip_fread(f, out + got, len + 1 - got)) > 0)
        got += (size_t)n;
    CHECK(n == 0 && got == len);
    CHECK(len == 0 || memcmp(out, in, len) == 0);
    zip_fclose(f);
    zip_discard(za); /* also frees src */
    zip_error_fini(&err);
    free(out);
}

/* Both Snappy framings: blocks of exactly 32 KiB of input but the last, each
 * an int32 BE compressed length and a raw snappy block, the Hadoop one
 * preceded by its int32 BE uncompressed length. */
static void check_snappy(const struct buf *z, int hadoop, const unsigned char *in, size_t len)
{
    static const unsigned char header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                             0,    0,   0,   1,   0,   0,   0,   1};
    size_t pos = 0, done = 0;

    if (!hadoop) {
        CHECK(z->len >= 16 && memcmp(z->p, header, 16) == 0);
        pos = 16;
    }
    unsigned char *block = malloc(32 * 1024);
    CHECK(block != NULL);
    while (pos < z->len) {
        size_t ulen = 0;
        if (hadoop) {
            CHECK(z->len - pos >= 4);
            ulen = be32(z->p + pos);
            pos += 4;
        }
        CHECK(z->len - pos >= 4);
        size_t clen = be32(z->p + pos);
        pos += 4;
        CHECK(clen <= z->len - pos);
        size_t n;
        CHECK(snappy_uncompressed_length((const char *)z->p + pos, clen, &n) == SNAPPY_OK);
        CHECK(n > 0 && n <= 32 * 1024);
        CHECK(n == 32 * 1024 || len - done == n); /* only the last block is short */
        CHECK(!hadoop || ulen == n);
        CHECK(snappy_uncompress((const char *)z->p + pos, clen, (char *)block, &n) == SNAPPY_OK);
        CHECK(n <= len - done && memcmp(block, in + done, n) == 0);
        done += n;
        pos += clen;
    }
    CHECK(done == len);
    free(block);
}

/* Writes z to a temporary file and runs a command on it ("%s" = the path),
 * returning its output; the tool's absence skips the check. */
static int run_tool(const char *tool, const char *fmt, const struct buf *z, struct buf *out)
{
    char probe[128];
    snprintf(probe, sizeof probe, "command -v %s >/dev/null 2>&1", tool);
    if (system(probe) != 0)
        return 0;
    char path[] = "/tmp/test_compress_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, z->p, z->len) == (ssize_t)z->len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, fmt, path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        buf_put(out, chunk, n);
    CHECK(pclose(p) == 0);
    unlink(path);
    return 1;
}

static void check_external(enum fh_compression c, const struct buf *z, const unsigned char *in,
                           size_t len)
{
    struct buf out = {0};

    if (c == FH_GZIP && run_tool("gzip", "gzip -dc %s", z, &out))
        CHECK(out.len == len && (len == 0 || memcmp(out.p, in, len) == 0));
    if (c == FH_ZIP && run_tool("unzip", "unzip -p %s", z, &out))
        CHECK(out.len == len && (len == 0 || memcmp(out.p, in, len) == 0));
    free(out.p);
}

static void check_decodes(enum fh_compression c, const struct buf *z, const unsigned char *in,
                          size_t len)
{
    switch (c) {
    case FH_UNCOMPRESSED:
        CHECK(z->len == len && (len == 0 || memcmp(z->p, in, len) == 0));
        break;
    case FH_GZIP:
        check_gzip(z, in, len);
        break;
    case FH_ZIP:
        check_zip(z, in, len);
        break;
    case FH_SNAPPY:
    case FH_HADOOP_SNAPPY:
        check_snappy(z, c == FH_HADOOP_SNAPPY, in, len);
        break;
    }
}

/* ---- tests ---- */

static const enum fh_compression all[] = {FH_UNCOMPRESSED, FH_GZIP, FH_ZIP, FH_SNAPPY,
                                          FH_HADOOP_SNAPPY};
#define NALL (sizeof all / sizeof all[0])

static void test_names(void)
{
    static const struct {
        const char *name, *ext, *enc;
    } want[] = {
        {"UNCOMPRESSED", "", NULL},
        {"GZIP", ".gz", "gzip"},
        {"ZIP", ".zip", "zip"},
        {"Snappy", ".snappy", "snappy-java"},
        {"HADOOP_SNAPPY", ".snappy", "hadoop-snappy"},
    };
    for (size_t i = 0; i < NALL; i++) {
        enum fh_compression c;
        CHECK(fh_compression_parse(want[i].name, &c) == 0 && c == all[i]);
        CHECK_STREQ(fh_compression_extension(c), want[i].ext);
        const char *enc = fh_compression_content_encoding(c);
        CHECK(want[i].enc ? enc && strcmp(enc, want[i].enc) == 0 : enc == NULL);
    }
    static const char *bad[] = {"SNAPPY", "snappy", "gzip", "Gzip", "zip", "", "GZIP ",
                                "Hadoop_Snappy", "NONE"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum fh_compression c = FH_GZIP;
        CHECK(fh_compression_parse(bad[i], &c) == -1 && c == FH_GZIP);
    }
}

static void round_trip(const unsigned char *in, size_t len, const size_t *pieces, size_t np)
{
    for (size_t i = 0; i < NALL; i++) {
        struct buf z = compress_all(all[i], in, len, pieces, np);
        check_decodes(all[i], &z, in, len);
        free(z.p);
    }
}

static void test_sizes(void)
{
    size_t max = 3 * 32 * 1024 + 1;
    unsigned char *in = malloc(max);
    CHECK(in != NULL);
    test_rand_bytes(in, max);
    static const size_t sizes[] = {0, 1, 100, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1,
                                   2 * 32 * 1024, 3 * 32 * 1024 + 1};
    static const size_t whole[] = {SIZE_MAX}, bytes[] = {1}, odd[] = {7, 32 * 1024 + 3, 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        round_trip(in, sizes[i], whole, 1);
        round_trip(in, sizes[i], odd, 3);
        if (sizes[i] <= 32 * 1024 + 1)
            round_trip(in, sizes[i], bytes, 1);
    }
    /* snappy-java writes its header even when there is nothing else;
     * Hadoop's framing of nothing is nothing */
    struct buf z = compress_all(FH_SNAPPY, in, 0, whole, 1);
    CHECK(z.len == 16);
    free(z.p);
    z = compress_all(FH_HADOOP_SNAPPY, in, 0, whole, 1);
    CHECK(z.len == 0);
    free(z.p);
    free(in);
}

static void test_records(void)
{
    size_t cap = 4 * 1024 * 1024, len = 0;
    unsigned char *in = malloc(cap + 2048);
    CHECK(in != NULL);
    while (len < cap)
        len += json_record((char *)in + len, 200 + (size_t)(test_rand() % 1800));

    /* JSON records one by one, as the delivery engine feeds them */
    for (size_t i = 0; i < NALL; i++) {
        struct sink_state s = {0};
        struct compressor *z = compressor_new(all[i], "0f8c2c34-5d6e-4f70-8a9b-0c1d2e3f4a5b",
                                              sink, &s);
        CHECK(z != NULL);
        for (size_t pos = 0; pos < len;) {
            size_t end = pos + 1;
            while (end < len && in[end - 1] != '\n')
                end++;
            CHECK(compressor_write(z, in + pos, end - pos) == 0);
            pos = end;
        }
        CHECK(compressor_finish(z) == 0);
        check_decodes(all[i], &s.out, in, len);
        check_external(all[i], &s.out, in, len);
        if (all[i] != FH_UNCOMPRESSED)
            CHECK(s.out.len < len / 2); /* it does compress */
        free(s.out.p);
    }
    /* random binary in random splits */
    test_rand_bytes(in, len);
    static const size_t random_pieces[] = {0};
    round_trip(in, len, random_pieces, 1);
    for (size_t i = 0; i < NALL; i++) {
        struct buf z = compress_all(all[i], in, 1000, random_pieces, 1);
        check_external(all[i], &z, in, 1000);
        free(z.p);
    }
    free(in);
}

static void test_sink_failure(void)
{
    size_t len = 1024 * 1024;
    unsigned char *in = malloc(len);
    CHECK(in != NULL);
    test_rand_bytes(in, len);
    for (size_t i = 0; i < NALL; i++) {
        for (size_t fail_at = 1; fail_at <= 3; fail_at++) {
            struct sink_state s = {.fail_at = fail_at};
            struct compressor *z = compressor_new(all[i], "e", sink, &s);
            CHECK(z != NULL);
            int rc = 0;
            for (size_t pos = 0; pos < len && rc == 0; pos += 4096)
                rc = compressor_write(z, in + pos, 4096);
            size_t calls = s.calls;
            if (rc != 0) {
                /* sticky: no more sink calls, every call fails */
                CHECK(compressor_write(z, in, 10) == -1);
                CHECK(s.calls == calls);
            }
            CHECK(compressor_finish(z) == -1);
            CHECK(s.calls == fail_at);
            free(s.out.p);
        }
    }
    free(in);
}

static void test_abandon(void)
{
    unsigned char in[50000];
    test_rand_bytes(in, sizeof in);
    for (size_t i = 0; i < NALL; i++) {
        struct sink_state s = {0};
        struct compressor *z = compressor_new(all[i], "e", sink, &s);
        CHECK(z != NULL);
        CHECK(compressor_write(z, in, sizeof in) == 0);
        compressor_free(z); /* LeakSanitizer checks the rest */
        free(s.out.p);
    }
    compressor_free(NULL);
    /* ZIP needs its entry name */
    struct sink_state s = {0};
    CHECK(compressor_new(FH_ZIP, NULL, sink, &s) == NULL);
}

static int count_sink(void *ctx, const void *p, size_t n)
{
    (void)p;
    *(size_t *)ctx += n;
    return 0;
}

static void report_throughput(void)
{
    size_t cap = 32 * 1024 * 1024, len = 0, nrec = 0;
    char *in = malloc(cap + 2048);
    size_t *ends = malloc(sizeof *ends * (cap / 900 + 2));
    CHECK(in != NULL && ends != NULL);
    while (len < cap) {
        len += json_record(in + len, 1024);
        ends[nrec++] = len;
    }
    printf("throughput on %zu JSON records of ~1 KiB (%.0f MiB), one write each:\n", nrec,
           (double)len / 1048576);
    for (size_t i = 1; i < NALL; i++) {
        size_t out = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct compressor *z = compressor_new(all[i], "e", count_sink, &out);
        CHECK(z != NULL);
        for (size_t r = 0, pos = 0; r < nrec; pos = ends[r++])
            CHECK(compressor_write(z, in + pos, ends[r] - pos) == 0);
        CHECK(compressor_finish(z) == 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        static const char *names[] = {"", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"};
        printf("  %-13s %7.1f MB/s, output %4.1f%% of input\n", names[all[i]],
               (double)len / s / 1e6, 100.0 * (double)out / (double)len);
    }
    free(ends);
    free(in);
}

int main(void)
{
    test_names();
    test_sizes();
    test_records();
    test_sink_failure();
    test_abandon();
    report_throughput();
    puts("compress: ok");
    return 0;
}
