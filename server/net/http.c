/* The listening socket and the HTTP/1.1 front.
 *
 * An accept thread owns the listening socket. Each accepted connection gets a
 * thread that peeks at its first bytes (without consuming them): the HTTP/2
 * client preface means prior-knowledge h2c and the thread goes on to serve it
 * with server/h2.c; anything else is handed to libmicrohttpd with
 * MHD_add_connection, and the thread ends. Peeking on the connection's own
 * thread means a client that connects and says nothing delays only itself.
 * The TLS front (server/tls.c) hands over the plaintext end of each of its
 * connections the same way, through http_server_adopt.
 *
 * libmicrohttpd runs without a listening socket, one thread per connection,
 * because handlers block (up to ~100 ms on a database group commit) and must
 * not stall other connections. The access handler builds a struct tp_request
 * from the raw request-target (kept by the URI log callback, since MHD hands
 * the handler a decoded path) as soon as the head is in, and offers it to
 * router_stream_open:
 *   - NULL (every request but S3 uploads): the body is buffered, up to
 *     TP_MAX_BODY, and router_dispatch answers once it is complete;
 *   - a stream: each piece of body goes to its write() as MHD reads it, so a
 *     5 GiB upload is never held (MHD's read buffer and TCP pace the client);
 *     finish() makes the response at the end, or at once when write()
 *     refuses (the rest of the upload is then read and dropped), or with
 *     complete = 0 from the completion callback when the peer or the daemon
 *     ends the request first.
 * A response with a tp_source is pulled through MHD's content-reader
 * callback as the socket drains, and closed by the response's free callback. */
#define _GNU_SOURCE /* accept4, pipe2 */
#include "server/net/http.h"
#include "server/net/h2.h"
#include "server/net/request.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define HEAD_PEEK ((size_t)16 * 1024) /* a first head this long goes to MHD unread (it answers 431 if need be) */
#define DRAIN_MS (10 * 1000)         /* on stop, how long in-flight HTTP/1.1 requests may take */
#define MHD_POOL_BYTES ((size_t)128 * 1024) /* per connection: headers plus read buffer */
#define SOURCE_BLOCK ((size_t)64 * 1024)   /* bytes pulled from a tp_source at a time */

/* MHD_USE_THREAD_PER_CONNECTION needs the internal polling thread; that thread
 * watches only the inter-thread channel (MHD_USE_ITC), through which
 * MHD_add_connection from our threads reaches it. MHD_USE_POLL makes every
 * connection thread use poll(), so descriptors above FD_SETSIZE work. */
#define MHD_FLAGS (MHD_USE_NO_LISTEN_SOCKET | MHD_USE_THREAD_PER_CONNECTION | \
                   MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_POLL)

struct http_server {
    struct http_limits lim;
    int listen_fd;
    int port;
    int wake[2];            /* one byte written by stop, never read: wakes every poll */
    volatile int stop;
    pthread_t acceptor;
    struct MHD_Daemon *mhd;
    pthread_mutex_t mu;
    pthread_cond_t cond;    /* signalled when threads or inflight drop */
    unsigned threads;       /* connection threads: classifying or serving HTTP/2 */
    unsigned h1_conns;      /* connections libmicrohttpd holds (its own notifications) */
    unsigned inflight;      /* HTTP/1.1 requests between their headers and completion */
};

struct accepted {
    struct http_server *srv;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct header_list {
    struct tp_header *items;
    size_t n, cap;
    int failed;
};

/* One HTTP/1.1 request: MHD's per-request pointer (con_cls). */
struct h1_req {
    struct http_server *srv;
    char *uri;              /* raw request-target; cut at '?' once the head is in */
    struct header_list hl;  /* req's headers */
    struct tp_request req;  /* built when the head is in, body added at dispatch */
    struct tp_body body;    /* buffered path */
    struct tp_stream *stream; /* streamed path: the body's consumer until finish() */
    struct tp_response rs;
    int started;            /* counted in srv->inflight */
    int streamed;           /* router_stream_open took the body */
    int too_large;
};

enum conn_kind { CONN_CLOSE, CONN_HTTP1, CONN_HTTP2 };

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- HTTP/1.1 through libmicrohttpd ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct h1_req *rq = calloc(1, sizeof *rq);

    (void)con;
    if (rq == NULL)
        return NULL;
    rq->srv = cls;
    rq->uri = strdup(uri);
    if (rq->uri == NULL) {
        free(rq);
        return NULL;
    }
    return rq;
}

static void free_headers(struct header_list *hl)
{
    for (size_t i = 0; i < hl->n; i++) {
        free(hl->items[i].name);
        free(hl->items[i].value);
    }
    free(hl->items);
    *hl = (struct header_list){0};
}

/* finish() fills rq->rs, which is sent once the whole upload has been read. */
static void end_stream(struct h1_req *rq, int complete)
{
    struct tp_stream *st = rq->stream;

    rq->stream = NULL;
    st->finish(st, complete, &rq->rs);
}

/* MHD calls this after the response was sent, and also when the peer goes
 * away or the daemon stops first (then toe says why, and a streamed upload
 * may still be open). */
static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct h1_req *rq = *con_cls;

    (void)con;
    (void)toe;
    if (rq == NULL)
        return;
    if (rq->stream != NULL)
        end_stream(rq, 0);
    if (rq->started) {
        pthread_mutex_lock(&srv->mu);
        srv->inflight--;
        pthread_cond_broadcast(&srv->cond);
        pthread_mutex_unlock(&srv->mu);
    }
    free(rq->uri);
    free_headers(&rq->hl);
    body_free(&rq->body);
    response_free(&rq->rs); /* closes a source MHD never took (HEAD, failure) */
    free(rq);
    *con_cls = NULL;
}

static enum MHD_Result reply_status(struct MHD_Connection *con, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    ret = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Past the limit the body is dropped and the rest of the upload discarded
 * unbuffered; 413 is answered once it has been read. Returns -1 when out of
 * memory. */
static int append_body(struct h1_req *rq, const char *data, size_t len)
{
    if (rq->too_large)
        return 0;
    int rc = body_append(&rq->body, data, len);
    rq->too_large = rc == 1;
    return rc < 0 ? -1 : 0;
}

/* A streamed body goes to its consumer until it refuses a piece. finish()
 * then runs at once, but its response waits while the rest of the upload is
 * read and dropped: libmicrohttpd 0.9.75 queues a response only before the
 * body or after all of it. Returns -1 when out of memory (buffered path). */
static int take_body(struct h1_req *rq, const char *data, size_t len)
{
    if (!rq->streamed)
        return append_body(rq, data, len);
    if (rq->stream != NULL &&
        rq->stream->write(rq->stream, (const unsigned char *)data, len) != 0)
        end_stream(rq, 0);
    return 0;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
    struct header_list *hl = cls;
    struct tp_header *h;

    (void)kind;
    if (hl->n == hl->cap)
        return MHD_NO; /* the array was sized by MHD's own count: never overrun it */
    h = &hl->items[hl->n];
    h->name = strdup(key);
    h->value = strdup(value != NULL ? value : "");
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        hl->failed = 1;
        return MHD_NO;
    }
    for (char *p = h->name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    hl->n++;
    return MHD_YES;
}

/* Builds rq->req from the head: headers copied, the raw target split at '?'.
 * The method is MHD's, valid until the request completes. */
static int read_head(struct MHD_Connection *con, struct h1_req *rq, const char *method)
{
    char *query = strchr(rq->uri, '?');
    int n = MHD_get_connection_values(con, MHD_HEADER_KIND, NULL, NULL);

    rq->hl.cap = n > 0 ? (size_t)n : 0;
    rq->hl.items = calloc(rq->hl.cap + 1, sizeof *rq->hl.items);
    if (rq->hl.items == NULL)
        return -1;
    MHD_get_connection_values(con, MHD_HEADER_KIND, collect_header, &rq->hl);
    if (rq->hl.failed)
        return -1;
    if (query != NULL)
        *query++ = '\0';
    rq->req.method = method;
    rq->req.path = rq->uri;
    rq->req.query = query != NULL ? query : "";
    rq->req.headers = rq->hl.items;
    rq->req.n_headers = rq->hl.n;
    return 0;
}

/* For HEAD the router may state the length of the body it did not produce;
 * otherwise the length is that of the source or of the body. */
static uint64_t head_length(const struct tp_response *rs)
{
    for (size_t i = 0; i < rs->n_headers; i++)
        if (strcasecmp(rs->headers[i].name, "content-length") == 0)
            return strtoull(rs->headers[i].value, NULL, 10);
    return rs->source != NULL ? rs->source->length : rs->body_len;
}

/* MHD never reads the body of a response to HEAD; should it, fail safely. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* MHD asks only for bytes before the declared length, so a source that has
 * none (ends early) is failing too: MHD then closes the connection, the only
 * way to tell the client once the headers are out. */
static ssize_t read_source(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct tp_source *src = cls;
    long n = src->read(src, pos, buf, max);

    if (n <= 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

/* MHD's free callback: runs once, when MHD drops the response — sent,
 * failed, peer gone or daemon stopped. */
static void close_source(void *cls)
{
    struct tp_source *src = cls;

    src->close(src);
}

/* MHD takes the source or the body over (rs keeps neither) and computes
 * Content-Length itself. */
static struct MHD_Response *body_response(struct tp_response *rs)
{
    struct MHD_Response *resp;

    if (rs->source != NULL) {
        resp = MHD_create_response_from_callback(rs->source->length, SOURCE_BLOCK,
                                                 read_source, rs->source, close_source);
        if (resp != NULL)
            rs->source = NULL;
        return resp;
    }
    resp = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
    if (resp != NULL) {
        rs->body = NULL;
        rs->body_len = 0;
    }
    return resp;
}

/* libmicrohttpd 0.9.75 has no head-only response flag, and refuses an
 * application Content-Length header. For HEAD, a response "from callback" of
 * the router's stated size makes MHD send that Content-Length and no body; a
 * source stays in rs, to be closed unread. MHD adds Date, and no Content-Type
 * of its own. */
static struct MHD_Response *build_response(struct tp_response *rs, int head, int closing)
{
    struct MHD_Response *resp;

    if (head)
        resp = MHD_create_response_from_callback(head_length(rs), 4096, no_body, NULL, NULL);
    else
        resp = body_response(rs);
    if (resp == NULL)
        return NULL;
    for (size_t i = 0; i < rs->n_headers; i++)
        if (strcasecmp(rs->headers[i].name, "content-length") != 0)
            (void)MHD_add_response_header(resp, rs->headers[i].name, rs->headers[i].value);
    /* While stopping, keep-alive clients are told to move on. */
    if (closing)
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return resp;
}

/* The whole body has been read: the response comes from the stream's
 * finish() (already made if the stream refused a piece), or from
 * router_dispatch on the buffered body. */
static enum MHD_Result respond(struct MHD_Connection *con, struct h1_req *rq, const char *method)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (rq->stream != NULL) {
        end_stream(rq, 1);
    } else if (!rq->streamed) {
        rq->req.body = rq->body.buf;
        rq->req.body_len = rq->body.len;
        router_dispatch(&rq->req, &rq->rs);
        /* The response may take a while to send; the upload is not needed for it. */
        body_free(&rq->body);
    }
    if (rq->rs.status < 200 || rq->rs.status > 599)
        rq->rs.status = 500;
    resp = build_response(&rq->rs, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0,
                          __atomic_load_n(&rq->srv->stop, __ATOMIC_RELAXED));
    if (resp == NULL)
        return MHD_NO;
    ret = MHD_queue_response(con, (unsigned)rq->rs.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int declares_too_large(struct MHD_Connection *con)
{
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);

    return cl != NULL && strtoull(cl, NULL, 10) > TP_MAX_BODY;
}

static int has_body(struct MHD_Connection *con)
{
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (cl != NULL && strtoull(cl, NULL, 10) > 0) ||
           MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The head is in, no body byte read yet: a service may take the body as a
 * stream; otherwise a declared length over the limit is refused now. */
static enum MHD_Result begin_request(struct MHD_Connection *con, struct h1_req *rq,
                                     const char *method)
{
    struct http_server *srv = rq->srv;

    rq->started = 1;
    pthread_mutex_lock(&srv->mu);
    srv->inflight++;
    pthread_mutex_unlock(&srv->mu);
    if (read_head(con, rq, method) < 0)
        return MHD_NO;
    rq->stream = router_stream_open(&rq->req);
    if (rq->stream != NULL) {
        rq->streamed = 1;
        /* The service copied what it needs; the upload may last minutes. */
        free_headers(&rq->hl);
        return MHD_YES;
    }
    /* Answered before the body is read: no "100 Continue" is sent, and MHD
     * closes the connection after the response. */
    if (declares_too_large(con))
        return reply_status(con, MHD_HTTP_CONTENT_TOO_LARGE);
    /* The process holds too many unfinished bodies: clients retry a 503. */
    if (has_body(con) && body_budget_exhausted())
        return reply_status(con, MHD_HTTP_SERVICE_UNAVAILABLE);
    return MHD_YES;
}

/* MHD calls this first when the headers are in (no body yet), then once per
 * chunk of body, then once more with no data when the request is complete.
 * Returning MHD_YES from the first call without a response makes MHD answer
 * `Expect: 100-continue`. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct h1_req *rq = *con_cls;

    (void)cls;
    (void)url;
    (void)version;
    if (rq == NULL) /* on_uri ran out of memory */
        return reply_status(con, MHD_HTTP_INTERNAL_SERVER_ERROR);
    if (!rq->started)
        return begin_request(con, rq, method);
    if (*upload_data_size > 0) {
        if (take_body(rq, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_large)
        return reply_status(con, MHD_HTTP_CONTENT_TOO_LARGE);
    return respond(con, rq, method);
}

/* ---- accepting and classifying connections ---- */

/* What the first bytes, peeked (n of them), say: the HTTP/2 preface, an
 * HTTP/1.1 head complete (or too long to wait for), or not yet known. */
static enum conn_kind peeked_kind(const char *buf, size_t n, int *known)
{
    *known = 1;
    if (memcmp(buf, H2_PREFACE, n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN) == 0) {
        *known = n >= H2_PREFACE_LEN;
        return CONN_HTTP2;
    }
    if (n < HEAD_PEEK && !memmem(buf, n, "\r\n\r\n", 4))
        *known = 0;
    return CONN_HTTP1;
}

/* Waits, peeking without consuming, for the HTTP/2 preface or for the whole
 * head of the first HTTP/1.1 request, within the header timeout: a client
 * that trickles a partial head (slowloris) is dropped here and never holds a
 * libmicrohttpd connection. Unread bytes keep poll() ready, so while waiting
 * for more the thread pauses (backing off, still waking on stop). */
static enum conn_kind classify(struct http_server *srv, int fd)
{
    char buf[HEAD_PEEK];
    int64_t deadline = now_ms() + (int64_t)srv->lim.header_timeout_ms;
    struct pollfd pf[2] = {{fd, POLLIN | POLLRDHUP, 0}, {srv->wake[0], POLLIN, 0}};
    int pause_ms = 5;

    for (;;) {
        int64_t left = deadline - now_ms();
        ssize_t n;
        int known;

        if (left <= 0 || (poll(pf, 2, (int)left) < 0 && errno != EINTR) || pf[1].revents)
            return CONN_CLOSE;
        if (pf[0].revents == 0)
            continue;
        n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            return CONN_CLOSE;
        enum conn_kind kind = peeked_kind(buf, (size_t)n, &known);
        if (known)
            return kind;
        /* Peeking never reports the end of the stream: the peer closed its
         * side with the head unfinished, and nothing more will come. */
        if (pf[0].revents & (POLLRDHUP | POLLHUP))
            return CONN_CLOSE;
        poll(&pf[1], 1, pause_ms);
        if (pause_ms < 200)
            pause_ms *= 2;
    }
}

/* libmicrohttpd's word on the connections it holds: the count the accept
 * gate adds to the connection threads. */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;

    (void)con;
    (void)socket_context;
    pthread_mutex_lock(&srv->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        srv->h1_conns++;
    else if (srv->h1_conns > 0)
        srv->h1_conns--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
}

static void thread_done(struct http_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->threads--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
}

static void *connection_main(void *arg)
{
    struct accepted *a = arg;
    struct http_server *srv = a->srv;

    switch (classify(srv, a->fd)) {
    case CONN_HTTP2:
        h2_serve_connection(a->fd, &srv->stop, &srv->lim);
        break;
    case CONN_HTTP1:
        /* MHD owns the socket from here, and closes it even on failure. */
        (void)MHD_add_connection(srv->mhd, a->fd, (const struct sockaddr *)&a->addr,
                                 a->addrlen);
        break;
    case CONN_CLOSE:
        close(a->fd);
        break;
    }
    free(a);
    thread_done(srv);
    return NULL;
}

int http_server_adopt(struct http_server *srv, int fd, const struct sockaddr *peer,
                      socklen_t peerlen)
{
    struct accepted *a = malloc(sizeof *a);
    pthread_t t;

    if (a == NULL || peerlen > sizeof a->addr) {
        free(a);
        close(fd);
        return -1;
    }
    *a = (struct accepted){.srv = srv, .fd = fd, .addrlen = peerlen};
    memcpy(&a->addr, peer, peerlen);
    pthread_mutex_lock(&srv->mu);
    srv->threads++;
    pthread_mutex_unlock(&srv->mu);
    if (pthread_create(&t, NULL, connection_main, a) != 0) {
        close(fd);
        free(a);
        thread_done(srv);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* Waits until srv serves fewer than max_connections connections: 0, or -1
 * when wake_fd becomes readable first. Connections beyond the limit wait in
 * the kernel's listen backlog instead of being reset. */
static int wait_for_room(struct http_server *srv, int wake_fd)
{
    struct pollfd pf = {wake_fd, POLLIN, 0};

    for (;;) {
        pthread_mutex_lock(&srv->mu);
        int room = srv->threads + srv->h1_conns < srv->lim.max_connections;
        pthread_mutex_unlock(&srv->mu);
        if (room)
            return 0;
        if (poll(&pf, 1, 20) > 0)
            return -1;
    }
}

void http_accept_loop(struct http_server *srv, int listen_fd, int wake_fd, http_accept_fn on_accept,
                      void *ctx)
{
    struct pollfd pf[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};

    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof addr;
        int fd;

        if (wait_for_room(srv, wake_fd))
            break;
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        fd = accept4(listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_CLOEXEC);
        if (fd >= 0)
            on_accept(ctx, fd, (const struct sockaddr *)&addr, addrlen);
        else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            poll(NULL, 0, 50); /* out of descriptors or memory: back off rather than spin */
    }
}

static void accept_tcp(void *ctx, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
    int one = 1;

    /* Responses are written whole; small HTTP/2 frames must not wait on Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)http_server_adopt(ctx, fd, peer, peerlen);
}

static void *accept_main(void *arg)
{
    struct http_server *srv = arg;

    http_accept_loop(srv, srv->listen_fd, srv->wake[0], accept_tcp, srv);
    return NULL;
}

/* ---- start and stop ---- */

int http_listen(const char *host, int port, int *bound, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char service[16];
    int gai, rc = -1, one = 1, zero = 0, fd = -1;

    snprintf(service, sizeof service, "%d", port);
    gai = getaddrinfo(host != NULL && *host ? host : "0.0.0.0", service, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        goto out;
    }
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* "::" serves IPv4 clients too. */
        if (ai->ai_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        goto out;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        goto out;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    rc = fd;
out:
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

/* Frees what start managed to set up; threads must be gone. */
static void server_free(struct http_server *srv)
{
    if (srv->mhd != NULL)
        MHD_stop_daemon(srv->mhd);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->wake[0] >= 0) {
        close(srv->wake[0]);
        close(srv->wake[1]);
    }
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

struct http_server *http_server_start(const char *host, int port, const struct http_limits *lim, char *err,
                                      size_t errlen)
{
    struct http_server *srv = calloc(1, sizeof *srv);
    pthread_condattr_t ca;
    int rc = -1;

    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->lim = *lim;
    srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
    pthread_mutex_init(&srv->mu, NULL);
    /* Stop waits with a deadline: measure it on the monotonic clock. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pipe2(srv->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    srv->listen_fd = http_listen(host, port, &srv->port, err, errlen);
    if (srv->listen_fd < 0)
        goto out;
    /* libmicrohttpd's own limit (FD_SETSIZE - 4 by default) is never the one
     * reached: at it, 0.9.75 wedged for good. The accept gate keeps below
     * max_connections; the margin covers hand-offs not yet notified. */
    srv->mhd = MHD_start_daemon(MHD_FLAGS, 0, NULL, NULL, on_request, srv,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)(2 * lim->max_connections + 64),
                                MHD_OPTION_CONNECTION_TIMEOUT, lim->idle_timeout_s,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_POOL_BYTES,
                                MHD_OPTION_END);
    if (srv->mhd == NULL) {
        snprintf(err, errlen, "cannot start libmicrohttpd");
        goto out;
    }
    if (pthread_create(&srv->acceptor, NULL, accept_main, srv) != 0) {
        snprintf(err, errlen, "cannot start the accept thread");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        server_free(srv);
        return NULL;
    }
    return srv;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

/* Connection threads end by themselves once stop is set (HTTP/2 ones after
 * their streams, bounded by h2.c's own drain time). HTTP/1.1 requests in
 * flight get DRAIN_MS; MHD_stop_daemon then cuts whatever remains. */
static void wait_drained(struct http_server *srv)
{
    int64_t deadline = now_ms() + DRAIN_MS;
    struct timespec ts;

    pthread_mutex_lock(&srv->mu);
    while (srv->threads > 0 || (srv->inflight > 0 && now_ms() < deadline)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
    }
    pthread_mutex_unlock(&srv->mu);
}

/* MHD has no listening socket, so there is nothing for MHD_quiesce_daemon to
 * do: new connections stop when the accept thread does. */
void http_server_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    /* Atomic so the connection threads polling the flag see it without a race. */
    __atomic_store_n(&srv->stop, 1, __ATOMIC_SEQ_CST);
    if (write(srv->wake[1], "", 1) < 0) {
        /* Cannot fail: the pipe is empty and this is its only byte. */
    }
    pthread_join(srv->acceptor, NULL);
    close(srv->listen_fd);
    srv->listen_fd = -1;
    wait_drained(srv);
    server_free(srv);
}
