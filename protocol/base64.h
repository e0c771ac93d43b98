/* Standard base64 (RFC 4648, with padding), strict the way Kinesis is: the
 * decoder reports the same three faults that AWS names in its errors. */
#ifndef TP_BASE64_H
#define TP_BASE64_H

#include <stddef.h>

enum base64_status {
    BASE64_OK = 0,
    BASE64_ELENGTH,   /* length not a multiple of 4 */
    BASE64_ECHAR,     /* a character outside [A-Za-z0-9+/=], or '=' before the end */
    BASE64_ELASTCHAR  /* non-zero bits in the last character before padding */
};

/* Bytes needed for the encoding of n bytes, without a NUL. */
size_t base64_encoded_len(size_t n);
/* Writes base64_encoded_len(n) chars to out (no NUL). Returns that length. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);
/* Upper bound of the decoded size of n chars. */
size_t base64_decoded_max(size_t n);
/* Decodes into out (at least base64_decoded_max(n) bytes); *outlen gets the size.
 * On BASE64_ECHAR, *bad gets the offending character (bad may be NULL). */
enum base64_status base64_decode(const char *in, size_t n, unsigned char *out,
                                 size_t *outlen, char *bad);

#endif
