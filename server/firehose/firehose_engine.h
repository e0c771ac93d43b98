/* The Firehose delivery engine: one worker thread per ACTIVE delivery
 * stream, reading its source (the DirectPut buffer or the Kinesis stream),
 * transforming through the Lambda hook, buffering, compressing and writing
 * S3 objects through storage, not over HTTP. See firehose_delivery.h. */
#ifndef TP_FIREHOSE_ENGINE_H
#define TP_FIREHOSE_ENGINE_H

#include "protocol/json_writer.h"

/* After db_open; before db_close, firehose_engine_stop. */
int firehose_engine_start(void);
void firehose_engine_stop(void);
/* Delivery streams were created, changed or deleted: look again now. */
void firehose_engine_wake(void);
/* The GET /_tidepool/firehose body: per delivery stream what is buffered,
 * the last delivery and the last error. */
void firehose_engine_status(struct jw *w);

#endif
