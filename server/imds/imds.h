/* The EC2 instance metadata service (IMDS) on a port of its own
 * (--imds-port): what SDKs ask an instance for its region and role
 * credentials. See imds.c. */
#ifndef TP_IMDS_H
#define TP_IMDS_H

#include <stddef.h>

struct imds_server;

/* Binds host:port (port 0 = any free port) and serves, describing an instance
 * in g_cfg's region and account. NULL on error, with a message in err. */
struct imds_server *imds_start(const char *host, int port, char *err, size_t errlen);
/* The port actually bound. */
int imds_port(const struct imds_server *s);
/* Stops serving and frees everything; NULL is a no-op. */
void imds_stop(struct imds_server *s);

#endif
