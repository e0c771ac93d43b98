#!/usr/bin/env python3
"""A `null` where a request list (or map) expects a member must be refused with AWS's
ValidationException ("Value null at 'records.1.member' failed to satisfy constraint: Member must
not be null"), never crash the server or be stored: every operation and protocol that once
crashed or accepted one (issue 10, item 1), sent raw, then the server is checked alive and the
data unchanged.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_null_members.py
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cbor_codec  # noqa: E402
import harness  # noqa: E402
from harness import ServerTestCase, create_stream, raw_request, sigv4_headers  # noqa: E402

FH_TARGET = "Firehose_20150804."
CW_TARGET = "GraniteServiceVersion20100801."
RPCV2_PATH = "/service/GraniteServiceVersion20100801/operation/"
NOT_NULL = "Member must not be null"


def null_at(path):
    return f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: {NOT_NULL}"


class NullMembersTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_stream(cls.kinesis, "s", 1)
        create_stream(cls.kinesis, "untouched", 1)  # nothing may ever land here
        cls.s3 = cls.server.client("s3")
        cls.s3.create_bucket(Bucket="nulls")
        cls.fh = cls.server.client("firehose")
        cls.fh.create_delivery_stream(
            DeliveryStreamName="d",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::nulls",
                "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1}})
        cls.cw = cls.server.client("cloudwatch")

    def json_call(self, target, payload, content_type, service):
        body = json.dumps(payload).encode()
        headers = sigv4_headers(self.server.port, body, target, content_type, service=service)
        return raw_request(self.server.port, "POST", "/", body, headers)

    def assertNullRefused(self, resp, path, decode=json.loads):
        self.assertEqual(resp.status, 400, resp)
        body = decode(resp.body)
        self.assertEqual(body.get("__type", "").split("#")[-1], "ValidationException", body)
        self.assertEqual(body.get("message", body.get("Message")), null_at(path))
        self.assertServerAlive()

    # ---- Kinesis ---------------------------------------------------------------------------
    def test_put_records_json(self):
        for records, path in (([None], "records.1.member"),
                              ([{"Data": "YQ==", "PartitionKey": "k"}, None], "records.2.member")):
            r = self.server.kinesis_raw("PutRecords", {"StreamName": "untouched", "Records": records})
            self.assertNullRefused(r, path)
        self.assertEqual(harness.read_shard(self.kinesis, "untouched", harness.shard_id(0)), [])

    def test_put_records_cbor(self):
        body = cbor_codec.encode({"StreamName": "s", "Records": [None]})
        r = self.server.kinesis_raw("PutRecords", body, content_type="application/x-amz-cbor-1.1")
        self.assertNullRefused(r, "records.1.member", cbor_codec.decode)

    def test_kinesis_tag_map_and_key_list(self):
        r = self.server.kinesis_raw("AddTagsToStream", {"StreamName": "s", "Tags": {"k": None}})
        self.assertNullRefused(r, "tags.k.member")
        r = self.server.kinesis_raw("RemoveTagsFromStream", {"StreamName": "s", "TagKeys": [None]})
        self.assertNullRefused(r, "tagKeys.1.member")

    def test_explicit_null_member_is_absent(self):
        # A null in a structure is no list element: AWS reads it as an absent member.
        r = self.server.kinesis_raw("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": "YQ==",
                                                  "ExplicitHashKey": None, "SequenceNumberForOrdering": None})
        self.assertEqual(r.status, 200, r)
        r = self.server.kinesis_raw("PutRecord", {"StreamName": "s", "PartitionKey": None, "Data": "YQ=="})
        self.assertNullRefused(r, "partitionKey")

    # ---- Firehose --------------------------------------------------------------------------
    def fh_call(self, op, payload):
        return self.json_call(FH_TARGET + op, payload, "application/x-amz-json-1.1", "firehose")

    def test_firehose_tags(self):
        self.assertNullRefused(self.fh_call("TagDeliveryStream", {"DeliveryStreamName": "d", "Tags": [None]}),
                               "tags.1.member")
        self.assertNullRefused(self.fh_call("UntagDeliveryStream", {"DeliveryStreamName": "d", "TagKeys": [None]}),
                               "tagKeys.1.member")
        dest = {"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::nulls"}
        r = self.fh_call("CreateDeliveryStream", {"DeliveryStreamName": "t", "Tags": [None],
                                                  "ExtendedS3DestinationConfiguration": dest})
        self.assertNullRefused(r, "tags.1.member")
        self.assertNotIn("t", self.fh.list_delivery_streams()["DeliveryStreamNames"])

    def test_firehose_processors(self):
        dest = {"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::nulls",
                "ProcessingConfiguration": {"Enabled": True, "Processors": [None]}}
        r = self.fh_call("CreateDeliveryStream", {"DeliveryStreamName": "p", "ExtendedS3DestinationConfiguration": dest})
        self.assertNullRefused(r, "extendedS3DestinationConfiguration.processingConfiguration.processors.1.member")
        params = {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [None]}]}
        d = self.fh.describe_delivery_stream(DeliveryStreamName="d")["DeliveryStreamDescription"]
        r = self.fh_call("UpdateDestination", {
            "DeliveryStreamName": "d", "CurrentDeliveryStreamVersionId": d["VersionId"],
            "DestinationId": d["Destinations"][0]["DestinationId"],
            "ExtendedS3DestinationUpdate": {"ProcessingConfiguration": params}})
        self.assertNullRefused(
            r, "extendedS3DestinationUpdate.processingConfiguration.processors.1.member.parameters.1.member")
        after = self.fh.describe_delivery_stream(DeliveryStreamName="d")["DeliveryStreamDescription"]
        self.assertEqual(after["VersionId"], d["VersionId"])

    def test_firehose_put_record_batch(self):
        r = self.fh_call("PutRecordBatch", {"DeliveryStreamName": "d", "Records": [{"Data": "YQ=="}, None]})
        self.assertNullRefused(r, "records.2.member")  # was 200, the valid record stored

    # ---- CloudWatch ------------------------------------------------------------------------
    def test_cloudwatch_json_1_0(self):
        r = self.json_call(CW_TARGET + "GetMetricStatistics", {
            "Namespace": "N", "MetricName": "M", "StartTime": 0, "EndTime": 60, "Period": 60,
            "Statistics": [None]}, "application/x-amz-json-1.0", "monitoring")
        self.assertNullRefused(r, "statistics.1.member")
        r = self.json_call(CW_TARGET + "PutMetricData", {
            "Namespace": "Nulls", "MetricData": [{"MetricName": "M", "Values": [1.0, None]}]},
            "application/x-amz-json-1.0", "monitoring")
        self.assertNullRefused(r, "metricData.1.member.values.2.member")
        self.assertEqual(self.cw.list_metrics(Namespace="Nulls")["Metrics"], [])

    def test_cloudwatch_rpc_v2_cbor(self):
        body = cbor_codec.encode({"Namespace": "N", "MetricName": "M", "StartTime": cbor_codec.Tag(1, 0),
                                  "EndTime": cbor_codec.Tag(1, 60), "Period": 60, "Statistics": [None]})
        headers = {**sigv4_headers(self.server.port, body, None, "application/cbor", service="monitoring"),
                   "Smithy-Protocol": "rpc-v2-cbor"}
        r = raw_request(self.server.port, "POST", RPCV2_PATH + "GetMetricStatistics", body, headers)
        self.assertNullRefused(r, "statistics.1.member", cbor_codec.decode)


if __name__ == "__main__":
    harness.main()
