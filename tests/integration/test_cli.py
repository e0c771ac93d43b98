#!/usr/bin/env python3
"""The AWS CLI v1 (`aws` on PATH) and v2 (/usr/bin/aws) against tidepool, plus tidepool's own
command line (--help, --version, serve options).

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_cli.py
Override the CLIs with TIDEPOOL_AWS_CLI_V1=/path/to/aws and TIDEPOOL_AWS_CLI_V2=/path/to/aws.
"""

import base64
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import ACCOUNT, Server, ServerTestCase, project_version, shard_id, tidepool_bin  # noqa: E402

CLI_V1 = os.environ.get("TIDEPOOL_AWS_CLI_V1") or shutil.which("aws")
CLI_V2 = os.environ.get("TIDEPOOL_AWS_CLI_V2") or "/usr/bin/aws"


def cli_major(path):
    if not path or not os.access(path, os.X_OK):
        return None
    try:
        p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                           env=harness.isolated_aws_env(temp_home=True))
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (p.stdout + p.stderr).strip()
    if out.startswith("aws-cli/1."):
        return 1
    if out.startswith("aws-cli/2."):
        return 2
    return None


class AwsCliMixin:
    cli = None  # path
    raw_text_args = ()  # how to make --data raw text

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = harness.isolated_aws_env(temp_home=True)
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def aws(self, *args, expect_rc=0, timeout=120, service="kinesis"):
        """Runs `aws SERVICE ARGS...`; the parsed JSON output (None when empty; `aws s3` prints text)."""
        cmd = [self.cli, "--endpoint-url", self.server.endpoint, "--region", "us-east-1", "--output", "json",
               service, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.tmp)
        if expect_rc == 0:
            self.assertEqual(p.returncode, 0, f"{' '.join(args)} failed rc={p.returncode}\n{p.stderr}")
            return json.loads(p.stdout) if p.stdout.strip() and service != "s3" else None
        self.assertNotEqual(p.returncode, 0, f"{' '.join(args)} unexpectedly succeeded: {p.stdout}")
        return p

    def test_stream_lifecycle(self):
        name = "cli-stream"
        self.assertIsNone(self.aws("create-stream", "--stream-name", name, "--shard-count", "2"))
        t0 = time.monotonic()
        self.aws("wait", "stream-exists", "--stream-name", name)
        self.assertLess(time.monotonic() - t0, 30)
        summary = self.aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamStatus"], "ACTIVE")
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertEqual(summary["StreamARN"], f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}")
        self.assertIn(name, self.aws("list-streams")["StreamNames"])
        shards = self.aws("list-shards", "--stream-name", name)["Shards"]
        self.assertEqual([s["ShardId"] for s in shards], [shard_id(0), shard_id(1)])

        put = self.aws("put-record", "--stream-name", name, "--partition-key", "pk-1", "--data", "hello from the cli",
                       *self.raw_text_args)
        self.assertIn(put["ShardId"], {shard_id(0), shard_id(1)})
        self.assertTrue(put["SequenceNumber"].isdigit())

        blob = bytes(range(256)) + random.Random(3).randbytes(1000)
        path = os.path.join(self.tmp, "blob.bin")
        with open(path, "wb") as f:
            f.write(blob)
        put2 = self.aws("put-record", "--stream-name", name, "--partition-key", "pk-1", "--data", "fileb://" + path)
        self.assertEqual(put2["ShardId"], put["ShardId"], "same partition key, same shard")
        self.assertGreater(int(put2["SequenceNumber"]), int(put["SequenceNumber"]))

        it = self.aws("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
                      "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        got = self.aws("get-records", "--shard-iterator", it)
        recs = got["Records"]
        self.assertEqual([r["SequenceNumber"] for r in recs], [put["SequenceNumber"], put2["SequenceNumber"]])
        self.assertEqual(base64.b64decode(recs[0]["Data"]), b"hello from the cli")
        self.assertEqual(base64.b64decode(recs[1]["Data"]), blob)
        self.assertEqual(recs[0]["PartitionKey"], "pk-1")
        self.assertEqual(got["MillisBehindLatest"], 0)
        self.assertTrue(got["NextShardIterator"])

        it = self.aws("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
                      "--shard-iterator-type", "AFTER_SEQUENCE_NUMBER",
                      "--starting-sequence-number", put["SequenceNumber"])["ShardIterator"]
        recs = self.aws("get-records", "--shard-iterator", it, "--limit", "1")["Records"]
        self.assertEqual([base64.b64decode(r["Data"]) for r in recs], [blob])

        self.assertIsNone(self.aws("delete-stream", "--stream-name", name))
        self.aws("wait", "stream-not-exists", "--stream-name", name)
        p = self.aws("describe-stream-summary", "--stream-name", name, expect_rc=1)
        self.assertIn("ResourceNotFoundException", p.stderr)
        self.assertIn(f"Stream {name} under account {ACCOUNT} not found.", p.stderr)
        self.assertNotIn(name, self.aws("list-streams")["StreamNames"])

    def test_firehose_from_json_files(self):
        """The workshop's way: a Kinesis-sourced delivery stream configured from JSON files, the
        enrich Lambda hook, GZIP objects fetched and read back with the CLI."""
        stream, hose, bucket = "cli-fh-src", "cli-fh", f"cli-fh-out-{self.cli_tag}"
        self.aws("create-stream", "--stream-name", stream, "--shard-count", "2")
        self.aws("wait", "stream-exists", "--stream-name", stream)
        self.aws("mb", f"s3://{bucket}", service="s3")
        src = {"KinesisStreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}",
               "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose"}
        dst = {"RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose", "BucketARN": f"arn:aws:s3:::{bucket}",
               "Prefix": "historic-trip-events/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
               "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}, "CompressionFormat": "GZIP",
               "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                   {"ParameterName": "LambdaArn",
                    "ParameterValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:EnrichEventsLambda:$LATEST"},
                   {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "1"}]}]}}
        for name, doc in (("src.json", src), ("dst.json", dst)):
            with open(os.path.join(self.tmp, name), "w") as f:
                json.dump(doc, f)
        # the CLI's own model says IntervalInSeconds >= 60 (older than the service's 0..900)
        with open(os.path.join(self.tmp, "config"), "w") as f:
            f.write("[default]\nparameter_validation = false\n")
        self.env = dict(self.env, AWS_CONFIG_FILE=os.path.join(self.tmp, "config"))
        arn = self.aws("create-delivery-stream", "--delivery-stream-name", hose,
                       "--delivery-stream-type", "KinesisStreamAsSource",
                       "--kinesis-stream-source-configuration", "file://src.json",
                       "--extended-s3-destination-configuration", "file://dst.json",
                       service="firehose")["DeliveryStreamARN"]
        self.assertEqual(arn, f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{hose}")
        desc = self.aws("describe-delivery-stream", "--delivery-stream-name", hose,
                        service="firehose")["DeliveryStreamDescription"]
        self.assertEqual(desc["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(desc["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"], src["KinesisStreamARN"])
        trips = [{"trip_id": i, "fare_amount": 5.0 + i} for i in range(8)]
        for t in trips:
            self.aws("put-record", "--stream-name", stream, "--partition-key", str(t["trip_id"]),
                     "--data", json.dumps(t), *self.raw_text_args)
        deadline, keys = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            listing = self.aws("list-objects-v2", "--bucket", bucket, service="s3api") or {}
            keys = [o["Key"] for o in listing.get("Contents", [])]
            lines = []
            for k in keys:
                self.aws("cp", f"s3://{bucket}/{k}", os.path.join(self.tmp, "obj.gz"), service="s3")
                with gzip.open(os.path.join(self.tmp, "obj.gz"), "rt") as f:
                    lines += f.read().splitlines()
            if len(lines) >= len(trips):
                break
            time.sleep(0.5)
        self.assertEqual(len(lines), len(trips), keys)
        got = sorted((json.loads(line) for line in lines), key=lambda r: r["trip_id"])
        for t, g in zip(trips, got):
            self.assertEqual(list(g)[0], "approximate_arrival_timestamp")
            self.assertRegex(g["approximate_arrival_timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual({k: v for k, v in g.items() if k != "approximate_arrival_timestamp"}, t)
        for k in keys:
            self.assertRegex(k, r"^historic-trip-events/\d{4}/\d\d/\d\d/\d\d/cli-fh-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}\.gz$")
        p = self.aws("put-record", "--delivery-stream-name", hose, "--record", "Data=eA==", service="firehose",
                     expect_rc=1)
        self.assertIn("InvalidArgumentException", p.stderr)
        self.aws("delete-delivery-stream", "--delivery-stream-name", hose, service="firehose")
        self.assertNotIn(hose, self.aws("list-delivery-streams", service="firehose")["DeliveryStreamNames"])

    def test_validation_error_is_reported(self):
        self.aws("create-stream", "--stream-name", "cli-val", "--shard-count", "1")
        self.aws("wait", "stream-exists", "--stream-name", "cli-val")
        p = self.aws("put-record", "--stream-name", "cli-val", "--partition-key", "k" * 257, "--data", "x",
                     *self.raw_text_args, expect_rc=1)
        self.assertIn("ValidationException", p.stderr)
        self.assertIn("at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal "
                      "to 256", p.stderr)


@unittest.skipUnless(cli_major(CLI_V1) == 1, f"AWS CLI v1 not found (looked at {CLI_V1})")
class AwsCliV1Test(AwsCliMixin, ServerTestCase):
    cli = CLI_V1
    cli_tag = "v1"
    server_args = ("--lambda", "EnrichEventsLambda=builtin:add-approximate-arrival-time")
    raw_text_args = ()  # v1 passes blob arguments as raw text


@unittest.skipUnless(cli_major(CLI_V2) == 2, f"AWS CLI v2 not found (looked at {CLI_V2})")
class AwsCliV2Test(AwsCliMixin, ServerTestCase):
    cli = CLI_V2
    cli_tag = "v2"
    server_args = ("--lambda", "EnrichEventsLambda=builtin:add-approximate-arrival-time")
    raw_text_args = ("--cli-binary-format", "raw-in-base64-out")


class TidepoolCommandLineTest(unittest.TestCase):
    def run_tp(self, *args, timeout=20):
        return subprocess.run([tidepool_bin(), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def test_help(self):
        p = self.run_tp("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        for word in ("serve", "--host", "--port", "--data", "--in-memory", "--region", "--account",
                     "--log-level", "--stream-delay-ms"):
            self.assertIn(word, out, f"--help does not mention {word}")

    def test_version(self):
        p = self.run_tp("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        v = project_version()
        self.assertTrue(v)
        self.assertIn(v, p.stdout + p.stderr)

    def test_bad_arguments_fail_fast(self):
        for args in (("serve", "--port", "not-a-port", "--in-memory"), ("no-such-command",),
                     ("serve", "--no-such-option", "--in-memory")):
            with self.subTest(args=args):
                p = self.run_tp(*args)
                self.assertNotEqual(p.returncode, 0, f"{args} should fail; stdout={p.stdout!r}")
                self.assertTrue(p.stderr.strip(), f"{args}: no message on stderr")
                self.assertNotIn("ready on", p.stdout)

    def test_account_option(self):
        srv = Server(in_memory=True, extra_args=["--account", "123456789012"])
        self.addCleanup(srv.cleanup)
        srv.start()
        k = srv.client()
        k.create_stream(StreamName="acct", ShardCount=1)
        s = harness.wait_active(k, "acct")
        self.assertEqual(s["StreamARN"], "arn:aws:kinesis:us-east-1:123456789012:stream/acct")
        with self.assertRaises(ClientError) as cm:
            k.describe_stream(StreamName="nope")
        self.assertEqual(cm.exception.response["Error"]["Message"], "Stream nope under account 123456789012 not found.")

    def test_stream_delay_ms(self):
        srv = Server(in_memory=True, extra_args=["--stream-delay-ms", "700"])
        self.addCleanup(srv.cleanup)
        srv.start()
        k = srv.client()
        t0 = time.monotonic()
        k.create_stream(StreamName="slow", ShardCount=1)
        self.assertEqual(k.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]["StreamStatus"],
                         "CREATING")
        harness.wait_active(k, "slow")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.6, "became ACTIVE before --stream-delay-ms elapsed")
        self.assertLess(elapsed, 5)
        k.delete_stream(StreamName="slow")
        self.assertEqual(k.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]["StreamStatus"],
                         "DELETING")
        t1 = time.monotonic()
        harness.wait_gone(k, "slow")
        self.assertGreaterEqual(time.monotonic() - t1, 0.5)

    def test_port_zero_gives_distinct_ports(self):
        a, b = Server(in_memory=True), Server(in_memory=True)
        self.addCleanup(a.cleanup)
        self.addCleanup(b.cleanup)
        a.start()
        b.start()
        self.assertNotEqual(a.port, b.port)
        self.assertEqual(a.raw("GET", "/_tidepool/health").status, 200)
        self.assertEqual(b.raw("GET", "/_tidepool/health").status, 200)


if __name__ == "__main__":
    harness.main()
