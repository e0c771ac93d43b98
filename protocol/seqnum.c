/* Kinesis sequence numbers: the 47-hex-digit (188-bit) layout described in
 * seqnum.h, printed in decimal. SDKs and tools treat them as opaque decimal
 * strings but compare them numerically, so the layout must keep the order of
 * seq_ix within a shard; copying AWS's (via kinesalite) also makes them look
 * familiar. Both directions go through a fixed 192-bit bignum in 32-bit limbs,
 * placing and reading fields at their bit offsets instead of via hex text. */
#include "protocol/seqnum.h"

#include <string.h>

#define LIMBS 6 /* 192 bits, enough for the 188-bit layout */
#define DEC_MAX_DIGITS 60 /* longer input cannot be one of ours (they have 56) */
#define CHUNK 1000000000u /* 10^9: the largest power of ten in a 32-bit limb */
#define CHUNK_DIGITS 9

/* Bit offsets from the least significant end, one field per hex run:
 * '2' | create(9) | ix&0xf(1) | seq(16) | "00" | record(9) | ix(8) | '2'. */
enum {
    POS_TAIL = 0,          /* 4 bits, always 2 */
    POS_SHARD_IX = 4,      /* 32 bits */
    POS_RECORD_SECS = 36,  /* 36 bits */
    POS_ZERO_BYTE = 72,    /* 8 bits, 0 when we write it; parse ignores it */
    POS_SEQ_IX = 80,       /* 64 bits */
    POS_SHARD_NIBBLE = 144, /* 4 bits: shard_ix & 0xf */
    POS_CREATE_SECS = 148, /* 36 bits */
    POS_HEAD = 184,        /* 4 bits, always 2 */
    POS_END = 188          /* everything from here up must be zero */
};

/* Little-endian: l[0] holds bits 0..31. */
typedef uint32_t bignum[LIMBS];

static void put_bits(bignum l, unsigned pos, unsigned width, uint64_t v)
{
    while (width > 0) {
        unsigned off = pos % 32, take = 32 - off < width ? 32 - off : width;
        uint32_t mask = take == 32 ? 0xffffffffu : (1u << take) - 1;
        l[pos / 32] |= ((uint32_t)v & mask) << off;
        v >>= take;
        pos += take;
        width -= take;
    }
}

static uint64_t get_bits(const bignum l, unsigned pos, unsigned width)
{
    uint64_t v = 0;
    unsigned got = 0;

    while (got < width) {
        unsigned off = pos % 32, take = 32 - off < width - got ? 32 - off : width - got;
        uint32_t mask = take == 32 ? 0xffffffffu : (1u << take) - 1;
        v |= (uint64_t)((l[pos / 32] >> off) & mask) << got;
        pos += take;
        got += take;
    }
    return v;
}

/* l = l / d, returning the remainder. */
static uint32_t divmod(bignum l, uint32_t d)
{
    uint64_t rem = 0;

    for (int i = LIMBS - 1; i >= 0; i--) {
        uint64_t cur = rem << 32 | l[i];
        l[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    return (uint32_t)rem;
}

/* l = l * m + a. Returns 0, or -1 when the result does not fit in 192 bits. */
static int muladd(bignum l, uint32_t m, uint32_t a)
{
    uint64_t carry = a;

    for (int i = 0; i < LIMBS; i++) {
        uint64_t cur = (uint64_t)l[i] * m + carry;
        l[i] = (uint32_t)cur;
        carry = cur >> 32;
    }
    return carry ? -1 : 0;
}

static int is_zero(const bignum l)
{
    for (int i = 0; i < LIMBS; i++)
        if (l[i])
            return 0;
    return 1;
}

size_t seqnum_format(const struct seqnum *sn, char *out)
{
    bignum l = {0};

    /* The secs fields are masked to their 36 bits so that an out-of-contract
     * value cannot spill into the neighbouring field. */
    put_bits(l, POS_TAIL, 4, 2);
    put_bits(l, POS_SHARD_IX, 32, sn->shard_ix);
    put_bits(l, POS_RECORD_SECS, 36, sn->record_secs);
    put_bits(l, POS_SEQ_IX, 64, sn->seq_ix);
    put_bits(l, POS_SHARD_NIBBLE, 4, sn->shard_ix & 0xf);
    put_bits(l, POS_CREATE_SECS, 36, sn->shard_create_secs);
    put_bits(l, POS_HEAD, 4, 2);

    /* Peel off 9 decimal digits at a time, least significant first, into the
     * end of a scratch buffer, then move the digits (minus leading zeros) out. */
    char tmp[SEQNUM_DEC_MAX];
    size_t pos = sizeof tmp;
    do {
        uint32_t chunk = divmod(l, CHUNK);
        for (int k = 0; k < CHUNK_DIGITS; k++) {
            tmp[--pos] = (char)('0' + chunk % 10);
            chunk /= 10;
        }
    } while (!is_zero(l));
    while (pos < sizeof tmp - 1 && tmp[pos] == '0')
        pos++;

    size_t n = sizeof tmp - pos;
    memcpy(out, tmp + pos, n);
    out[n] = '\0';
    return n;
}

int seqnum_parse(const char *s, size_t len, struct seqnum *out)
{
    if (len == 0 || len > DEC_MAX_DIGITS)
        return -1;

    /* Horner's rule in base 10^9: the first chunk takes the len % 9 leading
     * digits (or 9), every later one exactly 9. */
    bignum l = {0};
    size_t i = 0;
    size_t first = len % CHUNK_DIGITS ? len % CHUNK_DIGITS : CHUNK_DIGITS;
    for (size_t take = first; i < len; take = CHUNK_DIGITS) {
        uint32_t chunk = 0, scale = 1;
        for (size_t k = 0; k < take; k++, i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            chunk = chunk * 10 + (uint32_t)(s[i] - '0');
            scale *= 10;
        }
        if (muladd(l, scale, chunk) < 0)
            return -1;
    }

    uint32_t shard_ix = (uint32_t)get_bits(l, POS_SHARD_IX, 32);
    if (get_bits(l, POS_END, LIMBS * 32 - POS_END) != 0 || get_bits(l, POS_HEAD, 4) != 2 ||
        get_bits(l, POS_TAIL, 4) != 2 || get_bits(l, POS_SHARD_NIBBLE, 4) != (shard_ix & 0xf))
        return -1;

    out->shard_create_secs = get_bits(l, POS_CREATE_SECS, 36);
    out->shard_ix = shard_ix;
    out->seq_ix = get_bits(l, POS_SEQ_IX, 64);
    out->record_secs = get_bits(l, POS_RECORD_SECS, 36);
    return 0;
}
