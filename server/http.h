/* The listening socket, shared by HTTP/1.1 (libmicrohttpd) and HTTP/2 cleartext
 * (libnghttp2, prior knowledge). Each accepted connection is peeked: the HTTP/2
 * connection preface goes to server/h2.c, everything else to libmicrohttpd. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stddef.h>

struct http_server;

/* Binds host:port (port 0 = any free port), starts serving. NULL on error, with
 * a message in err. */
struct http_server *http_server_start(const char *host, int port, char *err, size_t errlen);
/* The port actually bound. */
int http_server_port(const struct http_server *srv);
/* Stops accepting, lets in-flight requests finish, frees everything. */
void http_server_stop(struct http_server *srv);

#endif
