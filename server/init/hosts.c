/* `tidepool hosts`: prints /etc/hosts lines mapping the AWS host names an
 * unmodified tool would call (Kinesis, Firehose, CloudWatch, S3 and each
 * bucket's virtual host in the data directory) to tidepool's address, with
 * comments on the ports and on trusting the local CA (server/tls_ca.c).
 * Bucket names are read without opening the database for writing, so this
 * runs beside a server on the same data. */
#include "server/init/hosts.h"
#include "storage/bucket_names.h"
#include "protocol/errors.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: tidepool hosts [--region REGION] [--data DIR] [--ip ADDRESS]\n"
    "\n"
    "Prints hosts-file lines sending AWS host names to tidepool: Kinesis, Firehose and\n"
    "CloudWatch in REGION, S3, and the virtual host of each bucket in DIR's database.\n"
    "\n"
    "  --region REGION   region of the service host names (default us-east-1)\n"
    "  --data DIR        data directory of the server (default ./data)\n"
    "  --ip ADDRESS      address the names resolve to (default 127.0.0.1)\n";

struct hosts {
    const char *ip;
    const char *region;
};

static void line(const struct hosts *h, const char *name)
{
    printf("%s %s\n", h->ip, name);
}

static int bucket_lines(void *ctx, const char *bucket, const char *region)
{
    const struct hosts *h = ctx;
    char name[512];

    snprintf(name, sizeof name, "%s.s3.amazonaws.com", bucket);
    line(h, name);
    snprintf(name, sizeof name, "%s.s3.%s.amazonaws.com", bucket, h->region);
    line(h, name);
    /* SDKs address a bucket in its own region. */
    if (strcmp(region, h->region) != 0) {
        snprintf(name, sizeof name, "%s.s3.%s.amazonaws.com", bucket, region);
        line(h, name);
    }
    return 0;
}

/* How to trust DIR/tls/ca.pem, and what listens where. */
static void comments(const struct hosts *h, const char *dir)
{
    char abs[PATH_MAX], ca[PATH_MAX + 16];

    snprintf(ca, sizeof ca, "%s/tls/ca.pem", realpath(dir, abs) != NULL ? abs : dir);
    printf("# tidepool: AWS host names in %s -> %s; add these lines to /etc/hosts.\n", h->region, h->ip);
    printf("# Clients connect to port 443: serve with --tls-port 443 (as root or with\n"
           "# CAP_NET_BIND_SERVICE), or redirect port 443 to tidepool's TLS port.\n");
    printf("# Trust the CA %s%s:\n", ca, access(ca, R_OK) == 0 ? "" : " (made by the first serve --tls-port)");
    printf("#   sudo cp %s /usr/local/share/ca-certificates/tidepool.crt && sudo update-ca-certificates\n", ca);
    printf("#   Java: keytool -importcert -noprompt -alias tidepool -file %s -cacerts -storepass changeit\n", ca);
}

int hosts_main(int argc, char **argv)
{
    static const struct option OPTS[] = {{"region", required_argument, NULL, 'r'},
                                         {"data", required_argument, NULL, 'd'},
                                         {"ip", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    struct hosts h = {"127.0.0.1", "us-east-1"};
    const char *dir = "./data";
    static const char *const SERVICES[] = {"kinesis", "firehose", "monitoring", "s3"};
    unsigned char addr[16];
    char name[256];
    int o, rc;

    while ((o = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        switch (o) {
        case 'r': h.region = optarg; break;
        case 'd': dir = optarg; break;
        case 'i': h.ip = optarg; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return 2;
        }
    }
    if (optind != argc || !*h.region || h.region[strspn(h.region, "abcdefghijklmnopqrstuvwxyz0123456789-")] ||
        (inet_pton(AF_INET, h.ip, addr) != 1 && inet_pton(AF_INET6, h.ip, addr) != 1)) {
        fputs(USAGE, stderr);
        return 2;
    }
    comments(&h, dir);
    for (unsigned i = 0; i < sizeof SERVICES / sizeof *SERVICES; i++) {
        snprintf(name, sizeof name, "%s.%s.amazonaws.com", SERVICES[i], h.region);
        line(&h, name);
    }
    line(&h, "s3.amazonaws.com");
    rc = db_bucket_names_readonly(dir, bucket_lines, &h);
    if (rc == TP_ENOTFOUND)
        printf("# no database in %s: no bucket names\n", dir);
    if (rc == TP_EIO) {
        fprintf(stderr, "tidepool: cannot read the buckets in %s/tidepool.db\n", dir);
        return 1;
    }
    return 0;
}
