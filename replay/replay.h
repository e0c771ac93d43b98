/* `tidepool replay`: amazon-kinesis-replay's client in C (workshop-clients.md
 * §1). It reads NDJSON events from S3 and replays them into a Kinesis stream
 * at a multiple of their original pace, as that tool does, over plain HTTP
 * with SigV4 to tidepool or to AWS.
 *
 * Threads and the way an event travels:
 *   reader (replay.c, replay_s3.c): lists and fetches the objects, inflates
 *     them, splits lines, parses each line into an event (replay_event.c)
 *     and puts it into the re-sorting buffer (replay_buffer.c);
 *   main (replay.c): takes the earliest event, waits until it is due, hands
 *     it to the sender, prints statistics and progress;
 *   lanes (replay_sender.c): PutRecords batches, one lane per group of
 *     shards so that each shard's records stay in order; failed entries are
 *     retried;
 *   shards (replay_kinesis.c): ListShards every 10 s, watermarks every 1 s. */
#ifndef TP_REPLAY_H
#define TP_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "protocol/json_writer.h"

#define REPLAY_NO_TIME INT64_MIN

struct replay_opts {
    const char *stream_name, *stream_arn, *stream_region;
    const char *bucket_name, *bucket_region, *object_prefix;
    const char *kinesis_endpoint, *s3_endpoint;
    const char *ts_attr;
    double speedup;
    int64_t seek_ms; /* REPLAY_NO_TIME: no -seek */
    long stats_ms;
    long buffer_size, max_outstanding;
    int aggregate, watermarks, backpressure;
};

/* ---- replay.c ---- */

/* `tidepool replay ARGS`, argv[0] being "replay": the exit status. */
int replay_main(int argc, char **argv);

/* Set by the first SIGINT/SIGTERM: stop reading, send what is in flight. */
extern volatile sig_atomic_t replay_stopping;

/* A log line on stdout, laid out as the original's log4j lines
 * ("2024-01-01 12:00:00 [main] INFO  StreamPopulator - ..."). */
void replay_log(const char *level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t replay_clock_ms(void); /* monotonic */
/* The CLOCK_REALTIME instant ms from now, for pthread_cond_timedwait. */
struct timespec replay_deadline(int ms);

/* ---- replay_event.c: one line of input ---- */

struct replay_event {
    struct replay_event *next; /* in a lane's queue */
    int64_t ts_ms;             /* the timestamp attribute */
    uint64_t seq;              /* reading order: ties in the buffer keep it */
    unsigned attempts;         /* PutRecords attempts so far */
    unsigned shard;            /* position in the shard map when it was routed */
    char pk[12];               /* partition key: Integer.toString(Objects.hash(payload)) */
    size_t len;
    char data[];               /* the line and "\n" */
};

/* The event of a line (without its line terminator), or NULL with *why set
 * to the reason it is skipped. */
struct replay_event *replay_event_parse(const char *line, size_t n, const char *ts_attr, uint64_t seq,
                                        const char **why);
/* An ISO-8601 instant with 'Z' (java.time.Instant.parse): milliseconds since
 * the epoch, digits past the millisecond dropped. 0, or -1 when malformed. */
int replay_parse_instant(const char *s, size_t n, int64_t *ms);
/* Instant.toString (fraction only when not zero), or with exactly three
 * fraction digits (the watermark's appendInstant(3)) when fixed3. */
void replay_format_instant(int64_t ms, int fixed3, char out[32]);
/* java.time.Duration.ofSeconds(s).toString(): PT0S, PT-1S, PT1M5S, PT2H. */
void replay_format_duration(int64_t s, char out[32]);
/* Java's String.hashCode() of the UTF-8 text, over its UTF-16 units. */
int32_t replay_java_hash(const char *s, size_t n);

/* ---- replay_buffer.c: the re-sorting buffer, earliest event first ---- */

struct replay_buffer;

struct replay_buffer *replay_buffer_new(size_t capacity);
/* Frees the buffer and the events still in it. */
void replay_buffer_free(struct replay_buffer *b);
/* Reader side: waits while full. 0, or -1 when the buffer was closed (the
 * event is freed then). */
int replay_buffer_put(struct replay_buffer *b, struct replay_event *e);
/* Reader side: no more events will come. */
void replay_buffer_finish(struct replay_buffer *b);
/* Consumer side: wakes and refuses the reader. */
void replay_buffer_close(struct replay_buffer *b);
/* Waits up to timeout_ms until the buffer is full or finished: 1 then, else 0. */
int replay_buffer_wait_filled(struct replay_buffer *b, int timeout_ms);
/* The earliest event, waiting up to timeout_ms; NULL on timeout, or with
 * *done = 1 when finished and empty. */
struct replay_event *replay_buffer_take(struct replay_buffer *b, int timeout_ms, int *done);
size_t replay_buffer_size(struct replay_buffer *b);

/* ---- replay_http.c: signed requests with libcurl ---- */

struct aws_client;

struct aws_request {
    const char *method, *service, *region;
    const char *path;         /* URI-encoded */
    const char *query;        /* URI-encoded, without '?'; NULL for none */
    const char *content_type; /* NULL for none */
    const char *target;       /* X-Amz-Target; NULL for none */
    const void *body;
    size_t len;
    long timeout_ms;          /* 0: none, only the stall limit */
    int abortable;            /* given up once replay_stopping is set */
};

struct aws_response {
    long status;    /* 0 when no response arrived */
    char *body;     /* NUL-terminated */
    size_t len;
    char error[256]; /* why no response arrived */
};

/* Reads the credentials from the environment once (dummy ones, said once on
 * stderr, when there are none). 0, or -1 when curl cannot start. */
int aws_http_init(void);
void aws_http_cleanup(void);
/* A connection (kept alive between calls) to endpoint, "http(s)://HOST[:PORT]".
 * NULL with err set when the endpoint is not such a URL. */
struct aws_client *aws_client_new(const char *endpoint, char *err, size_t errlen);
void aws_client_free(struct aws_client *c);
const char *aws_client_endpoint(const struct aws_client *c);
/* 0 with resp filled (any status), or -1 with resp->error set. */
int aws_call(struct aws_client *c, const struct aws_request *r, struct aws_response *resp);
void aws_response_free(struct aws_response *resp);

/* ---- replay_s3.c ---- */

/* Receives each line without its terminator; non-zero stops the reading. */
typedef int (*replay_line_cb)(void *ctx, const char *line, size_t n);

/* Reads every object under the prefix, in key order, skipping README.md.
 * 0 at the end, 1 when cb stopped it, -1 with err set when the listing fails
 * or finds no object (an object that cannot be read is skipped with a warning,
 * as the original does). */
int replay_s3_read(const struct replay_opts *o, struct aws_client *c, replay_line_cb cb, void *ctx, char *err,
                   size_t errlen);

/* ---- replay_kinesis.c: calls, the shard map, watermarks ---- */

enum kinesis_status { KINESIS_OK, KINESIS_RETRY, KINESIS_FATAL };

/* The stream's member of a request: StreamARN with -streamArn (as replay
 * 2.0.0 sends it), else StreamName. */
void kinesis_stream_member(struct jw *w, const struct replay_opts *o);

/* POSTs a JSON 1.1 request. KINESIS_OK with *out the parsed answer;
 * otherwise err holds "Type: message" (or why no answer came) and the
 * status says whether trying again may help. */
enum kinesis_status kinesis_call(struct aws_client *c, const struct replay_opts *o, const char *op,
                                 const char *body, size_t len, cJSON **out, char *err, size_t errlen);

struct replay_shards;

/* Lists the open shards (the check that the stream exists); NULL with err set. */
struct replay_shards *replay_shards_open(const struct replay_opts *o, struct aws_client *c, char *err,
                                         size_t errlen);
void replay_shards_free(struct replay_shards *s);
size_t replay_shards_count(struct replay_shards *s);
/* The position of the open shard whose hash key range holds pk's hash. */
size_t replay_shards_route(struct replay_shards *s, const char *pk);
/* An event of time ts_ms was stored in shard_id. */
void replay_shards_ack(struct replay_shards *s, const char *shard_id, int64_t ts_ms);
/* The earliest of the open shards' latest acknowledged times, or
 * REPLAY_NO_TIME before any. */
int64_t replay_shards_min_acked(struct replay_shards *s);
/* The thread that refreshes the shard list and, when o->watermarks, sends
 * each open shard its watermark every second. */
int replay_shards_start(struct replay_shards *s, const char *endpoint);
/* Stops that thread and, with watermarks, sends a last round of them. */
void replay_shards_stop(struct replay_shards *s);

/* ---- replay_sender.c: PutRecords ---- */

struct replay_sender;

struct replay_sender *replay_sender_start(const struct replay_opts *o, struct replay_shards *shards,
                                          const char *endpoint, char *err, size_t errlen);
/* Queues the event (the sender frees it), waiting while -maxOutstandingRecords
 * are in flight. 0, or -1 when stopping or failed (e is freed then). */
int replay_sender_submit(struct replay_sender *s, struct replay_event *e);
/* Waits up to timeout_ms for every queued record to be acknowledged (or
 * given up): 1 when none is left, 0 on timeout, -1 after a fatal error. */
int replay_sender_drain(struct replay_sender *s, int timeout_ms);
size_t replay_sender_in_flight(struct replay_sender *s);
uint64_t replay_sender_acked(struct replay_sender *s);
/* Records given up after 100 attempts. */
uint64_t replay_sender_dropped(struct replay_sender *s);
/* The fatal error that stopped the lanes, or NULL. */
const char *replay_sender_error(struct replay_sender *s);
/* Stops the lanes (after a drain, nothing is lost) and frees s. */
void replay_sender_stop(struct replay_sender *s);

#endif
