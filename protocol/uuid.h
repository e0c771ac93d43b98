/* Random (version 4) UUIDs, lower case: request ids, Firehose object names,
 * invocation ids. */
#ifndef TP_UUID_H
#define TP_UUID_H

#define UUID_LEN 36

/* Writes UUID_LEN characters and a NUL. */
void uuid_v4(char out[UUID_LEN + 1]);

#endif
