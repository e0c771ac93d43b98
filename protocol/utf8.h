/* Strict UTF-8 (RFC 3629): what XML bodies and AWS's services accept as text. */
#ifndef TP_UTF8_H
#define TP_UTF8_H

#include <stddef.h>

/* 1 when the n bytes at s are well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF. NUL bytes are well-formed. */
int utf8_valid(const char *s, size_t n);

#endif
