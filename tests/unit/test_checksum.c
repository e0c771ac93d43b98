/* Unit tests of the S3 checksums: the catalogue check values of each CRC,
 * FIPS/RFC vectors of the hashes, incremental updates in random splits
 * against the one-shot digest, CRC combination against the CRC of the
 * concatenation, the name and header tables, and S3's base64 form.
 * A bitwise reference CRC checks the slicing-by-8 tables on random data. */
#include "protocol/base64.h"
#include "protocol/checksum.h"

#include "tests/unit/check.h"

static uint64_t digest_u64(const unsigned char *d, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | d[i];
    return v;
}

static uint64_t crc_of(enum checksum_alg alg, const void *data, size_t n)
{
    unsigned char d[CHECKSUM_MAX_DIGEST];
    size_t len = checksum_of(alg, data, n, d);
    CHECK(len == checksum_digest_len(alg));
    return digest_u64(d, len);
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    out[2 * n] = '\0';
}

/* Bit by bit, straight from the definition: reflected, init = xorout = ~0. */
static uint64_t crc_reference(uint64_t poly, uint64_t mask, const unsigned char *p, size_t n)
{
    uint64_t c = mask;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = c & 1 ? (c >> 1) ^ poly : c >> 1;
    }
    return c ^ mask;
}

static void test_check_values(void)
{
    static const char check[] = "123456789";

    CHECK(crc_of(CK_CRC32, check, 9) == 0xCBF43926u);
    CHECK(crc_of(CK_CRC32C, check, 9) == 0xE3069283u);
    CHECK(crc_of(CK_CRC64NVME, check, 9) == 0xAE8B14860A799888ull);
    /* empty input: init XOR xorout */
    CHECK(crc_of(CK_CRC32, "", 0) == 0);
    CHECK(crc_of(CK_CRC32C, "", 0) == 0);
    CHECK(crc_of(CK_CRC64NVME, "", 0) == 0);
}

static void test_crc_tables(void)
{
    /* lengths around the 8-byte step, and odd alignments */
    unsigned char buf[300];
    test_rand_bytes(buf, sizeof buf);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 8) {
            CHECK(crc_of(CK_CRC32, buf + off, n) ==
                  crc_reference(0xEDB88320u, 0xFFFFFFFFu, buf + off, n));
            CHECK(crc_of(CK_CRC32C, buf + off, n) ==
                  crc_reference(0x82F63B78u, 0xFFFFFFFFu, buf + off, n));
            CHECK(crc_of(CK_CRC64NVME, buf + off, n) ==
                  crc_reference(0x9A6C9329AC4BC9B5ull, ~0ull, buf + off, n));
        }
}

static void check_hash(enum checksum_alg alg, const char *in, const char *want)
{
    unsigned char d[CHECKSUM_MAX_DIGEST];
    char h[2 * CHECKSUM_MAX_DIGEST + 1];
    size_t len = checksum_of(alg, in, strlen(in), d);
    CHECK(len == checksum_digest_len(alg));
    hex(d, len, h);
    CHECK_STREQ(h, want);
}

static void test_hash_vectors(void)
{
    check_hash(CK_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_hash(CK_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_hash(CK_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hash(CK_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_hash(CK_MD5, "", "d41d8cd98f00b204e9800998ecf8427e");
    check_hash(CK_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72");
}

static void test_digest_lengths(void)
{
    static const size_t want[CK_COUNT] = {4, 4, 8, 20, 32, 16};
    for (int a = 0; a < CK_COUNT; a++)
        CHECK(checksum_digest_len((enum checksum_alg)a) == want[a]);
}

/* The same random buffer fed in random pieces (including empty ones) gives
 * the one-shot digest, for every algorithm. */
static void test_incremental(void)
{
    size_t n = 70000;
    unsigned char *buf = malloc(n);
    CHECK(buf != NULL);
    test_rand_bytes(buf, n);

    for (int a = 0; a < CK_COUNT; a++) {
        unsigned char one[CHECKSUM_MAX_DIGEST];
        size_t len = checksum_of((enum checksum_alg)a, buf, n, one);
        for (int round = 0; round < 20; round++) {
            struct checksum c;
            unsigned char inc[CHECKSUM_MAX_DIGEST];
            CHECK(checksum_init(&c, (enum checksum_alg)a) == 0);
            size_t pos = 0;
            while (pos < n) {
                /* mostly small pieces, now and then a large one */
                size_t k = test_rand() % 8 == 0 ? test_rand() % 20000 : test_rand() % 23;
                if (k > n - pos)
                    k = n - pos;
                checksum_update(&c, buf + pos, k);
                pos += k;
            }
            CHECK(checksum_final(&c, inc) == len);
            CHECK(memcmp(inc, one, len) == 0);
        }
    }
    free(buf);
}

static void test_abort(void)
{
    for (int a = 0; a < CK_COUNT; a++) {
        struct checksum c;
        CHECK(checksum_init(&c, (enum checksum_alg)a) == 0);
        checksum_update(&c, "abc", 3);
        checksum_abort(&c); /* under ASan, a leaked hash handle fails the run */
    }
}

static void test_combine(void)
{
    static const enum checksum_alg crcs[] = {CK_CRC32, CK_CRC32C, CK_CRC64NVME};
    static const size_t lens[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 100, 255, 256, 1000, 4096, 65537};
    size_t nl = sizeof lens / sizeof lens[0];
    unsigned char *buf = malloc(2 * 65537);
    CHECK(buf != NULL);

    for (size_t k = 0; k < 3; k++) {
        enum checksum_alg alg = crcs[k];
        for (size_t i = 0; i < nl; i++)
            for (size_t j = 0; j < nl; j++) {
                size_t la = lens[i], lb = lens[j];
                test_rand_bytes(buf, la + lb);
                uint64_t ca = crc_of(alg, buf, la), cb = crc_of(alg, buf + la, lb);
                CHECK(checksum_crc_combine(alg, ca, cb, lb) == crc_of(alg, buf, la + lb));
            }
        /* a chain of parts, as in a multipart upload */
        for (int round = 0; round < 20; round++) {
            size_t total = test_rand() % (2 * 65537);
            test_rand_bytes(buf, total);
            uint64_t acc = crc_of(alg, buf, 0);
            size_t pos = 0;
            while (pos < total) {
                size_t part = 1 + test_rand() % 9000;
                if (part > total - pos)
                    part = total - pos;
                acc = checksum_crc_combine(alg, acc, crc_of(alg, buf + pos, part), part);
                pos += part;
            }
            CHECK(acc == crc_of(alg, buf, total));
        }
        /* Shifting by L1 then L2 is shifting by L1 + L2 (crc2 = 0 makes
         * combine a pure shift). For CRC32 a total past z_off_t takes the
         * generic path while its halves take zlib's: the two must agree. */
        uint64_t x = crc_of(alg, "tidepool", 8);
        uint64_t half = (uint64_t)1 << 62;
        CHECK(checksum_crc_combine(alg, checksum_crc_combine(alg, x, 0, half), 0, half) ==
              checksum_crc_combine(alg, x, 0, 2 * half));
        CHECK(checksum_crc_combine(alg, checksum_crc_combine(alg, x, 0, ~0ull - 5), 0, 5) ==
              checksum_crc_combine(alg, x, 0, ~0ull));
    }
    uint64_t a = crc_of(CK_CRC32, "hello", 5), b = crc_of(CK_CRC32, " world", 6);
    CHECK(checksum_crc_combine(CK_CRC32, a, b, 6) == crc_of(CK_CRC32, "hello world", 11));
    /* not a CRC */
    CHECK(checksum_crc_combine(CK_SHA256, 1, 2, 3) == 0);
    free(buf);
}

static void test_names(void)
{
    static const char *names[CK_COUNT] = {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "MD5"};
    static const char *headers[CK_COUNT] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                                            "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1",
                                            "x-amz-checksum-sha256", NULL};
    enum checksum_alg got;

    for (int a = 0; a < CK_COUNT; a++) {
        CHECK_STREQ(checksum_name((enum checksum_alg)a), names[a]);
        got = CK_COUNT;
        CHECK(checksum_from_name(names[a], &got) == 0 && got == (enum checksum_alg)a);
        if (headers[a]) {
            CHECK_STREQ(checksum_header((enum checksum_alg)a), headers[a]);
            got = CK_COUNT;
            CHECK(checksum_from_header(headers[a], &got) == 0 && got == (enum checksum_alg)a);
        } else {
            CHECK(checksum_header((enum checksum_alg)a) == NULL);
        }
    }
    CHECK(checksum_from_name("crc32c", &got) == 0 && got == CK_CRC32C);
    CHECK(checksum_from_name("Sha256", &got) == 0 && got == CK_SHA256);
    CHECK(checksum_from_name("crc64nvme", &got) == 0 && got == CK_CRC64NVME);
    CHECK(checksum_from_header("X-Amz-Checksum-CRC32", &got) == 0 && got == CK_CRC32);
    CHECK(checksum_from_header("x-amz-checksum-crc32c", &got) == 0 && got == CK_CRC32C);

    CHECK(checksum_from_name("", &got) == -1);
    CHECK(checksum_from_name("CRC", &got) == -1);
    CHECK(checksum_from_name("CRC32 ", &got) == -1);
    CHECK(checksum_from_name("SHA512", &got) == -1);
    CHECK(checksum_from_name("XXHASH64", &got) == -1);
    CHECK(checksum_from_header("content-md5", &got) == -1);
    CHECK(checksum_from_header("x-amz-checksum-md5", &got) == -1);
    CHECK(checksum_from_header("x-amz-checksum-type", &got) == -1);
    CHECK(checksum_from_header("x-amz-checksum-mode", &got) == -1);
    CHECK(checksum_from_header("x-amz-checksum-", &got) == -1);
    CHECK(checksum_from_header("CRC32", &got) == -1);
}

static void test_s3_base64(void)
{
    unsigned char d[CHECKSUM_MAX_DIGEST];
    char b64[CHECKSUM_MAX_B64];
    size_t len = checksum_of(CK_CRC32, "hello world", 11, d);
    CHECK(len == 4);
    b64[base64_encode(d, len, b64)] = '\0';
    CHECK_STREQ(b64, "DUoRhQ==");

    /* the longest digest fits CHECKSUM_MAX_B64 with its NUL */
    len = checksum_of(CK_SHA256, "abc", 3, d);
    CHECK(base64_encoded_len(len) + 1 == CHECKSUM_MAX_B64);
    b64[base64_encode(d, len, b64)] = '\0';
    CHECK_STREQ(b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

int main(void)
{
    test_check_values();
    test_crc_tables();
    test_hash_vectors();
    test_digest_lengths();
    test_incremental();
    test_abort();
    test_combine();
    test_names();
    test_s3_base64();
    puts("test_checksum: ok");
    return 0;
}
