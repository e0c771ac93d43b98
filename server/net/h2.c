/* HTTP/2 cleartext (prior knowledge) on one accepted socket, on libnghttp2.
 *
 * The connection thread owns the socket and the nghttp2 session: it reads,
 * feeds nghttp2, collects each stream's headers and body into a job, and sends.
 * A complete request is run by router_dispatch on a short-lived worker thread,
 * because handlers block (up to ~100 ms on a group commit): run inline they
 * would serialise every stream of the connection — the AWS JS SDK multiplexes
 * all its calls on one connection — and stop the reading that keeps PINGs and
 * flow control going. A worker touches only its job; it hands the finished job
 * back through a mutex-guarded queue and a wake-up pipe, and the connection
 * thread submits the response if the stream still exists.
 *
 * When the request's head is in (END_HEADERS), router_stream_open may take the
 * body as a stream: DATA then goes to its write() on the connection thread as
 * it arrives (a brief block there holds the client back through TCP; nothing
 * is buffered), and its finish() runs on a worker in place of router_dispatch
 * — at END_STREAM, as soon as write() refuses (later DATA is dropped, and the
 * stream reset once the response is out), or with complete = 0 when the
 * stream closes first (RST_STREAM); at teardown, inline.
 * A response with a tp_source is pulled by the DATA provider on the
 * connection thread as flow control allows, and closed with its job. */
#define _GNU_SOURCE /* pipe2 */
#include "server/net/h2.h"
#include "server/net/request.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
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

#define MAX_STREAMS 100
/* Flow control bounds what a connection makes us buffer. The connection
 * window is refreshed as data arrives (it must never block one stream behind
 * another's unfinished body); each stream's window only as its bytes are
 * consumed: at once for a streamed upload, and for a buffered body while the
 * connection holds under CONN_BUFFER_CAP and the process under
 * TP_MAX_BUFFERED. Past either, one stream per connection (the leader) still
 * gets window, so some body always completes and frees room; the others wait
 * with what their window let them send. Worst case per connection:
 * CONN_BUFFER_CAP + a leader's TP_MAX_BODY + MAX_STREAMS * STREAM_WINDOW. */
#define STREAM_WINDOW (1024 * 1024)
#define CONN_WINDOW (32 * 1024 * 1024)
#define CONN_BUFFER_CAP ((size_t)64 * 1024 * 1024)
#define MAX_HEADERS 128
#define MAX_HEADER_BYTES (64 * 1024)
#define RECV_CHUNK (64 * 1024)
#define POLL_MS 100           /* how soon *stop is noticed */
#define DRAIN_MS (10 * 1000)  /* after GOAWAY, time left to in-flight streams */

struct h2_conn;

/* One request/response exchange. While frames arrive it is the stream's user
 * data; during dispatch it belongs to a worker (and the stream has no user
 * data); afterwards it is the stream's user data again and feeds DATA frames. */
struct h2_job {
    struct h2_conn *conn;
    int32_t stream_id;
    char *method;
    char *path;            /* raw :path, split at '?' at dispatch */
    char *authority;
    struct tp_header *headers;
    size_t n_headers, header_bytes;
    struct tp_request rq;  /* built when the head is in; points into the above */
    struct tp_body body;
    struct tp_stream *stream; /* a streamed body's consumer, until finish() */
    int complete;          /* finish()'s argument */
    size_t buffered;       /* body bytes counted in conn->buffered */
    size_t deferred;       /* body bytes whose stream window is not yet given back */
    int rejected;          /* answered early (413): later frames are ignored */
    int head;
    struct tp_response rs;
    uint64_t sent;         /* bytes of rs.body or rs.source given to nghttp2 */
    struct h2_job *prev, *next; /* conn->jobs, connection thread only */
    struct h2_job *done_next;   /* conn->done, under conn->mu */
};

struct h2_conn {
    int fd;
    const volatile int *stop;
    nghttp2_session *session;
    int wake[2];               /* workers write a byte when a job finishes */
    pthread_mutex_t mu;
    pthread_cond_t cond;       /* signalled with each finished job */
    struct h2_job *done;       /* under mu */
    struct h2_job *jobs;       /* every live job, so none leaks at teardown */
    struct h2_job *leader;     /* the one buffered body that gets window past the caps */
    size_t buffered;           /* buffered body bytes of jobs not yet dispatched */
    size_t deferred;           /* sum of the jobs' deferred bytes */
    unsigned running;          /* jobs at workers; connection thread only */
    int draining;
    int64_t idle_ms;           /* with no traffic and no work this long, it is closed */
    int64_t header_ms;         /* a header block may be in progress this long */
    int64_t head_since_ms;     /* when the header block in progress began; 0: none */
    int64_t deadline_ms, last_io_ms;
    uint8_t buf[RECV_CHUNK];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Teardown with an upload still open: the connection is gone, so finish()
 * may block here, and its response has no one to go to. */
static void abandon_stream(struct h2_job *job)
{
    struct tp_response rs = {0};

    job->stream->finish(job->stream, 0, &rs);
    job->stream = NULL;
    response_free(&rs);
}

/* ---- flow control of request bodies (see STREAM_WINDOW) ---- */

static int over_budget(const struct h2_conn *c)
{
    return c->buffered > CONN_BUFFER_CAP || body_budget_exhausted();
}

static void give_window(struct h2_conn *c, struct h2_job *job, size_t n)
{
    if (n > 0) /* a stream already closed has no window left to give */
        (void)nghttp2_session_consume_stream(c->session, job->stream_id, n);
}

/* A buffered body's bytes arrived; the connection window is refreshed now. */
static void account_body(struct h2_conn *c, struct h2_job *job, size_t n)
{
    job->buffered += n;
    c->buffered += n;
    (void)nghttp2_session_consume_connection(c->session, n);
    if (over_budget(c) && c->leader != NULL && c->leader != job) {
        job->deferred += n;
        c->deferred += n;
        return;
    }
    if (over_budget(c))
        c->leader = job;
    give_window(c, job, n);
}

/* The job receives no more body (dispatched, refused or gone): its bytes
 * leave the connection's count. */
static void release_body(struct h2_conn *c, struct h2_job *job)
{
    c->buffered -= job->buffered;
    c->deferred -= job->deferred;
    job->buffered = job->deferred = 0;
    if (c->leader == job)
        c->leader = NULL;
}

/* Gives deferred streams their window back while there is room, or to a new
 * leader when there is none. */
static void release_deferred(struct h2_conn *c)
{
    for (struct h2_job *j = c->jobs; j != NULL && c->deferred > 0; j = j->next) {
        if (j->deferred == 0)
            continue;
        if (over_budget(c)) {
            if (c->leader != NULL)
                return;
            c->leader = j;
        }
        give_window(c, j, j->deferred);
        c->deferred -= j->deferred;
        j->deferred = 0;
    }
}

static void free_job(struct h2_job *job)
{
    struct h2_conn *c = job->conn;

    release_body(c, job);
    if (job->stream != NULL)
        abandon_stream(job);
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        c->jobs = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    free(job->method);
    free(job->path);
    free(job->authority);
    for (size_t i = 0; i < job->n_headers; i++) {
        free(job->headers[i].name);
        free(job->headers[i].value);
    }
    free(job->headers);
    body_free(&job->body);
    response_free(&job->rs);
    free(job);
}

/* The request is no longer needed once dispatched; a 12 MiB body should not
 * stay around while the response is sent. */
static void drop_request(struct h2_job *job)
{
    for (size_t i = 0; i < job->n_headers; i++) {
        free(job->headers[i].name);
        free(job->headers[i].value);
    }
    free(job->headers);
    job->headers = NULL;
    job->n_headers = 0;
    body_free(&job->body);
}

static int add_header(struct h2_job *job, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
    struct tp_header *h;
    char *n, *v;

    /* Space for MAX_HEADERS plus a synthesized "host" is allocated at once. */
    if (job->headers == NULL) {
        job->headers = calloc(MAX_HEADERS + 1, sizeof *job->headers);
        if (job->headers == NULL)
            return -1;
    }
    n = strndup(name, nlen);
    v = strndup(value, vlen);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    h = &job->headers[job->n_headers++];
    h->name = n;
    h->value = v;
    return 0;
}

/* Builds job->rq once the head is in: the path split at '?', and a "host"
 * header from :authority, since services read only headers. -1 for CONNECT,
 * the one method nghttp2 lets through without :path. */
static int read_head(struct h2_job *job)
{
    char *query;

    if (job->method == NULL || job->path == NULL)
        return -1;
    query = strchr(job->path, '?');
    if (query != NULL)
        *query++ = '\0';
    if (job->authority != NULL) {
        int has_host = 0;
        for (size_t i = 0; i < job->n_headers; i++)
            has_host |= strcmp(job->headers[i].name, "host") == 0;
        /* Out of memory here only loses the synthesized header. */
        if (!has_host)
            (void)add_header(job, "host", 4, job->authority, strlen(job->authority));
    }
    job->rq.method = job->method;
    job->rq.path = job->path;
    job->rq.query = query != NULL ? query : "";
    job->rq.headers = job->headers;
    job->rq.n_headers = job->n_headers;
    job->rq.http2 = 1;
    return 0;
}

/* Worker side: the response comes from the stream's finish(), or from the
 * router on the buffered body. */
static void run_job(struct h2_job *job)
{
    struct tp_stream *st = job->stream;

    if (st != NULL) {
        job->stream = NULL;
        st->finish(st, job->complete, &job->rs);
    } else if (job->rq.method == NULL) {
        job->rs.status = 400; /* CONNECT */
    } else {
        job->rq.body = job->body.buf;
        job->rq.body_len = job->body.len;
        router_dispatch(&job->rq, &job->rs);
    }
}

static void *worker_main(void *arg)
{
    struct h2_job *job = arg;
    struct h2_conn *c = job->conn;

    run_job(job);
    drop_request(job);
    /* Everything below happens under the lock: once it is released the
     * connection thread may tear the connection down. */
    pthread_mutex_lock(&c->mu);
    job->done_next = c->done;
    c->done = job;
    if (write(c->wake[1], "", 1) < 0) {
        /* Pipe full: a wake-up is already pending, the poll will fire. */
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Hands the job to a worker. For a streamed body, complete is finish()'s
 * argument: 1 at END_STREAM, 0 when write() refused or the stream closed first. */
static void dispatch(struct h2_conn *c, struct h2_job *job, int complete)
{
    pthread_t t;

    job->complete = complete;
    release_body(c, job);
    release_deferred(c);
    nghttp2_session_set_stream_user_data(c->session, job->stream_id, NULL);
    c->running++;
    /* Without a thread the handler runs here: slower, but still correct. */
    if (pthread_create(&t, NULL, worker_main, job) != 0)
        worker_main(job);
    else
        pthread_detach(t);
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *user_data)
{
    struct h2_job *job = source->ptr;
    size_t left = job->rs.body_len - (size_t)job->sent;

    (void)session;
    (void)stream_id;
    (void)user_data;
    if (length > left)
        length = left;
    memcpy(buf, job->rs.body + job->sent, length);
    job->sent += length;
    if (job->sent == job->rs.body_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)length;
}

/* Called only while bytes remain, so a source that gives none ends before its
 * Content-Length: like a read error, that resets the stream (nghttp2 turns
 * the temporal failure into RST_STREAM), since the headers are already out. */
static ssize_t read_source(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                           size_t length, uint32_t *data_flags,
                           nghttp2_data_source *source, void *user_data)
{
    struct h2_job *job = source->ptr;
    struct tp_source *src = job->rs.source;
    long n;

    (void)session;
    (void)stream_id;
    (void)user_data;
    if (length > src->length - job->sent)
        length = (size_t)(src->length - job->sent);
    n = src->read(src, job->sent, buf, length);
    if (n <= 0 || (size_t)n > length)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    job->sent += (uint64_t)n;
    if (job->sent == src->length)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
}

/* Headers that are forbidden in HTTP/2 (RFC 9113 8.2.2) — a peer such as node
 * treats them as a protocol error — and content-length, which is set here. */
static int skip_response_header(const char *name)
{
    static const char *const skip[] = {"connection", "keep-alive", "proxy-connection",
                                       "transfer-encoding", "upgrade", "content-length"};

    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcasecmp(name, skip[i]) == 0)
            return 1;
    return 0;
}

static uint64_t body_length(const struct h2_job *job)
{
    return job->rs.source != NULL ? job->rs.source->length : job->rs.body_len;
}

/* For HEAD the router may state the length of the body it did not produce
 * (as S3 does); otherwise the length is that of the source or the body. */
static unsigned long long content_length(const struct h2_job *job)
{
    if (job->head)
        for (size_t i = 0; i < job->rs.n_headers; i++)
            if (strcasecmp(job->rs.headers[i].name, "content-length") == 0)
                return strtoull(job->rs.headers[i].value, NULL, 10);
    return body_length(job);
}

static nghttp2_nv make_nv(const char *name, const char *value)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* Submits job->rs on its stream; the job must already be the stream's user
 * data so that it lives as long as the DATA frames it feeds. nghttp2 copies
 * and lower-cases the header names. A source not read (HEAD, 204, empty) is
 * closed with the job. */
static int submit_response(struct h2_conn *c, struct h2_job *job)
{
    nghttp2_nv nva[TP_MAX_RESPONSE_HEADERS + 2];
    nghttp2_data_provider prd = {.source.ptr = job,
                                 .read_callback = job->rs.source != NULL ? read_source : read_body};
    char status[8], clen[24];
    int code = job->rs.status;
    size_t n = 0;

    if (code < 200 || code > 599)
        code = 500;
    snprintf(status, sizeof status, "%d", code);
    nva[n++] = make_nv(":status", status);
    for (size_t i = 0; i < job->rs.n_headers; i++)
        if (!skip_response_header(job->rs.headers[i].name))
            nva[n++] = make_nv(job->rs.headers[i].name, job->rs.headers[i].value);
    /* 204 and 304 have neither a body nor a length (RFC 9110 8.6). */
    if (code == 204 || code == 304)
        return nghttp2_submit_response(c->session, job->stream_id, nva, n, NULL);
    snprintf(clen, sizeof clen, "%llu", content_length(job));
    nva[n++] = make_nv("content-length", clen);
    return nghttp2_submit_response(c->session, job->stream_id, nva, n,
                                   job->head || body_length(job) == 0 ? NULL : &prd);
}

/* Answers (413, 503) while the body is still arriving and forgets what was
 * buffered; on_frame_send then tells the peer to stop sending. */
static void reject(struct h2_conn *c, struct h2_job *job, int status)
{
    job->rejected = 1;
    release_body(c, job);
    release_deferred(c);
    drop_request(job);
    job->rs.status = status;
    if (submit_response(c, job) != 0)
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, job->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
}

/* Takes the jobs workers have finished and submits their responses. */
static void collect_finished(struct h2_conn *c)
{
    char drain[64];
    struct h2_job *job, *next;

    while (read(c->wake[0], drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&c->mu);
    job = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    for (; job != NULL; job = next) {
        next = job->done_next;
        c->running--;
        /* Fails when the peer reset or the session closed the stream meanwhile. */
        if (nghttp2_session_set_stream_user_data(c->session, job->stream_id, job) != 0) {
            free_job(job);
            continue;
        }
        if (submit_response(c, job) != 0) {
            nghttp2_session_set_stream_user_data(c->session, job->stream_id, NULL);
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, job->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
            free_job(job);
        }
    }
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length,
                       int flags, void *user_data)
{
    struct h2_conn *c = user_data;
    ssize_t n;

    (void)session;
    (void)flags;
    n = send(c->fd, data, length, MSG_NOSIGNAL);
    if (n >= 0) {
        c->last_io_ms = now_ms();
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return NGHTTP2_ERR_WOULDBLOCK;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                            void *user_data)
{
    struct h2_conn *c = user_data;
    struct h2_job *job;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    c->head_since_ms = now_ms(); /* header blocks never interleave: one clock suffices */
    job = calloc(1, sizeof *job);
    if (job == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets just this stream */
    job->conn = c;
    job->stream_id = frame->hd.stream_id;
    job->next = c->jobs;
    if (c->jobs != NULL)
        c->jobs->prev = job;
    c->jobs = job;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, job);
    return 0;
}

static int set_pseudo(char **field, const uint8_t *value, size_t vlen)
{
    free(*field);
    *field = strndup((const char *)value, vlen);
    return *field != NULL ? 0 : -1;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data)
{
    struct h2_job *job = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    const char *n = (const char *)name;
    int rc = 0;

    (void)flags;
    (void)user_data;
    /* Trailers (a second HEADERS) carry nothing a service reads. */
    if (job == NULL || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    job->header_bytes += namelen + valuelen + 32; /* RFC 9113 6.5.2 accounting */
    if (job->header_bytes > MAX_HEADER_BYTES)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (namelen == 7 && memcmp(n, ":method", 7) == 0)
        rc = set_pseudo(&job->method, value, valuelen);
    else if (namelen == 5 && memcmp(n, ":path", 5) == 0)
        rc = set_pseudo(&job->path, value, valuelen);
    else if (namelen == 10 && memcmp(n, ":authority", 10) == 0)
        rc = set_pseudo(&job->authority, value, valuelen);
    else if (n[0] != ':')
        rc = job->n_headers < MAX_HEADERS
                 ? add_header(job, n, namelen, (const char *)value, valuelen)
                 : -1;
    return rc == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    struct h2_conn *c = user_data;
    struct h2_job *job = nghttp2_session_get_stream_user_data(session, stream_id);

    (void)flags;
    if (job == NULL || job->rejected) { /* dropped: its window is free again */
        (void)nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    /* A refused piece ends the upload: dispatch detaches the job from the
     * stream, so the rest of the body finds none and is dropped. */
    if (job->stream != NULL) {
        if (job->stream->write(job->stream, data, len) != 0)
            dispatch(c, job, 0);
        (void)nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    switch (body_append(&job->body, data, len)) {
    case 0:
        account_body(c, job, len);
        return 0;
    case 1:
        (void)nghttp2_session_consume(session, stream_id, len);
        reject(c, job, 413);
        return 0;
    default:
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
}

/* A declared length over the limit is refused before any byte is buffered. */
static int declares_too_large(const struct h2_job *job)
{
    for (size_t i = 0; i < job->n_headers; i++)
        if (strcmp(job->headers[i].name, "content-length") == 0)
            return strtoull(job->headers[i].value, NULL, 10) > TP_MAX_BODY;
    return 0;
}

/* The head is in, no body yet: a service may take the body as a stream (the
 * request is then dropped: the service copied what it needs, and the upload
 * may last minutes); otherwise a declared length over the limit is refused
 * before any byte is buffered, and so is any body while the process holds
 * too many (clients retry a 503). */
static void begin_request(struct h2_conn *c, struct h2_job *job, int has_body)
{
    job->head = job->method != NULL && strcmp(job->method, "HEAD") == 0;
    if (read_head(job) == 0)
        job->stream = router_stream_open(&job->rq);
    if (job->stream != NULL)
        drop_request(job);
    else if (declares_too_large(job))
        reject(c, job, 413);
    else if (has_body && body_budget_exhausted())
        reject(c, job, 503);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data)
{
    struct h2_conn *c = user_data;
    struct h2_job *job;

    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS)
        c->head_since_ms = 0;
    job = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (job == NULL || job->rejected)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        begin_request(c, job, !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM));
        if (job->rejected)
            return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        dispatch(c, job, 1);
    return 0;
}

/* A response completed while the request body is still coming (a 413, or an
 * upload whose write() refused): RST_STREAM(NO_ERROR) tells the client to stop
 * sending (RFC 9113 8.1); without it curl waits for a stream end that never
 * comes. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data)
{
    (void)user_data;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

/* A job still attached here is receiving its body (the peer reset the
 * stream, or the session closed it) or sending its response. An open upload
 * still gets its finish(), on a worker like any other; collect_finished then
 * finds the stream gone and frees the job. */
static int on_stream_close(nghttp2_session *session, int32_t stream_id,
                           uint32_t error_code, void *user_data)
{
    struct h2_job *job = nghttp2_session_get_stream_user_data(session, stream_id);

    (void)error_code;
    if (job != NULL && job->stream != NULL)
        dispatch(user_data, job, 0);
    else if (job != NULL)
        free_job(job);
    return 0;
}

static int new_session(struct h2_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    int rc;

    rc = nghttp2_session_callbacks_new(&cb);
    if (rc != 0)
        return rc;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    rc = nghttp2_option_new(&opt);
    if (rc == 0) {
        nghttp2_option_set_no_auto_window_update(opt, 1); /* see STREAM_WINDOW */
        rc = nghttp2_session_server_new2(&c->session, cb, c, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        goto out;
    rc = nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    if (rc != 0)
        goto out;
    /* The connection window is not a SETTINGS value: raising it sends a
     * WINDOW_UPDATE on stream 0. */
    rc = nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
out:
    return rc;
}

/* GOAWAY naming the last stream accepted: those finish, newer ones are refused
 * and the client retries them elsewhere. */
static void start_drain(struct h2_conn *c)
{
    c->draining = 1;
    c->deadline_ms = now_ms() + DRAIN_MS;
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

/* Returns 0 when the connection is over: peer closed, socket error, or a
 * fatal protocol error (nghttp2 has then queued its GOAWAY, or cannot). */
static int read_some(struct h2_conn *c)
{
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);

    if (n == 0)
        return 0;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c->last_io_ms = now_ms();
    return nghttp2_session_mem_recv(c->session, c->buf, (size_t)n) >= 0;
}

static int should_drain(const struct h2_conn *c, int64_t now)
{
    return __atomic_load_n(c->stop, __ATOMIC_RELAXED) ||
           (c->running == 0 && now - c->last_io_ms > c->idle_ms);
}

static void serve(struct h2_conn *c)
{
    for (;;) {
        int want_read, want_write;
        struct pollfd pf[2];
        int64_t now = now_ms();

        if (c->head_since_ms != 0 && now - c->head_since_ms > c->header_ms)
            return; /* a header block trickled or left unfinished (slowloris) */
        if (!c->draining && should_drain(c, now))
            start_drain(c);
        if (c->draining && now > c->deadline_ms)
            return;
        collect_finished(c);
        if (c->deferred > 0) /* room may have been freed by other connections */
            release_deferred(c);
        if (nghttp2_session_send(c->session) != 0)
            return;
        want_read = nghttp2_session_want_read(c->session);
        want_write = nghttp2_session_want_write(c->session);
        if (!want_read && !want_write)
            return; /* GOAWAY exchanged and every stream done */
        pf[0] = (struct pollfd){c->fd, (short)((want_read ? POLLIN : 0) |
                                               (want_write ? POLLOUT : 0)), 0};
        pf[1] = (struct pollfd){c->wake[0], POLLIN, 0};
        if (poll(pf, 2, POLL_MS) < 0 && errno != EINTR)
            return;
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_some(c))
            return;
    }
}

/* Workers hold pointers into the connection: wait for all of them. */
static void wait_workers(struct h2_conn *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->running > 0) {
        while (c->done == NULL)
            pthread_cond_wait(&c->cond, &c->mu);
        for (struct h2_job *j = c->done; j != NULL; j = j->done_next)
            c->running--;
        c->done = NULL; /* the jobs stay on c->jobs and are freed with it */
    }
    pthread_mutex_unlock(&c->mu);
}

static struct h2_conn *conn_new(int fd, const volatile int *stop, const struct http_limits *lim)
{
    struct h2_conn *c = calloc(1, sizeof *c);
    int flags = fcntl(fd, F_GETFL);

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->stop = stop;
    c->idle_ms = (int64_t)lim->idle_timeout_s * 1000;
    c->header_ms = lim->header_timeout_ms;
    c->last_io_ms = now_ms();
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

/* nghttp2_session_del runs no stream-close callbacks: the jobs still attached
 * to streams are freed from c->jobs (open uploads finished, sources closed). */
static void conn_free(struct h2_conn *c)
{
    wait_workers(c);
    while (c->jobs != NULL)
        free_job(c->jobs);
    nghttp2_session_del(c->session);
    close(c->wake[0]);
    close(c->wake[1]);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void h2_serve_connection(int fd, const volatile int *stop, const struct http_limits *lim)
{
    struct h2_conn *c = conn_new(fd, stop, lim);

    if (c != NULL) {
        if (new_session(c) == 0)
            serve(c);
        conn_free(c);
    }
    close(fd);
}
