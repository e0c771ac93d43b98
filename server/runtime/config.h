/* Settings of a running server, filled once by the CLI before anything starts
 * and read-only afterwards. */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct tp_config {
    const char *host;
    int port;
    const char *data_dir;    /* NULL with --in-memory */
    const char *region;      /* default region when a request names none */
    const char *account;     /* 12 digits, used in ARNs and messages */
    enum log_level log_level;
    unsigned stream_delay_ms;/* CREATING/DELETING/UPDATING last this long */
    unsigned shard_limit;    /* shards per account and region */
    const char *s3_domains[8];/* extra base domains for virtual-hosted S3 (--s3-domain) */
    unsigned n_s3_domains;
    int imds_port;           /* --imds-port: EC2 instance metadata here; -1 = none */
    int tls_port;            /* --tls-port: HTTPS here; -1 = none */
};

extern struct tp_config g_cfg;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
