/* See kinesis_ids.h. */
#include "protocol/kinesis_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kinesis_shard_id(uint32_t ix, char out[24])
{
    snprintf(out, 24, "shardId-%012u", ix);
}

int64_t kinesis_shard_ix(const char *id)
{
    const char *dash = strrchr(id, '-');
    const char *p = dash ? dash + 1 : id;
    char *end;
    if (!*p || *p == '+' || *p == '-')
        return -1;
    long long v = strtoll(p, &end, 10);
    return *end || v < 0 || v > 2147483647 ? -1 : v;
}

int kinesis_parse_arn(const char *arn, char *region, size_t rlen, char name[KINESIS_STREAM_NAME_MAX + 1])
{
    const char *p = arn;
    const char *field[6];
    for (int i = 0; i < 6; i++) {
        field[i] = p;
        if (i < 5 && !(p = strchr(p, ':')))
            return -1;
        p++;
    }
    size_t n = (size_t)(field[4] - field[3] - 1);
    const char *res = field[5];
    if (strncmp(res, "stream/", 7) || n == 0 || n >= rlen)
        return -1;
    memcpy(region, field[3], n);
    region[n] = 0;
    res += 7;
    if (strlen(res) > KINESIS_STREAM_NAME_MAX || !*res || strchr(res, '/'))
        return -1;
    strcpy(name, res);
    return 0;
}
