#!/usr/bin/env python3
"""The workshop's "Create Infrastructure" chapter end to end, as docs/workshop.md tells it:
`serve --preset workshop`, the stream and the Firehose created with the AWS CLI v2, `tidepool
replay ... -speedup 720` for ~15 s, then a Beam-like reader (ListShards, TRIM_HORIZON,
GetRecords) finds trips and per-shard watermarks, and after the 60 s buffer the GZIP objects
under historic-trip-events/YYYY/MM/dd/HH/ hold every record of the stream exactly once, enriched.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_workshop_e2e.py
(~100 s: the Firehose buffer is the workshop's 60 s.)
"""

import collections
import fnmatch
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ACCOUNT, REGION, Server, tidepool_bin  # noqa: E402

CLI_V2 = os.environ.get("TIDEPOOL_AWS_CLI_V2") or "/usr/bin/aws"
PREFIX = "artifacts/kinesis-analytics-taxi-consumer/taxi-trips-partitioned.json.lz4/dropoff_year=2018/"
BUCKET = "beam-workshop-historictrips"
KEY_RE = re.compile(r"^historic-trip-events/\d{4}/\d\d/\d\d/\d\d/beam-workshop-s3-1-\d{4}(-\d\d){5}-"
                    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.gz$")
STATS_RE = re.compile(r"all events with dropoff time until 2018-01-01T\d\d:\d\d:\d\dZ have been sent "
                      r"\(\d+\.\d events/sec, PT-?[\d.]+S replay lag\)")
REPLAY_SECONDS = 15
DELIVERY_WAIT_S = 100  # the 60 s buffer interval, with room for a busy machine


def canonical(text):
    """A record as a comparable string: the enrich function re-serialises numbers as JavaScript
    does (52.0 -> 52), so numbers compare as floats."""
    return json.dumps(json.loads(text, parse_int=float) if isinstance(text, (str, bytes)) else text, sort_keys=True)


def beam_glob(pattern, key):
    """Beam's S3 pattern: `*` matches within one path segment."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", "[^/]*"), key) is not None


@unittest.skipUnless(os.access(CLI_V2, os.X_OK), f"AWS CLI v2 not found at {CLI_V2}")
class WorkshopChapterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tidepool-workshop-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server = Server(extra_args=("--preset", "workshop", "--trips", "100000"))
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.env = harness.isolated_aws_env(temp_home=True)

    def aws(self, *args):
        p = subprocess.run([CLI_V2, "--endpoint-url", self.server.endpoint, "--region", REGION, "--output", "json",
                            *args], capture_output=True, text=True,
                           timeout=120, env=self.env, cwd=self.tmp)
        self.assertEqual(p.returncode, 0, f"aws {' '.join(args)}: {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def create_infrastructure(self):
        self.aws("kinesis", "create-stream", "--stream-name", "beam-workshop", "--shard-count", "4")
        self.aws("kinesis", "wait", "stream-exists", "--stream-name", "beam-workshop")
        role = f"arn:aws:iam::{ACCOUNT}:role/beam-workshop-firehose"
        config = {
            "DeliveryStreamName": "beam-workshop-s3",
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {
                "KinesisStreamARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/beam-workshop", "RoleARN": role},
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": role, "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "historic-trip-events/",
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}, "CompressionFormat": "GZIP",
                "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                    {"ParameterName": "LambdaArn",
                     "ParameterValue": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:EnrichEventsLambda:$LATEST"}]}]}},
        }
        with open(os.path.join(self.tmp, "beam-workshop-s3.json"), "w") as f:
            json.dump(config, f)
        self.aws("firehose", "create-delivery-stream", "--cli-input-json", "file://beam-workshop-s3.json")
        desc = self.aws("firehose", "describe-delivery-stream", "--delivery-stream-name", "beam-workshop-s3")
        self.assertEqual(desc["DeliveryStreamDescription"]["DeliveryStreamStatus"], "ACTIVE")

    def replay(self):
        cmd = [tidepool_bin(), "replay", "-endpoint", self.server.endpoint, "-objectPrefix", PREFIX,
               "-speedup", "720", "-streamName", "beam-workshop", "-statisticsFrequency", "5000"]
        out = open(os.path.join(self.tmp, "replay.out"), "w+")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, stdin=subprocess.DEVNULL)
        try:
            time.sleep(REPLAY_SECONDS)
            self.assertIsNone(p.poll(), "replay stopped early")
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out.seek(0)
        log = out.read()
        out.close()
        self.assertEqual(rc, 130, log)
        self.assertRegex(log, STATS_RE)
        return log

    def read_stream(self):
        """What Beam's KinesisIO sees: every shard from TRIM_HORIZON, records as JSON."""
        kinesis = self.server.client("kinesis")
        shards = kinesis.list_shards(StreamName="beam-workshop")["Shards"]
        self.assertEqual(len(shards), 4)
        records = {}
        for sh in shards:
            it = kinesis.get_shard_iterator(StreamName="beam-workshop", ShardId=sh["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            got = []
            while it:
                r = kinesis.get_records(ShardIterator=it, Limit=10000)
                got += r["Records"]
                it = r["NextShardIterator"] if r["MillisBehindLatest"] > 0 or r["Records"] else None
            records[sh["ShardId"]] = (sh, got)
        return records

    def test_chapter(self):
        self.create_infrastructure()
        log = self.replay()

        stream = self.read_stream()
        payloads = []
        for shard_id, (sh, recs) in stream.items():
            watermarks = [json.loads(r["Data"]) for r in recs if r["PartitionKey"] == "23"]
            self.assertTrue(watermarks, f"no watermark on {shard_id}")
            self.assertTrue(all(w["type"] == "watermark" for w in watermarks))
            values = [w["watermark"] for w in watermarks]
            self.assertEqual(values, sorted(values), f"watermarks of {shard_id} go back in time")
            for r in recs:
                self.assertTrue(r["Data"].endswith(b"\n"))
                payloads.append(r["Data"])
        trips = [json.loads(p) for p in payloads if b'"type":"trip"' in p]
        self.assertGreater(len(trips), 10000, f"too few trips replayed\n{log}")
        self.assertEqual(len({t["trip_id"] for t in trips}), len(trips), "a trip was sent twice")

        # the Firehose output: every record of the stream, once, enriched, under Beam's pattern
        s3 = self.server.client("s3")
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while time.monotonic() < deadline:
            st = [d for d in json.loads(self.server.raw("GET", "/_tidepool/firehose").body)["DeliveryStreams"]
                  if d["DeliveryStreamName"] == "beam-workshop-s3"][0]
            if st["DeliveredRecords"] >= len(payloads) and st["BufferedRecords"] == 0:
                break
            time.sleep(1)
        self.assertIsNone(st["LastError"])
        keys = []
        token = None
        while True:
            kw = {"ContinuationToken": token} if token else {}
            page = s3.list_objects_v2(Bucket=BUCKET, Prefix="historic-trip-events/", **kw)
            keys += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                break
        self.assertTrue(keys)
        delivered = []
        for key in keys:
            self.assertRegex(key, KEY_RE)
            self.assertTrue(beam_glob("historic-trip-events/*/*/*/*/*", key), key)
            obj = s3.get_object(Bucket=BUCKET, Key=key)
            self.assertEqual(obj["ContentEncoding"], "gzip")
            text = gzip.decompress(obj["Body"].read())
            for line in text.splitlines():
                rec = json.loads(line, parse_int=float)
                self.assertEqual(next(iter(rec)), "approximate_arrival_timestamp", line)
                self.assertRegex(rec.pop("approximate_arrival_timestamp"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                delivered.append(canonical(rec))
        sent = [canonical(p) for p in payloads]
        missing = collections.Counter(sent) - collections.Counter(delivered)
        extra = collections.Counter(delivered) - collections.Counter(sent)
        if missing or extra:
            self.fail(f"the objects must hold every record of the stream exactly once: "
                      f"{len(sent)} sent, {len(delivered)} delivered, {sum(missing.values())} missing "
                      f"(e.g. {list(missing)[:2]}), {sum(extra.values())} extra (e.g. {list(extra)[:2]}); "
                      f"status {st}")
        self.assertFalse(fnmatch.filter(keys, "*processing-failed*"))


if __name__ == "__main__":
    harness.main()
