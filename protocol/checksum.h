/* The checksums S3 clients send and ask for (protocols.md §3.2): CRC32,
 * CRC32C, CRC64NVME, SHA1, SHA256 and MD5 (Content-MD5, ETags), computed
 * incrementally while a body streams through. Digests are big-endian bytes;
 * on the wire they are base64 (x-amz-checksum-*, Content-MD5) or hex (ETag). */
#ifndef TP_CHECKSUM_H
#define TP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

enum checksum_alg { CK_CRC32, CK_CRC32C, CK_CRC64NVME, CK_SHA1, CK_SHA256, CK_MD5, CK_COUNT };

#define CHECKSUM_MAX_DIGEST 32
#define CHECKSUM_MAX_B64 45 /* base64 of 32 bytes + NUL */

struct checksum {
    enum checksum_alg alg;
    uint64_t crc;   /* CRC state */
    void *hash;     /* GnuTLS hash handle for SHA1/SHA256/MD5 */
};

/* 0, or -1 when the hash cannot be set up. */
int checksum_init(struct checksum *c, enum checksum_alg alg);
void checksum_update(struct checksum *c, const void *data, size_t n);
/* Writes the digest (4, 8, 20, 32 or 16 bytes) and releases c; returns its length. */
size_t checksum_final(struct checksum *c, unsigned char out[CHECKSUM_MAX_DIGEST]);

/* An S3 ETag: an MD5 digest as quoted lower-case hex ("<32 hex digits>"). */
#define CHECKSUM_ETAG_LEN 34
void checksum_etag(const unsigned char md5[16], char out[CHECKSUM_ETAG_LEN + 1]);
/* Releases c without a digest (an aborted upload). */
void checksum_abort(struct checksum *c);

size_t checksum_digest_len(enum checksum_alg alg);
/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "MD5" */
const char *checksum_name(enum checksum_alg alg);
/* "x-amz-checksum-crc32", … (NULL for MD5: it travels as Content-MD5) */
const char *checksum_header(enum checksum_alg alg);
/* By name, case-insensitive, as in x-amz-sdk-checksum-algorithm; -1 when unknown. */
int checksum_from_name(const char *name, enum checksum_alg *out);
/* By header name (x-amz-checksum-crc32 …, case-insensitive); -1 when not one. */
int checksum_from_header(const char *header, enum checksum_alg *out);

/* The whole-buffer digest, for tests and small bodies. */
size_t checksum_of(enum checksum_alg alg, const void *data, size_t n, unsigned char out[CHECKSUM_MAX_DIGEST]);

/* Multipart: S3's composite checksum of a completed upload is the checksum of
 * the concatenated part digests, written "<base64>-<parts>"; for CRC64NVME (and
 * the CRC32/CRC32C full-object type) it is the CRC of the whole object, which
 * checksum_crc_combine derives from the parts' CRCs and lengths. */
uint64_t checksum_crc_combine(enum checksum_alg alg, uint64_t crc1, uint64_t crc2, uint64_t len2);

#endif
