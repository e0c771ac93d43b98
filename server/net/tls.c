/* The TLS front: listener, handshake and pump; see tls.h.
 *
 * Each accepted connection gets a thread. It does the handshake (under
 * HANDSHAKE_MS, so a silent client costs only its own thread), with the leaf
 * certificate for the client's SNI name, or for the address it connected to.
 * Then it makes a socketpair, gives one end to server/http.c as if it were
 * the accepted socket (with the client's real address), and pumps bytes
 * between the TLS session and the other end until either side closes. Both
 * HTTP versions thus run unchanged: a client that negotiated h2 by ALPN sends
 * the HTTP/2 preface, which http.c's peek recognises as for h2c.
 *
 * Stopping: tls_server_quiesce stops the acceptor and the handshakes, so the
 * HTTP server can be stopped safely; that closes the plaintext ends, and each
 * pump then sends its close_notify and ends. Pumps still stuck after
 * FLUSH_MS (a client that reads nothing) are cut. */
#define _GNU_SOURCE /* pipe2 */
#include "server/net/tls.h"
#include "server/runtime/config.h"
#include "server/net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* TLS 1.2 and 1.3 only; the server's order of suites, which puts ECDHE with
 * AES-GCM or ChaCha20 first (what the KPL's OpenSSL 1.0.1 and HTTP/2 need). */
#define PRIORITIES "NORMAL:%SERVER_PRECEDENCE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HANDSHAKE_MS (10 * 1000)
/* Longer than the HTTP side's own idle timeouts (120 s), which normally end a
 * quiet connection cleanly; this one catches a client that stopped reading. */
#define PUMP_IDLE_MS (150 * 1000)
#define FLUSH_MS (2 * 1000)          /* on stop, time left to pumps to deliver what they hold */
#define RECORD 16384                 /* the most plaintext one TLS record carries */
#define TLS_HANDSHAKE_RECORD 0x16    /* what the first byte of a ClientHello record is */

static const char NOT_TLS[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 46\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks HTTPS: use an https:// URL.\r\n";

struct tls_server {
    int listen_fd;
    int port;
    int wake[2];                 /* written by quiesce: ends the acceptor and handshakes */
    int kill[2];                 /* written by stop after FLUSH_MS: ends the pumps */
    pthread_t acceptor;
    int acceptor_started;
    struct tls_ca *ca;
    struct http_server *srv;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    pthread_mutex_t mu;
    pthread_cond_t cond;         /* signalled when a thread leaves a phase */
    unsigned handshaking;        /* connection threads before the hand-over */
    unsigned threads;            /* all connection threads */
    int quiesced;                /* no hand-over after this */
};

struct tls_conn {
    struct tls_server *tls;
    int fd;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    char local[INET6_ADDRSTRLEN]; /* the address the client reached: the name without SNI */
    gnutls_session_t session;
};

/* Plaintext on its way from one side to the other. */
struct chunk {
    char data[RECORD];
    size_t off, len;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events: 1; 0 when the deadline passes or
 * stop_fd becomes readable first. */
static int wait_fd(int fd, short events, int64_t deadline, int stop_fd)
{
    struct pollfd pf[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};

    for (;;) {
        int64_t left = deadline - now_ms();

        if (left <= 0)
            return 0;
        if (poll(pf, 2, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        if (pf[1].revents)
            return 0;
        if (pf[0].revents)
            return 1;
    }
}

/* ---- certificate selection ---- */

/* An SNI name fit to be a certificate's DNS name (letters, digits, '-', '.',
 * '_'), lowercased in place. */
static int host_name_ok(char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.' || strstr(name, "..") != NULL)
        return 0;
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
            return 0;
    }
    return 1;
}

/* GnuTLS asks, once the ClientHello is in, which certificate to present. */
static int pick_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned *pcert_length, gnutls_privkey_t *key)
{
    struct tls_conn *c = gnutls_session_get_ptr(session);
    char sni[256];
    size_t len = sizeof sni;
    unsigned type;
    const char *name = c->local;

    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (gnutls_server_name_get(session, sni, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS &&
        host_name_ok(sni))
        name = sni;
    *pcert_length = 1;
    return tls_ca_leaf(c->tls->ca, name, pcert, key) < 0 ? -1 : 0;
}

/* The local address in text, an IPv4-mapped one as plain IPv4. */
static void local_address(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;

    snprintf(out, len, "127.0.0.1");
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)len);
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;

        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)len);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)len);
    }
}

/* ---- handshake ---- */

/* A client speaking plain HTTP to this port gets a 400 saying so, rather than
 * a reset; the rest of its request is read and dropped so the answer is not
 * lost to an RST. */
static void refuse_plain(int fd, int64_t deadline, int stop_fd)
{
    char sink[4096];
    size_t sent = 0;

    while (sent < sizeof NOT_TLS - 1 && wait_fd(fd, POLLOUT, deadline, stop_fd)) {
        ssize_t n = send(fd, NOT_TLS + sent, sizeof NOT_TLS - 1 - sent, MSG_NOSIGNAL);

        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return;
        sent += n > 0 ? (size_t)n : 0;
    }
    shutdown(fd, SHUT_WR);
    while (wait_fd(fd, POLLIN, deadline, stop_fd)) {
        ssize_t n = recv(fd, sink, sizeof sink, 0);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
    }
}

/* 0 once the handshake is done; -1 when it failed, timed out, was refused or
 * the server is stopping. */
static int handshake(struct tls_conn *c)
{
    static const gnutls_datum_t ALPN[] = {{(unsigned char *)"h2", 2},
                                          {(unsigned char *)"http/1.1", 8}};
    struct tls_server *tls = c->tls;
    int64_t deadline = now_ms() + HANDSHAKE_MS;
    unsigned char first;
    int rc;

    if (!wait_fd(c->fd, POLLIN, deadline, tls->wake[0]) ||
        recv(c->fd, &first, 1, MSG_PEEK) != 1)
        return -1;
    if (first != TLS_HANDSHAKE_RECORD) {
        refuse_plain(c->fd, now_ms() + FLUSH_MS, tls->wake[0]);
        return -1;
    }
    if ((rc = gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NO_SIGNAL)) < 0) {
        c->session = NULL;
        return -1;
    }
    gnutls_session_set_ptr(c->session, c);
    gnutls_transport_set_int(c->session, c->fd);
    if ((rc = gnutls_priority_set(c->session, tls->prio)) < 0 ||
        (rc = gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, tls->cred)) < 0 ||
        (rc = gnutls_alpn_set_protocols(c->session, ALPN, 2, 0)) < 0)
        return -1;
    while ((rc = gnutls_handshake(c->session)) < 0) {
        if (gnutls_error_is_fatal(rc)) {
            log_msg(LOG_DEBUG, "tls: handshake: %s", gnutls_strerror(rc));
            return -1;
        }
        /* Non-fatal otherwise (a warning alert): go on, within the deadline. */
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED
                ? !wait_fd(c->fd, gnutls_record_get_direction(c->session) ? POLLOUT : POLLIN,
                           deadline, tls->wake[0])
                : now_ms() > deadline)
            return -1;
    }
    return 0;
}

/* ---- pump ---- */

/* The 4 steps of a pass; each returns 1 when it moved something, 0 when it
 * must wait (its poll events added), -2 when its side reached its end, -1
 * when the connection is over. */

static int tls_to_chunk(gnutls_session_t s, struct chunk *up, int inner, short *tls_ev)
{
    ssize_t n = gnutls_record_recv(s, up->data, sizeof up->data);

    if (n > 0) {
        up->off = 0;
        up->len = (size_t)n;
        return 1;
    }
    if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
        shutdown(inner, SHUT_WR); /* the client is done sending: so is our side */
        return -2;
    }
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        *tls_ev |= gnutls_record_get_direction(s) ? POLLOUT : POLLIN;
        return 0;
    }
    return gnutls_error_is_fatal((int)n) ? -1 : 1; /* a warning alert: go on */
}

static int chunk_to_inner(struct chunk *up, int inner, short *inner_ev)
{
    ssize_t n = send(inner, up->data + up->off, up->len - up->off, MSG_NOSIGNAL);

    if (n > 0) {
        up->off += (size_t)n;
        if (up->off == up->len)
            up->len = 0;
        return 1;
    }
    if (errno == EAGAIN || errno == EINTR) {
        *inner_ev |= POLLOUT;
        return 0;
    }
    /* The HTTP side has closed (say, answered early and hung up): what the
     * client still sends is dropped while its answer goes out. */
    return -2;
}

static int inner_to_chunk(int inner, struct chunk *down, short *inner_ev)
{
    ssize_t n = recv(inner, down->data, sizeof down->data, 0);

    if (n > 0) {
        down->off = 0;
        down->len = (size_t)n;
        return 1;
    }
    /* A reset comes from a side that closed with our bytes unread (an early
     * answer): what it wrote before has been read, so it ended as well. */
    if (n == 0 || errno == ECONNRESET)
        return -2;
    if (errno == EAGAIN || errno == EINTR) {
        *inner_ev |= POLLIN;
        return 0;
    }
    return -1;
}

/* Sends down's bytes, or, with none left once the HTTP side has closed, the
 * close_notify; gnutls wants an interrupted call repeated with the same
 * arguments, which down->off staying put ensures. */
static int chunk_to_tls(gnutls_session_t s, struct chunk *down, short *tls_ev)
{
    ssize_t n = down->len > 0 ? gnutls_record_send(s, down->data + down->off, down->len - down->off)
                              : gnutls_bye(s, GNUTLS_SHUT_WR);

    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        *tls_ev |= gnutls_record_get_direction(s) ? POLLOUT : POLLIN;
        return 0;
    }
    if (n < 0 || down->len == 0) /* failed, or close_notify sent: over */
        return -1;
    down->off += (size_t)n;
    if (down->off == down->len)
        down->len = 0;
    return 1;
}

/* Moves bytes both ways until the HTTP side has closed and everything it
 * wrote (then a close_notify) has gone out, or either peer fails, or nothing
 * moved for PUMP_IDLE_MS, or stop cuts it. */
static void pump(struct tls_conn *c, int inner)
{
    gnutls_session_t s = c->session;
    struct chunk *up = malloc(sizeof *up), *down = malloc(sizeof *down);
    int client_done = 0, app_gone = 0, app_done = 0;
    int64_t idle_until = now_ms() + PUMP_IDLE_MS;

    if (up == NULL || down == NULL)
        goto out;
    up->len = down->len = 0;
    for (;;) {
        short tls_ev = 0, inner_ev = 0;
        int moved = 0, rc;

        if (!client_done && up->len == 0) {
            rc = tls_to_chunk(s, up, inner, &tls_ev);
            if (rc == -1)
                break;
            client_done = rc == -2;
            moved |= rc != 0;
        }
        if (up->len > 0 && app_gone) {
            up->len = 0; /* nobody left to take it */
        } else if (up->len > 0) {
            rc = chunk_to_inner(up, inner, &inner_ev);
            app_gone = rc == -2;
            moved |= rc != 0;
        }
        if (!app_done && down->len == 0) {
            rc = inner_to_chunk(inner, down, &inner_ev);
            if (rc == -1)
                break;
            app_done = rc == -2;
            moved |= rc != 0;
        }
        if (down->len > 0 || app_done) {
            rc = chunk_to_tls(s, down, &tls_ev);
            if (rc == -1)
                break;
            moved |= rc != 0;
        }
        if (moved) {
            idle_until = now_ms() + PUMP_IDLE_MS;
            continue;
        }
        /* Only the sides waited on are polled: a hung-up socket reports
         * POLLHUP whatever it is asked, and would make this spin. */
        struct pollfd pf[3] = {{tls_ev ? c->fd : -1, tls_ev, 0},
                               {inner_ev ? inner : -1, inner_ev, 0},
                               {c->tls->kill[0], POLLIN, 0}};
        int64_t left = idle_until - now_ms();

        if (left <= 0 || (poll(pf, 3, (int)left) < 0 && errno != EINTR) || pf[2].revents)
            break;
    }
out:
    free(up);
    free(down);
}

/* ---- connections ---- */

static void conn_end(struct tls_conn *c, int handshaking)
{
    struct tls_server *tls = c->tls;

    if (c->session != NULL)
        gnutls_deinit(c->session);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&tls->mu);
    tls->handshaking -= handshaking ? 1 : 0;
    tls->threads--;
    pthread_cond_broadcast(&tls->cond);
    pthread_mutex_unlock(&tls->mu);
}

/* Gives the HTTP server its end of a new socketpair, unless quiesced;
 * returns ours, or -1. Leaves the handshaking phase either way. */
static int hand_over(struct tls_conn *c)
{
    struct tls_server *tls = c->tls;
    int sv[2] = {-1, -1}, rc = -1;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        sv[0] = sv[1] = -1;
    else
        (void)fcntl(sv[0], F_SETFL, O_NONBLOCK); /* ours; theirs blocks, like an accepted socket */
    pthread_mutex_lock(&tls->mu);
    if (sv[0] >= 0 && !tls->quiesced)
        rc = http_server_adopt(tls->srv, sv[1], (const struct sockaddr *)&c->peer, c->peerlen);
    else if (sv[1] >= 0)
        close(sv[1]);
    tls->handshaking--;
    pthread_cond_broadcast(&tls->cond);
    pthread_mutex_unlock(&tls->mu);
    if (rc != 0 && sv[0] >= 0) {
        close(sv[0]);
        return -1;
    }
    return sv[0];
}

static void *conn_main(void *arg)
{
    struct tls_conn *c = arg;
    int inner;

    if (handshake(c) != 0) {
        conn_end(c, 1);
        return NULL;
    }
    inner = hand_over(c);
    if (inner >= 0) {
        pump(c, inner);
        close(inner);
    }
    conn_end(c, 0);
    return NULL;
}

static void on_accept(void *ctx, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
    struct tls_server *tls = ctx;
    struct tls_conn *c = calloc(1, sizeof *c);
    pthread_t t;
    int one = 1;

    if (c == NULL || peerlen > sizeof c->peer) {
        free(c);
        close(fd);
        return;
    }
    c->tls = tls;
    c->fd = fd;
    memcpy(&c->peer, peer, peerlen);
    c->peerlen = peerlen;
    local_address(fd, c->local, sizeof c->local);
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    /* TLS records go out whole; small HTTP/2 frames must not wait on Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&tls->mu);
    tls->handshaking++;
    tls->threads++;
    pthread_mutex_unlock(&tls->mu);
    if (pthread_create(&t, NULL, conn_main, c) != 0) {
        conn_end(c, 1);
        return;
    }
    pthread_detach(t);
}

static void *accept_main(void *arg)
{
    struct tls_server *tls = arg;

    http_accept_loop(tls->srv, tls->listen_fd, tls->wake[0], on_accept, tls);
    return NULL;
}

/* ---- start and stop ---- */

/* Waits until *count is 0 or the monotonic deadline (0: none) passes. */
static void wait_count(struct tls_server *tls, const unsigned *count, int64_t deadline)
{
    pthread_mutex_lock(&tls->mu);
    while (*count > 0 && (deadline == 0 || now_ms() < deadline)) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&tls->cond, &tls->mu, &ts);
    }
    pthread_mutex_unlock(&tls->mu);
}

static void tls_free(struct tls_server *tls)
{
    if (tls->listen_fd >= 0)
        close(tls->listen_fd);
    for (int i = 0; i < 2; i++) {
        if (tls->wake[i] >= 0)
            close(tls->wake[i]);
        if (tls->kill[i] >= 0)
            close(tls->kill[i]);
    }
    if (tls->prio != NULL)
        gnutls_priority_deinit(tls->prio);
    if (tls->cred != NULL)
        gnutls_certificate_free_credentials(tls->cred);
    pthread_cond_destroy(&tls->cond);
    pthread_mutex_destroy(&tls->mu);
    free(tls);
}

struct tls_server *tls_server_start(const char *host, int port, struct tls_ca *ca,
                                    struct http_server *srv, char *err, size_t errlen)
{
    struct tls_server *tls = calloc(1, sizeof *tls);
    pthread_condattr_t attr;
    int rc;

    if (tls == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tls->listen_fd = tls->wake[0] = tls->wake[1] = tls->kill[0] = tls->kill[1] = -1;
    tls->ca = ca;
    tls->srv = srv;
    pthread_mutex_init(&tls->mu, NULL);
    /* Stop waits with deadlines: measure them on the monotonic clock. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&tls->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pipe2(tls->wake, O_NONBLOCK | O_CLOEXEC) != 0 || pipe2(tls->kill, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    if ((rc = gnutls_certificate_allocate_credentials(&tls->cred)) < 0 ||
        (rc = gnutls_priority_init(&tls->prio, PRIORITIES, NULL)) < 0) {
        snprintf(err, errlen, "TLS set-up: %s", gnutls_strerror(rc));
        goto fail;
    }
    gnutls_certificate_set_retrieve_function2(tls->cred, pick_cert);
    tls->listen_fd = http_listen(host, port, &tls->port, err, errlen);
    if (tls->listen_fd < 0)
        goto fail;
    if (pthread_create(&tls->acceptor, NULL, accept_main, tls) != 0) {
        snprintf(err, errlen, "cannot start the TLS accept thread");
        goto fail;
    }
    tls->acceptor_started = 1;
    return tls;
fail:
    tls_free(tls);
    return NULL;
}

int tls_server_port(const struct tls_server *tls)
{
    return tls->port;
}

/* One byte, never read: leaves the pipe readable for every poll after. */
static void signal_pipe(int fd)
{
    if (write(fd, "", 1) < 0) {
        /* Cannot fail: the pipe is empty and this is its only byte. */
    }
}

void tls_server_quiesce(struct tls_server *tls)
{
    if (tls == NULL || !tls->acceptor_started)
        return;
    pthread_mutex_lock(&tls->mu);
    tls->quiesced = 1;
    pthread_mutex_unlock(&tls->mu);
    signal_pipe(tls->wake[1]);
    pthread_join(tls->acceptor, NULL);
    tls->acceptor_started = 0;
    close(tls->listen_fd);
    tls->listen_fd = -1;
    wait_count(tls, &tls->handshaking, 0);
}

void tls_server_stop(struct tls_server *tls)
{
    if (tls == NULL)
        return;
    tls_server_quiesce(tls);
    wait_count(tls, &tls->threads, now_ms() + FLUSH_MS);
    signal_pipe(tls->kill[1]);
    wait_count(tls, &tls->threads, 0);
    tls_free(tls);
}
