/* Standard base64 (RFC 4648 section 4, '=' padding) for record data and shard
 * iterators. Kinesis rejects non-canonical input, so the decoder is strict: it
 * tells apart a bad length, a bad character and a last character carrying
 * stray low bits, because AWS words each of those errors differently.
 * Both directions are table-driven and work a whole quantum (3 bytes / 4 chars)
 * per step, since every PutRecord(s) and GetRecords payload goes through here. */
#include "protocol/base64.h"

#include <stdint.h>

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Sextet value of each byte, or XX when the byte is not in the alphabet. '='
 * is XX too: the main loop must not accept it, and the final quantum, the only
 * place padding may appear, strips it before looking characters up. */
#define INVALID 0xff
#define XX INVALID
static const uint8_t dec_table[256] = {
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, 62, XX, XX, XX, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, XX, XX, XX, XX, XX, XX,
    XX,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, XX, XX, XX, XX, XX,
    XX, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
};
#undef XX

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;

    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = enc_table[v >> 18];
        o[1] = enc_table[(v >> 12) & 0x3f];
        o[2] = enc_table[(v >> 6) & 0x3f];
        o[3] = enc_table[v & 0x3f];
        o += 4;
    }
    if (n - i == 1) {
        o[0] = enc_table[in[i] >> 2];
        o[1] = enc_table[(in[i] & 0x03) << 4];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        o[0] = enc_table[v >> 10];
        o[1] = enc_table[(v >> 4) & 0x3f];
        o[2] = enc_table[(v << 2) & 0x3f];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

size_t base64_decoded_max(size_t n)
{
    return n / 4 * 3;
}

/* Slow path, taken once a quantum is known to hold a byte outside the
 * alphabet: reports the first such byte of in[0..n). */
static void report_bad(const char *in, size_t n, char *bad)
{
    if (!bad)
        return;
    for (size_t i = 0; i < n; i++) {
        if (dec_table[(unsigned char)in[i]] == INVALID) {
            *bad = in[i];
            return;
        }
    }
}

enum base64_status base64_decode(const char *in, size_t n, unsigned char *out,
                                 size_t *outlen, char *bad)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *o = out;

    *outlen = 0;
    if (n % 4 != 0)
        return BASE64_ELENGTH;
    if (n == 0)
        return BASE64_OK;

    /* Every quantum but the last is plain data. OR-ing the four sextets lets a
     * single branch catch any invalid byte (INVALID has the high bit set). */
    size_t body = n - 4;
    for (size_t i = 0; i < body; i += 4) {
        uint32_t a = dec_table[s[i]], b = dec_table[s[i + 1]];
        uint32_t c = dec_table[s[i + 2]], d = dec_table[s[i + 3]];
        if ((a | b | c | d) & 0x80) {
            report_bad(in + i, 4, bad);
            return BASE64_ECHAR;
        }
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
    }

    /* Last quantum: "xx==", "xxx=" or "xxxx". Only its trailing one or two '='
     * are stripped, so a third '=' ("x===") or an '=' followed by data ("x=x=")
     * is left among the data characters and reported as a bad character. */
    s += body;
    size_t nchars = 4;
    if (s[3] == '=')
        nchars = s[2] == '=' ? 2 : 3;
    uint32_t v = 0;
    for (size_t i = 0; i < nchars; i++) {
        uint32_t x = dec_table[s[i]];
        if (x == INVALID) {
            if (bad)
                *bad = (char)s[i];
            return BASE64_ECHAR;
        }
        v |= x << (18 - 6 * i);
    }
    /* k characters carry 6k bits but only 8(k-1) of them are data; the rest
     * must be zero, or re-encoding the bytes would give different text. */
    size_t nbytes = nchars - 1;
    if (v & (0xffffffu >> (8 * nbytes)))
        return BASE64_ELASTCHAR;
    for (size_t i = 0; i < nbytes; i++)
        o[i] = (unsigned char)(v >> (16 - 8 * i));
    o += nbytes;

    *outlen = (size_t)(o - out);
    return BASE64_OK;
}
