/* The workshop's NYC taxi trip dataset (issue 5 item 1), generated locally in
 * place of s3://aws-bigdata-blog/<WORKSHOP_PREFIX>, which amazon-kinesis-replay
 * lists and reads in key order (workshop-clients.md §1).
 *
 * Each object is NDJSON, one minified trip per line, fields in this order:
 *   type ("trip"), trip_id (1, 2, ... in dropoff order), vendor_id (1|2),
 *   pickup_datetime, dropoff_datetime ("2018-01-01T00:04:37Z"),
 *   passenger_count (1-6), trip_distance (miles, 2 decimals),
 *   pickup_location_id, dropoff_location_id (NYC taxi zones),
 *   pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude
 *   (6 decimals), fare_amount, tip_amount, total_amount (2 decimals).
 * Dropoff times start at 2018-01-01T00:00:00Z and never decrease, across
 * objects in key order too; a trip's pickup may fall in 2017, as the real
 * data is partitioned by dropoff year. The density follows a daily curve of
 * 12,600 to 16,700 trips per hour (see workshop_data.c), which replayed at
 * -speedup 720 gives the workshop's ~3,400 events/s.
 *
 * Each object is exactly one LZ4 frame (magic 04 22 4D 18), as the lz4 CLI
 * writes: the replay's commons-compress detects the frame and reads only the
 * first one. The same seed and count give byte-identical objects. */
#ifndef TP_WORKSHOP_DATA_H
#define TP_WORKSHOP_DATA_H

#include <stddef.h>
#include <stdint.h>

#define WORKSHOP_BUCKET "aws-bigdata-blog"
#define WORKSHOP_PREFIX "artifacts/kinesis-analytics-taxi-consumer/taxi-trips-partitioned.json.lz4/dropoff_year=2018/"
#define WORKSHOP_DEFAULT_TRIPS 150000
#define WORKSHOP_MIN_TRIPS 100000 /* replay 0.1.0 waits for 100,000 buffered events and hangs with fewer */
/* ~270 days of trips: the data stays in 2018. */
#define WORKSHOP_MAX_TRIPS 100000000
/* Trips per object (the last one may hold fewer): ~1h20m of data, ~8 MB of
 * JSON, ~1.7 MB compressed. */
#define WORKSHOP_TRIPS_PER_OBJECT 20000

struct trips_gen;

/* A generator of `trips` trips, 1 to WORKSHOP_MAX_TRIPS (the CLI enforces
 * WORKSHOP_MIN_TRIPS). NULL for a count out of range or out of memory. */
struct trips_gen *trips_gen_new(uint64_t seed, unsigned long trips);
/* The next object in key order: its name under WORKSHOP_PREFIX
 * ("part-00000.json.lz4", ...) and its bytes, one LZ4 frame, malloc'd for the
 * caller to free. 1 = got one, 0 = no more, -1 = failure (out of memory, or
 * namelen too small), after which only trips_gen_free is meaningful. */
int trips_gen_next(struct trips_gen *g, char *name, size_t namelen, unsigned char **data, size_t *len);
void trips_gen_free(struct trips_gen *g);

#endif
