/* HTTP/2 over an accepted socket (prior-knowledge h2c), on libnghttp2. */
#ifndef TP_H2_H
#define TP_H2_H

/* Serves one connection until the peer closes it or stop is set; closes fd.
 * Blocks: run it on its own thread. */
void h2_serve_connection(int fd, const volatile int *stop);

#endif
