/* The process's settings with their defaults; the CLI (main.c) fills them
 * before anything starts. */
#include "server/runtime/config.h"

struct tp_config g_cfg = {
    .host = "127.0.0.1",
    .port = 4566,
    .data_dir = "./data",
    .region = "us-east-1",
    .account = "000000000000",
    .log_level = LOG_INFO,
    .stream_delay_ms = 0,
    .shard_limit = 500,
    .imds_port = -1,
    .tls_port = -1,
};
