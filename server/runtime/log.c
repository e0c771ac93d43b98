/* log_msg: one line per event on stderr, UTC timestamp and level first;
 * whole lines even when threads log at once. */
#include "server/runtime/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const NAMES[] = {"error", "warn", "info", "debug"};
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;
    if (lvl > g_cfg.log_level)
        return;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s %s ", ts, NAMES[lvl]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}
