/* Shard iterator tokens. Clients hand them back verbatim, so instead of keeping
 * server-side state the token carries its own position (stream, shard, next
 * sequence index) and a truncated HMAC-SHA256 that makes forged or altered
 * tokens fail. Wire format, before base64 (standard alphabet):
 *   version (1) = 1 | created_ms (8, BE) | stream_created_ms (8, BE) |
 *   shard_ix (4, BE) | seq_ix (8, BE) | name length (1) | name | MAC (16)
 * where MAC is the first 16 bytes of HMAC-SHA256(key, everything before it).
 * Tokens arrive from the network, so decoding bounds every read by the input
 * length and by the largest valid token before trusting any field. */
#include "protocol/iterator.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "protocol/base64.h"

#define VERSION 1
#define HEADER_LEN (1 + 8 + 8 + 4 + 8 + 1)
#define NAME_MAX_LEN 128
#define MAC_LEN 16
#define RAW_MAX (HEADER_LEN + NAME_MAX_LEN + MAC_LEN)
/* Longest valid token: base64 of RAW_MAX bytes (174 -> 232 chars). */
#define TOKEN_MAX ((RAW_MAX + 2) / 3 * 4)

_Static_assert(TOKEN_MAX <= ITERATOR_MAX_LEN, "token must fit the caller's buffer");
_Static_assert(sizeof(((struct shard_iterator *)0)->stream_name) == NAME_MAX_LEN + 1,
               "stream_name holds the longest name and its NUL");

static unsigned char *put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
    return p + bytes;
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Stream names as AWS allows them: [a-zA-Z0-9_.-]. */
static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static int compute_mac(const unsigned char key[ITERATOR_KEY_LEN], const unsigned char *data,
                       size_t len, unsigned char mac[MAC_LEN])
{
    unsigned char full[32];

    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, ITERATOR_KEY_LEN, data, len, full) < 0)
        return -1;
    memcpy(mac, full, MAC_LEN);
    return 0;
}

/* Returns 0 (and an empty string) only if GnuTLS cannot compute the MAC; the
 * name is assumed valid (the caller has checked it) and cut at 128 chars. */
size_t iterator_encode(const struct shard_iterator *it, const unsigned char key[ITERATOR_KEY_LEN],
                       char *out)
{
    unsigned char raw[RAW_MAX];
    size_t name_len = strnlen(it->stream_name, NAME_MAX_LEN);
    unsigned char *p = raw;

    *p++ = VERSION;
    p = put_be(p, it->created_ms, 8);
    p = put_be(p, it->stream_created_ms, 8);
    p = put_be(p, it->shard_ix, 4);
    p = put_be(p, it->seq_ix, 8);
    *p++ = (unsigned char)name_len;
    memcpy(p, it->stream_name, name_len);
    p += name_len;
    if (compute_mac(key, raw, (size_t)(p - raw), p) < 0) {
        out[0] = '\0';
        return 0;
    }
    p += MAC_LEN;

    size_t n = base64_encode(raw, (size_t)(p - raw), out);
    out[n] = '\0';
    return n;
}

int iterator_decode(const char *tok, size_t len, const unsigned char key[ITERATOR_KEY_LEN],
                    struct shard_iterator *out)
{
    unsigned char raw[RAW_MAX];
    size_t raw_len;

    /* The length check comes first: it is what makes raw[] big enough. */
    if (len > TOKEN_MAX || base64_decode(tok, len, raw, &raw_len, NULL) != BASE64_OK)
        return -1;
    if (raw_len < HEADER_LEN + 1 + MAC_LEN || raw[0] != VERSION)
        return -1;
    /* The length equation alone already caps name_len (raw_len <= RAW_MAX);
     * the explicit bound keeps stream_name[] safe without relying on that. */
    size_t name_len = raw[HEADER_LEN - 1];
    if (name_len > NAME_MAX_LEN || raw_len != HEADER_LEN + name_len + MAC_LEN)
        return -1;

    size_t signed_len = HEADER_LEN + name_len;
    unsigned char mac[MAC_LEN];
    /* Constant-time comparison, so response timing does not reveal how many
     * leading MAC bytes of a forgery were right. */
    if (compute_mac(key, raw, signed_len, mac) < 0 ||
        gnutls_memcmp(mac, raw + signed_len, MAC_LEN) != 0)
        return -1;

    const unsigned char *name = raw + HEADER_LEN;
    for (size_t i = 0; i < name_len; i++)
        if (!is_name_char(name[i]))
            return -1;

    out->created_ms = get_be(raw + 1, 8);
    out->stream_created_ms = get_be(raw + 9, 8);
    out->shard_ix = (uint32_t)get_be(raw + 17, 4);
    out->seq_ix = get_be(raw + 21, 8);
    memcpy(out->stream_name, name, name_len);
    out->stream_name[name_len] = '\0';
    return 0;
}

int iterator_expired(const struct shard_iterator *it, uint64_t now_ms)
{
    return now_ms > it->created_ms + ITERATOR_TTL_MS;
}
