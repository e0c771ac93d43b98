/* See gunzip.h. zlib with windowBits 16+MAX_WBITS reads the gzip framing;
 * the output grows by doubling and never passes the caller's cap, so a small
 * hostile body cannot inflate into gigabytes. */
#include "protocol/gunzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

unsigned char *gunzip(const unsigned char *data, size_t len, size_t max, size_t *outlen)
{
    z_stream z;
    size_t cap = len * 4 + 64 < max ? len * 4 + 64 : max, used = 0;
    unsigned char *out = malloc(cap + 1);
    int rc = Z_OK;

    memset(&z, 0, sizeof z);
    if (!out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    while (rc != Z_STREAM_END || z.avail_in) {
        if (rc == Z_STREAM_END && inflateReset(&z) != Z_OK) /* the next member */
            break;
        if (used == cap) {
            size_t want = cap * 2 > max ? max : cap * 2;
            unsigned char *grown = want > cap ? realloc(out, want + 1) : NULL;
            if (!grown)
                break;
            out = grown;
            cap = want;
        }
        z.next_out = out + used;
        z.avail_out = (uInt)(cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END)
            break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.avail_in) {
        free(out);
        return NULL;
    }
    out[used] = 0;
    *outlen = used;
    return out;
}
