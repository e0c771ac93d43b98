/* S3 checksums; see checksum.h. CRC32 comes from zlib. CRC32C and CRC64NVME
 * have no library on a stock Debian machine, so they are table-driven here
 * with slicing-by-8 (eight bytes per step through eight 256-entry tables): S3
 * bodies run to gigabytes and a byte-at-a-time loop would be the bottleneck
 * of every upload. Both are reflected CRCs with init and xorout all ones, so
 * one routine serves both widths. SHA1, SHA256 and MD5 use GnuTLS, already a
 * dependency. checksum_crc_combine works on finished CRC values the way
 * zlib's crc32_combine does, with the GF(2) matrix method made generic over
 * the polynomial and width. */
#include "protocol/checksum.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- table-driven reflected CRCs ---- */

struct crc_def {
    uint64_t poly;  /* reflected polynomial */
    uint64_t mask;  /* all ones over the width: init and xorout */
    unsigned width; /* bits */
};

static const struct crc_def crc32c_def = {0x82F63B78u, 0xFFFFFFFFu, 32};
static const struct crc_def crc64nvme_def = {0x9A6C9329AC4BC9B5ull, ~0ull, 64};
/* Only for combining lengths that do not fit zlib's z_off_t. */
static const struct crc_def crc32_def = {0xEDB88320u, 0xFFFFFFFFu, 32};

static uint64_t crc32c_table[8][256];
static uint64_t crc64nvme_table[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* t[0] is the classic byte table; t[k][b] is the CRC state after byte b
 * followed by k zero bytes, which lets one step fold eight bytes at once. */
static void build_table(const struct crc_def *d, uint64_t t[8][256])
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = c & 1 ? (c >> 1) ^ d->poly : c >> 1;
        t[0][b] = c;
    }
    for (unsigned b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
}

static void build_tables(void)
{
    build_table(&crc32c_def, crc32c_table);
    build_table(&crc64nvme_def, crc64nvme_table);
}

/* Little-endian load; gcc turns it into one move on x86. */
static uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* Advances the raw (not yet complemented) state c over n bytes. The state
 * occupies the low `width` bits; XORing it into the first bytes of the block
 * works for 32 bits as for 64 because the CRC is reflected. */
static uint64_t crc_update(const uint64_t t[8][256], uint64_t c, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint64_t v = load_le64(p) ^ c;
        c = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
            t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
            t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    return c;
}

/* ---- combining: the GF(2) matrix method ---- */

/* A matrix is `width` columns; column i is the image of bit i. */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1)
            sum ^= *mat;
    return sum;
}

static void gf2_square(uint64_t *sq, const uint64_t *mat, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        sq[i] = gf2_times(mat, mat[i]);
}

/* For a CRC with init == xorout, crc(A||B) is crc(A) advanced over len(B)
 * zero bytes without init or xorout, XOR crc(B): the all-ones terms cancel.
 * Advancing over zeros is a linear map; it is applied by squaring the
 * one-zero-bit operator up to the powers of two that make up 8 * len2. */
static uint64_t crc_combine_gf2(const struct crc_def *d, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
    uint64_t even[64], odd[64];

    /* Bits past the width would index columns that are not set up. */
    crc1 &= d->mask;
    crc2 &= d->mask;
    if (len2 == 0)
        return crc1;
    /* odd: the operator for one zero bit */
    odd[0] = d->poly;
    for (unsigned i = 1; i < d->width; i++)
        odd[i] = (uint64_t)1 << (i - 1);
    gf2_square(even, odd, d->width); /* two zero bits */
    gf2_square(odd, even, d->width); /* four zero bits */
    /* The first square in the loop gives one zero byte; each further one
     * doubles it, alternating between the two buffers. */
    for (;;) {
        gf2_square(even, odd, d->width);
        if (len2 & 1)
            crc1 = gf2_times(even, crc1);
        len2 >>= 1;
        if (!len2)
            break;
        gf2_square(odd, even, d->width);
        if (len2 & 1)
            crc1 = gf2_times(odd, crc1);
        len2 >>= 1;
        if (!len2)
            break;
    }
    return (crc1 ^ crc2) & d->mask;
}

uint64_t checksum_crc_combine(enum checksum_alg alg, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
    switch (alg) {
    case CK_CRC32:
        /* z_off_t is a signed long here; a length past it (not a real S3
         * object, but nothing forbids the call) takes the generic path. */
        if (len2 <= (uint64_t)(((uint64_t)1 << (sizeof(z_off_t) * 8 - 1)) - 1))
            return crc32_combine((uLong)crc1, (uLong)crc2, (z_off_t)len2) & 0xFFFFFFFFu;
        return crc_combine_gf2(&crc32_def, crc1, crc2, len2);
    case CK_CRC32C:
        return crc_combine_gf2(&crc32c_def, crc1, crc2, len2);
    case CK_CRC64NVME:
        return crc_combine_gf2(&crc64nvme_def, crc1, crc2, len2);
    default:
        return 0; /* not a CRC */
    }
}

/* ---- the streaming interface ---- */

static const struct {
    const char *name, *header;
    size_t len;
    gnutls_digest_algorithm_t dig; /* GNUTLS_DIG_UNKNOWN for the CRCs */
} algs[CK_COUNT] = {
    [CK_CRC32] = {"CRC32", "x-amz-checksum-crc32", 4, GNUTLS_DIG_UNKNOWN},
    [CK_CRC32C] = {"CRC32C", "x-amz-checksum-crc32c", 4, GNUTLS_DIG_UNKNOWN},
    [CK_CRC64NVME] = {"CRC64NVME", "x-amz-checksum-crc64nvme", 8, GNUTLS_DIG_UNKNOWN},
    [CK_SHA1] = {"SHA1", "x-amz-checksum-sha1", 20, GNUTLS_DIG_SHA1},
    [CK_SHA256] = {"SHA256", "x-amz-checksum-sha256", 32, GNUTLS_DIG_SHA256},
    [CK_MD5] = {"MD5", NULL, 16, GNUTLS_DIG_MD5},
};

int checksum_init(struct checksum *c, enum checksum_alg alg)
{
    memset(c, 0, sizeof *c);
    if ((unsigned)alg >= CK_COUNT)
        return -1;
    c->alg = alg;
    switch (alg) {
    case CK_CRC32:
        c->crc = crc32_z(0, Z_NULL, 0);
        return 0;
    case CK_CRC32C:
    case CK_CRC64NVME:
        pthread_once(&tables_once, build_tables);
        c->crc = alg == CK_CRC32C ? crc32c_def.mask : crc64nvme_def.mask;
        return 0;
    default: {
        gnutls_hash_hd_t h;
        if (gnutls_hash_init(&h, algs[alg].dig) < 0)
            return -1;
        c->hash = h;
        return 0;
    }
    }
}

void checksum_update(struct checksum *c, const void *data, size_t n)
{
    if (n == 0)
        return;
    switch (c->alg) {
    case CK_CRC32:
        c->crc = crc32_z((uLong)c->crc, data, n);
        break;
    case CK_CRC32C:
        c->crc = crc_update((const uint64_t(*)[256])crc32c_table, c->crc, data, n);
        break;
    case CK_CRC64NVME:
        c->crc = crc_update((const uint64_t(*)[256])crc64nvme_table, c->crc, data, n);
        break;
    default:
        /* Fails only on a broken handle, which checksum_init never returns. */
        (void)gnutls_hash(c->hash, data, n);
        break;
    }
}

size_t checksum_final(struct checksum *c, unsigned char out[CHECKSUM_MAX_DIGEST])
{
    size_t len = algs[c->alg].len;
    uint64_t v;

    switch (c->alg) {
    case CK_CRC32:
        v = c->crc;
        break;
    case CK_CRC32C:
        v = c->crc ^ crc32c_def.mask;
        break;
    case CK_CRC64NVME:
        v = c->crc ^ crc64nvme_def.mask;
        break;
    default:
        gnutls_hash_deinit(c->hash, out);
        c->hash = NULL;
        return len;
    }
    /* big-endian, as S3 base64-encodes it */
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(v >> (8 * (len - 1 - i)));
    c->crc = 0;
    return len;
}

void checksum_abort(struct checksum *c)
{
    if (c->hash) {
        gnutls_hash_deinit(c->hash, NULL);
        c->hash = NULL;
    }
}

size_t checksum_digest_len(enum checksum_alg alg)
{
    return (unsigned)alg < CK_COUNT ? algs[alg].len : 0;
}

const char *checksum_name(enum checksum_alg alg)
{
    return (unsigned)alg < CK_COUNT ? algs[alg].name : NULL;
}

const char *checksum_header(enum checksum_alg alg)
{
    return (unsigned)alg < CK_COUNT ? algs[alg].header : NULL;
}

int checksum_from_name(const char *name, enum checksum_alg *out)
{
    for (int i = 0; i < CK_COUNT; i++)
        if (strcasecmp(name, algs[i].name) == 0) {
            *out = (enum checksum_alg)i;
            return 0;
        }
    return -1;
}

int checksum_from_header(const char *header, enum checksum_alg *out)
{
    for (int i = 0; i < CK_COUNT; i++)
        if (algs[i].header && strcasecmp(header, algs[i].header) == 0) {
            *out = (enum checksum_alg)i;
            return 0;
        }
    return -1;
}

size_t checksum_of(enum checksum_alg alg, const void *data, size_t n,
                   unsigned char out[CHECKSUM_MAX_DIGEST])
{
    struct checksum c;

    if (checksum_init(&c, alg) < 0)
        return 0;
    checksum_update(&c, data, n);
    return checksum_final(&c, out);
}

void checksum_etag(const unsigned char md5[16], char out[CHECKSUM_ETAG_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '"';
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = digits[md5[i] >> 4];
        out[2 + 2 * i] = digits[md5[i] & 15];
    }
    out[33] = '"';
    out[34] = 0;
}
