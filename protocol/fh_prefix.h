/* Amazon Data Firehose's S3 object keys: `<evaluated prefix><suffix>`, where
 * Prefix and ErrorOutputPrefix are templates with !{namespace:value}
 * expressions (timestamp: a Java DateTimeFormatter pattern; firehose:
 * random-string, error-output-type; partitionKeyFromQuery/Lambda with dynamic
 * partitioning) and the suffix is
 * `<stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><ext>`.
 *
 * Time zones other than UTC go through glibc's TZ (there is no per-zone API):
 * the conversion sets TZ under a lock and leaves it set, so nothing else in the
 * program may use local time (localtime, mktime, strftime %Z...). main should
 * put TZ in the environment (e.g. setenv("TZ", "UTC", 1)) before it starts
 * threads, so that later changes replace a value instead of growing environ.
 * Zones are read from /usr/share/zoneinfo (Debian package tzdata), or $TZDIR. */
#ifndef TP_FH_PREFIX_H
#define TP_FH_PREFIX_H

#include <stddef.h>
#include <stdint.h>

/* AWS's limit on an evaluated Prefix or ErrorOutputPrefix. */
#define FH_PREFIX_EVAL_MAX 512
/* Enough for any key: evaluated prefix, 64-char stream name, suffix, 128-char extension. */
#define FH_KEY_MAX 1024
/* Enough for any validation message (some quote a whole 1024-char prefix). */
#define FH_MSG_MAX 1280

/* The semantic rules of CreateDeliveryStream/UpdateDestination for Prefix,
 * ErrorOutputPrefix (either may be NULL or empty) and CustomTimeZone (NULL or
 * empty is UTC). Lengths (0..1024, 0..50) and the CustomTimeZone pattern are
 * the shape rules' job. Returns 0, or -1 with AWS's InvalidArgumentException
 * message in msg (NUL-terminated, truncated to msglen). */
int fh_prefix_validate(const char *prefix, const char *error_prefix, int dynamic_partitioning,
                       const char *time_zone, char *msg, size_t msglen);

/* The key of an object whose oldest record arrived at instant_ms, in
 * time_zone. error_type is NULL for delivered data, else the
 * !{firehose:error-output-type} value ("processing-failed", ...) and the key
 * goes under ErrorOutputPrefix (or, when that is empty, under
 * `<Prefix><error_type>/yyyy/MM/dd/HH/`). ext may be NULL. Writes the key into
 * out (NUL-terminated) and returns its length; -1 when it does not fit outlen,
 * the evaluated prefix exceeds FH_PREFIX_EVAL_MAX, the instant is past the
 * year 9999, or the prefix holds what only validation accepts (dynamic
 * partitioning keys, which are not evaluated here). */
int fh_object_key(const char *prefix, const char *error_prefix, const char *error_type,
                  const char *stream_name, unsigned version, uint64_t instant_ms,
                  const char *time_zone, const char *ext, char *out, size_t outlen);

#endif
