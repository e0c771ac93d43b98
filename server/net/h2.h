/* HTTP/2 over an accepted socket (prior-knowledge h2c), on libnghttp2. */
#ifndef TP_H2_H
#define TP_H2_H

#include "server/net/http.h"

/* Serves one connection until the peer closes it, stop is set, it is idle
 * (no traffic, no request at work) for lim's idle timeout, or a header block
 * stays unfinished past its header timeout; closes fd. Blocks: run it on its
 * own thread. */
void h2_serve_connection(int fd, const volatile int *stop, const struct http_limits *lim);

#endif
