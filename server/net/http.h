/* The listening socket, shared by HTTP/1.1 (libmicrohttpd) and HTTP/2 cleartext
 * (libnghttp2, prior knowledge). Each accepted connection is peeked: the HTTP/2
 * connection preface goes to server/h2.c, everything else to libmicrohttpd. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct http_server;

struct http_limits {
    unsigned max_connections;   /* beyond it, new connections wait in the listen backlog */
    unsigned idle_timeout_s;    /* a connection with no traffic this long is closed */
    unsigned header_timeout_ms; /* the first request's head (or the HTTP/2 preface) must be in by then */
};

/* Binds host:port (port 0 = any free port), starts serving. NULL on error, with
 * a message in err. */
struct http_server *http_server_start(const char *host, int port, const struct http_limits *lim, char *err,
                                      size_t errlen);
/* The port actually bound. */
int http_server_port(const struct http_server *srv);
/* Serves fd, a connected stream socket carrying plaintext HTTP, like an
 * accepted TCP connection; peer is the client's address (libmicrohttpd keeps
 * it). Takes fd even on failure (-1: no thread for it). Not after stop. */
int http_server_adopt(struct http_server *srv, int fd, const struct sockaddr *peer,
                      socklen_t peerlen);
/* Stops accepting, lets in-flight requests finish, frees everything. */
void http_server_stop(struct http_server *srv);

/* ---- shared with the TLS front ---- */

/* A non-blocking listening socket on host:port (0 = any free port), its port
 * in *bound; -1 on error, with a message in err. */
int http_listen(const char *host, int port, int *bound, char *err, size_t errlen);
/* Called with each accepted connection, which it owns from then on. */
typedef void (*http_accept_fn)(void *ctx, int fd, const struct sockaddr *peer, socklen_t peerlen);
/* Accepts on listen_fd until wake_fd becomes readable, while srv has room
 * for another connection (see http_limits). */
void http_accept_loop(struct http_server *srv, int listen_fd, int wake_fd, http_accept_fn on_accept,
                      void *ctx);

#endif
