/* The re-sorting buffer between the reader and the main loop: a binary
 * min-heap by (timestamp, reading order) of at most -bufferSize events, as
 * the original's PriorityBlockingQueue, with ties kept in reading order. */
#include "replay/replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct replay_buffer {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* an event came or went, or the state changed */
    struct replay_event **heap;
    size_t n, cap;
    int finished, closed;
};

static int before(const struct replay_event *a, const struct replay_event *b)
{
    return a->ts_ms < b->ts_ms || (a->ts_ms == b->ts_ms && a->seq < b->seq);
}

static void swap(struct replay_event **h, size_t i, size_t j)
{
    struct replay_event *t = h[i];
    h[i] = h[j];
    h[j] = t;
}

struct replay_buffer *replay_buffer_new(size_t capacity)
{
    struct replay_buffer *b = calloc(1, sizeof *b);

    if (!b || !(b->heap = calloc(capacity, sizeof *b->heap))) {
        free(b);
        return NULL;
    }
    b->cap = capacity;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->changed, NULL);
    return b;
}

void replay_buffer_free(struct replay_buffer *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->heap[i]);
    free(b->heap);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->changed);
    free(b);
}

/* Waits on the condition until the absolute deadline; 0 once it passed. */
static int wait_until(struct replay_buffer *b, const struct timespec *deadline)
{
    return pthread_cond_timedwait(&b->changed, &b->mu, deadline) != ETIMEDOUT;
}

int replay_buffer_put(struct replay_buffer *b, struct replay_event *e)
{
    pthread_mutex_lock(&b->mu);
    while (b->n == b->cap && !b->closed)
        pthread_cond_wait(&b->changed, &b->mu);
    if (b->closed) {
        pthread_mutex_unlock(&b->mu);
        free(e);
        return -1;
    }
    size_t i = b->n++;
    b->heap[i] = e;
    for (; i > 0 && before(b->heap[i], b->heap[(i - 1) / 2]); i = (i - 1) / 2)
        swap(b->heap, i, (i - 1) / 2);
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

void replay_buffer_finish(struct replay_buffer *b)
{
    pthread_mutex_lock(&b->mu);
    b->finished = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->mu);
}

void replay_buffer_close(struct replay_buffer *b)
{
    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->mu);
}

int replay_buffer_wait_filled(struct replay_buffer *b, int timeout_ms)
{
    struct timespec deadline = replay_deadline(timeout_ms);

    pthread_mutex_lock(&b->mu);
    while (b->n < b->cap && !b->finished && wait_until(b, &deadline))
        ;
    int filled = b->n == b->cap || b->finished;
    pthread_mutex_unlock(&b->mu);
    return filled;
}

struct replay_event *replay_buffer_take(struct replay_buffer *b, int timeout_ms, int *done)
{
    struct timespec deadline = replay_deadline(timeout_ms);
    struct replay_event *e = NULL;

    pthread_mutex_lock(&b->mu);
    while (b->n == 0 && !b->finished && wait_until(b, &deadline))
        ;
    *done = b->n == 0 && b->finished;
    if (b->n > 0) {
        e = b->heap[0];
        b->heap[0] = b->heap[--b->n];
        for (size_t i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < b->n && before(b->heap[l], b->heap[m]))
                m = l;
            if (r < b->n && before(b->heap[r], b->heap[m]))
                m = r;
            if (m == i)
                break;
            swap(b->heap, i, m);
            i = m;
        }
        pthread_cond_broadcast(&b->changed);
    }
    pthread_mutex_unlock(&b->mu);
    return e;
}

size_t replay_buffer_size(struct replay_buffer *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}
