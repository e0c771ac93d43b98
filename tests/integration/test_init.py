#!/usr/bin/env python3
"""Start-up declarations: `serve --init FILE` (buckets, streams, delivery streams, Lambda hooks)
and `serve --preset workshop` (the taxi dataset, the output bucket, EnrichEventsLambda), created
when absent and left alone on a restart.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_init.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ACCOUNT, REGION, Server, tidepool_bin  # noqa: E402

DATASET_PREFIX = "artifacts/kinesis-analytics-taxi-consumer/taxi-trips-partitioned.json.lz4/dropoff_year=2018/"
LZ4 = shutil.which("lz4")


class InitFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tidepool-init-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.init = os.path.join(self.tmp, "init.json")
        with open(self.init, "w") as f:
            json.dump({
                "lambdas": {"Enrich": "builtin:add-approximate-arrival-time"},
                "buckets": ["init-out", {"Bucket": "init-eu", "Region": "eu-west-1"}],
                "streams": [{"StreamName": "init-stream", "ShardCount": 3},
                            {"StreamName": "init-eu-stream", "ShardCount": 1, "Region": "eu-west-1"}],
                "deliveryStreams": [{
                    "DeliveryStreamName": "init-hose", "DeliveryStreamType": "KinesisStreamAsSource",
                    "KinesisStreamSourceConfiguration": {
                        "KinesisStreamARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/init-stream",
                        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/r"},
                    "ExtendedS3DestinationConfiguration": {
                        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/r", "BucketARN": "arn:aws:s3:::init-out",
                        "Prefix": "p/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
                        "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                            {"ParameterName": "LambdaArn", "ParameterValue": "Enrich"},
                            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "1"}]}]}}}],
            }, f)

    def test_created_then_left_alone(self):
        server = Server(extra_args=("--init", self.init))
        self.addCleanup(server.cleanup)
        server.start()
        with open(server.log_path) as f:
            log = f.read()
        for line in ("init: created bucket init-out", "init: created bucket init-eu",
                     f"init: created stream init-stream in {REGION}", "init: created stream init-eu-stream in eu-west-1",
                     f"init: created delivery stream init-hose in {REGION}",
                     "init: lambda Enrich = builtin:add-approximate-arrival-time"):
            self.assertIn(line, log)
        s3, kinesis, fh = server.client("s3"), server.client("kinesis"), server.client("firehose")
        self.assertEqual(s3.get_bucket_location(Bucket="init-eu")["LocationConstraint"], "eu-west-1")
        self.assertEqual(len(kinesis.list_shards(StreamName="init-stream")["Shards"]), 3)
        self.assertEqual(server.client("kinesis", region="eu-west-1").describe_stream_summary(
            StreamName="init-eu-stream")["StreamDescriptionSummary"]["OpenShardCount"], 1)
        desc = fh.describe_delivery_stream(DeliveryStreamName="init-hose")["DeliveryStreamDescription"]
        self.assertEqual(desc["DeliveryStreamType"], "KinesisStreamAsSource")

        # the declared hook works: a record through the stream comes out enriched
        kinesis.put_record(StreamName="init-stream", PartitionKey="k", Data=b'{"trip_id":1}')
        deadline, body = time.monotonic() + 15, None
        while time.monotonic() < deadline and body is None:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="init-out").get("Contents", [])]
            if keys:
                body = s3.get_object(Bucket="init-out", Key=keys[0])["Body"].read()
            time.sleep(0.1)
        self.assertIsNotNone(body, "nothing delivered")
        self.assertTrue(body.startswith(b'{"approximate_arrival_timestamp":"'), body)

        # a restart finds everything there: nothing created again, no error, nothing replaced
        server.restart()
        with open(server.log_path) as f:
            log = f.read().split("tidepool ready on")[0]  # this start's lines (one log per start)
        self.assertNotIn("init: created", log)
        self.assertEqual(len(server.client("s3").list_objects_v2(Bucket="init-out").get("Contents", [])), 1)

    def run_tp(self, *args):
        data = tempfile.mkdtemp(dir=self.tmp)
        return subprocess.run([tidepool_bin(), "serve", "--port", "0", "--data", data, *args],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

    def test_bad_files_stop_the_start(self):
        bad = os.path.join(self.tmp, "bad.json")
        cases = [
            ('{"lambdas": {"f": "nope:x"}}', 'lambda f: unknown hook "nope:x"'),
            ('{"tables": []}', 'unexpected member "tables"'),
            ("[1, 2]", "not a JSON object"),
            ("{", "not valid JSON"),
            ('{"streams": [{"StreamName": "bad name!", "ShardCount": 1}]}',
             "stream bad name!: ValidationException: 1 validation error detected"),
            ('{"deliveryStreams": [{"DeliveryStreamName": "d"}]}',
             "delivery stream d: InvalidArgumentException: Exactly one destination configuration"),
            ('{"buckets": ["Bad_Bucket"]}', "bucket Bad_Bucket: InvalidBucketName"),
            ('{"datasets": [{"Type": "other"}]}', "unknown Type other"),
        ]
        for text, message in cases:
            with open(bad, "w") as f:
                f.write(text)
            p = self.run_tp("--init", bad)
            self.assertNotEqual(p.returncode, 0, text)
            self.assertIn(message, p.stderr, text)
            self.assertNotIn("tidepool ready on", p.stdout, text)
        p = self.run_tp("--init", os.path.join(self.tmp, "missing.json"))
        self.assertIn("cannot open it", p.stderr)


class PresetTest(unittest.TestCase):
    def test_workshop_preset(self):
        tmp = tempfile.mkdtemp(prefix="tidepool-preset-")
        self.addCleanup(shutil.rmtree, tmp, True)
        server = Server(data_dir=tmp, extra_args=("--preset", "workshop", "--trips", "100000"))
        self.addCleanup(server.cleanup)
        t0 = time.monotonic()
        server.start()
        self.assertLess(time.monotonic() - t0, 10, "preset start-up took too long")
        with open(server.log_path) as f:
            log = f.read()
        self.assertIn("init: dataset of 100000 taxi trips in 5 objects", log)
        self.assertIn("init: lambda EnrichEventsLambda = builtin:add-approximate-arrival-time", log)
        s3 = server.client("s3")
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        self.assertEqual(names, {"aws-bigdata-blog", "beam-workshop-historictrips"})
        objs = s3.list_objects_v2(Bucket="aws-bigdata-blog", Prefix=DATASET_PREFIX)["Contents"]
        self.assertEqual([o["Key"] for o in objs], [f"{DATASET_PREFIX}part-{i:05d}.json.lz4" for i in range(5)])
        lines = []
        for o in objs:
            body = s3.get_object(Bucket="aws-bigdata-blog", Key=o["Key"])["Body"].read()
            self.assertEqual(body[:4], b"\x04\x22\x4d\x18", "one LZ4 frame")
            if LZ4:
                out = subprocess.run([LZ4, "-dc"], input=body, capture_output=True, check=True).stdout
                lines += out.splitlines()
        if LZ4:
            self.assertEqual(len(lines), 100000)
            trips = [json.loads(x) for x in (lines[0], lines[-1])]
            self.assertEqual(trips[0]["type"], "trip")
            self.assertLess(trips[0]["trip_id"], trips[1]["trip_id"])
            self.assertTrue(trips[0]["dropoff_datetime"].startswith("2018-01-01T00:"))
        elif os.environ.get("TIDEPOOL_NO_SKIP"):
            self.fail("the lz4 CLI is missing (apt-get install lz4)")

        # a restart does not generate again
        etags = [o["ETag"] for o in objs]
        server.restart()
        with open(server.log_path) as f:
            self.assertIn("already there", f.read().split("tidepool ready on")[0])
        again = server.client("s3").list_objects_v2(Bucket="aws-bigdata-blog", Prefix=DATASET_PREFIX)["Contents"]
        self.assertEqual([o["ETag"] for o in again], etags)
        self.assertEqual([o["LastModified"] for o in again], [o["LastModified"] for o in objs])

    def test_too_few_trips_and_unknown_preset(self):
        for args, message in ((("--preset", "workshop", "--trips", "99999"), "--trips must be at least 100000"),
                              (("--preset", "other"), "unknown preset other")):
            p = subprocess.run([tidepool_bin(), "serve", "--port", "0", "--in-memory", *args], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 2)
            self.assertIn(message, p.stderr)


if __name__ == "__main__":
    harness.main()
