/* Percent-encoding as URLs, query strings and HTML forms carry it: the one
 * decoder for S3 names, SigV4/SigV2 query credentials and awsQuery forms. */
#ifndef TP_URLCODE_H
#define TP_URLCODE_H

#include <stddef.h>

/* The value of a hex digit, or -1. */
int url_hexval(int c);
/* Decodes n bytes of s into out (room for n + 1): %XX sequences, and '+'
 * as a space when plus; a malformed escape stays as it is. Returns the
 * decoded length; out is NUL-terminated (and may hold NULs before it). */
size_t url_decode(const char *s, size_t n, int plus, char *out);
/* Parameter name of a query ("a=1&b&c=2"): its still-encoded value and, in
 * *n, its length (0 for "b" or "b="); NULL when absent. */
const char *url_query_find(const char *query, const char *name, size_t *n);
/* The decoded value of parameter name into out; NULL when absent or too
 * long for out. */
const char *url_query_param(const char *query, const char *name, char *out, size_t outlen);

#endif
