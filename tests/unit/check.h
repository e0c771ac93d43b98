/* The whole "test framework" of the unit tests: a check that reports
 * file:line and the failed expression, then exits 1 so CTest sees the failure,
 * plus a seeded PRNG so random cases are the same on every run. */
#ifndef TP_TEST_CHECK_H
#define TP_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

/* String equality that shows both sides, which is what one needs to debug it. */
#define CHECK_STREQ(a, b)                                                          \
    do {                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                               \
        if (strcmp(check_a_, check_b_) != 0) {                                     \
            fprintf(stderr, "%s:%d: check failed: %s == %s\n  got      \"%s\"\n"   \
                    "  expected \"%s\"\n", __FILE__, __LINE__, #a, #b, check_a_,   \
                    check_b_);                                                     \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* xorshift64*: deterministic, good enough to pick test inputs. */
static inline uint64_t test_rand(void)
{
    static uint64_t state = 0x9e3779b97f4a7c15ULL;

    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
}

static inline void test_rand_bytes(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(test_rand() >> 56);
}

#endif
