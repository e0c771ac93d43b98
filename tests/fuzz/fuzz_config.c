/* What server/main.c defines for the rest of the server, for the targets that
 * link the server's code: the default settings and a log that only keeps
 * errors (a fuzzer's output is for its findings). */
#include "server/config.h"

#include <stdarg.h>
#include <stdio.h>

struct tp_config g_cfg = {
    .host = "127.0.0.1",
    .region = "us-east-1",
    .account = "000000000000",
    .log_level = LOG_ERROR,
    .shard_limit = 500,
    .imds_port = -1,
    .tls_port = -1,
};

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    if (lvl > g_cfg.log_level)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
