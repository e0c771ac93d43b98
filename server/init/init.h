/* Start-up declarations: --init FILE and --preset NAME (see init.c). */
#ifndef TP_INIT_H
#define TP_INIT_H

#include <stddef.h>

/* At option parsing: reads an init file (its Lambda hooks are registered at
 * once) or a built-in preset; -1 with a message. The file's shape:
 *   {"lambdas": {"NAME": "HOOK"},
 *    "buckets": ["NAME" | {"Bucket": NAME, "Region": REGION}],
 *    "streams": [CreateStream request (+ "Region")],
 *    "deliveryStreams": [CreateDeliveryStream request (+ "Region")],
 *    "datasets": [{"Type": "workshop-taxi", "Trips": N, "Seed": S}]} */
int init_load_file(const char *path, char *err, size_t errlen);
/* "workshop": the workshop's CloudFormation stack: the taxi dataset bucket
 * with `trips` trips, the output bucket, the EnrichEventsLambda hook. */
int init_preset(const char *name, unsigned long trips, char *err, size_t errlen);
/* After storage is open: creates what was declared and is absent, printing
 * what it made. -1 with a message. */
int init_apply(char *err, size_t errlen);
void init_free(void);

#endif
