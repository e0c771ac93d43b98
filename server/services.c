/* See services.h. */
#include "server/services.h"
#include "server/cloudwatch/cloudwatch.h"
#include "server/firehose/firehose.h"
#include "server/firehose/firehose_engine.h"
#include "server/kinesis/kinesis.h"
#include "server/s3/s3.h"

void services_plug(void)
{
    router_add_service(&kinesis_service);
    router_add_service(&firehose_service);
    router_add_service(&cloudwatch_service);
    router_set_rest(s3_dispatch, s3_stream_open);
    router_add_status("/_tidepool/firehose", firehose_engine_status);
}
