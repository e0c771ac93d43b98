#!/usr/bin/env python3
"""`tidepool replay` end to end: NDJSON trips uploaded with boto3 (an LZ4 frame made by the lz4
CLI, a gzip object, a plain one, a README.md to skip) are replayed into Kinesis streams of a
tidepool server, then read back with GetRecords: every trip exactly once, as its line plus "\\n",
in time order within each shard, under the partition key amazon-kinesis-replay computes
(Objects.hash of the payload); watermarks on every shard; the original's statistics line;
pacing by -speedup; -aggregate (de-aggregated with the npm package aws-kinesis-agg); -seek;
-streamArn; retries of refused requests and failed entries (through a proxy that throttles);
clear errors (missing stream, bucket, objects, server); SIGINT mid-replay.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_replay.py
"""

import base64
import datetime
import gzip
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, all_shards, create_stream, hash_key, read_shard, stream_arn, tidepool_bin  # noqa: E402
from firehose_helpers import JS_DIR, skip_unless_kpl  # noqa: E402

BUCKET = "replay-trips"
T0 = datetime.datetime(2018, 1, 1, tzinfo=datetime.timezone.utc)
STATS_RE = re.compile(
    r"all events with dropoff time until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z have been sent "
    r"\(\d+\.\d events/sec, PT(-?\d+H)?(-?\d+M)?(-?\d+(\.\d+)?S)? replay lag\)")
WATERMARK_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def iso(t):
    """2018-01-01T00:00:05Z, or with milliseconds when it has some."""
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    return s + (f".{t.microsecond // 1000:03d}Z" if t.microsecond else "Z")


def parse_iso(s):
    return datetime.datetime.fromisoformat(s[:-1]).replace(tzinfo=datetime.timezone.utc)


def trip(i, seconds):
    """One NDJSON line; non-ASCII text (an emoji is a UTF-16 surrogate pair) tests the key hash."""
    t = T0 + datetime.timedelta(seconds=seconds)
    return json.dumps({"type": "trip", "trip_id": i, "pickup_datetime": iso(t - datetime.timedelta(minutes=9)),
                       "dropoff_datetime": iso(t), "pickup_location_id": 1 + i % 265,
                       "dropoff_location_id": 265 - i % 265, "total_amount": round(4.5 + i * 0.37, 2),
                       "note": "café 🚕" if i % 7 == 0 else "ok"}, ensure_ascii=False, separators=(",", ":"))


def java_partition_key(payload):
    """Integer.toString(Objects.hash(payload)): 31 + String.hashCode() over UTF-16 units."""
    units = payload.encode("utf-16-be")
    h = 0
    for k in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[k:k + 2], "big")) & 0xFFFFFFFF
    h = (31 + h) & 0xFFFFFFFF
    return str(h - 2**32 if h >= 2**31 else h)


def lz4_frame(data, tmp):
    src = os.path.join(tmp, "frame.json")
    with open(src, "wb") as f:
        f.write(data)
    return subprocess.run(["lz4", "-q", "-c", src], check=True, capture_output=True).stdout


class ThrottlingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to the server, except that the first PutRecords call is refused
    whole (400 ProvisionedThroughputExceededException) and the next two lose every other entry
    (FailedRecordCount, ErrorCode per entry), as a throttled shard answers."""

    daemon_threads = True

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.put_records_calls = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), ProxyHandler)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.forward(b"")

    def do_POST(self):
        self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def upstream(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        out = (resp.status, resp.getheader("Content-Type", ""), resp.read())
        conn.close()
        return out

    def reply(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, body):
        if not self.headers.get("X-Amz-Target", "").endswith(".PutRecords"):
            return self.reply(*self.upstream(body))
        with self.server.lock:
            self.server.put_records_calls += 1
            call = self.server.put_records_calls
        throttled = {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard"}
        if call == 1:
            return self.reply(400, "application/x-amz-json-1.1", json.dumps(throttled).encode())
        req = json.loads(body)
        keep = [i for i in range(len(req["Records"])) if call > 3 or i % 2 == 1]
        results = {}
        if keep:
            fwd = dict(req, Records=[req["Records"][i] for i in keep])
            status, _, data = self.upstream(json.dumps(fwd).encode())
            assert status == 200, data
            results = dict(zip(keep, json.loads(data)["Records"]))
        records = [results.get(i, {"ErrorCode": throttled["__type"], "ErrorMessage": throttled["message"]})
                   for i in range(len(req["Records"]))]
        answer = {"FailedRecordCount": len(records) - len(results), "Records": records}
        self.reply(200, "application/x-amz-json-1.1", json.dumps(answer).encode())


class ReplayCase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = cls.server.client("s3")
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-replay-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.s3.create_bucket(Bucket=BUCKET)
        # trips/: 60 trips over 60 s of data in three encodings, with trips 24 and 25 swapped
        # (the buffer re-sorts them) and lines that are no events (skipped)
        cls.trips = [trip(i, i + (0.25 if i % 5 == 0 else 0)) for i in range(60)]
        gz = cls.trips[20:24] + [cls.trips[25], cls.trips[24]] + cls.trips[26:40]
        cls.put("trips/part-0.json.lz4", lz4_frame(("\n".join(cls.trips[:20]) + "\n").encode(), cls.tmp))
        cls.put("trips/part-1.json.gz", gzip.compress(("\r\n".join(gz) + "\r\n").encode()))
        cls.put("trips/part-2.json", ("not json\n\n" + "\n".join(cls.trips[40:])).encode())  # no final LF
        cls.put("trips/README.md", b"# taxi trips\n")
        cls.put("other/ignored.json", (trip(999, 5) + "\n").encode())
        # slow/: 600 trips over 600 s, for pacing and interruption
        cls.slow = [trip(i, i) for i in range(600)]
        cls.put("slow/part-0.json", ("\n".join(cls.slow) + "\n").encode())

    @classmethod
    def put(cls, key, body):
        cls.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def replay(self, *args, prefix="trips/", timeout=60):
        cmd = [tidepool_bin(), "replay", "-endpoint", self.server.endpoint, "-bucketName", BUCKET,
               "-objectPrefix", prefix, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def assertReplayed(self, r, status=0):
        self.assertEqual(r.returncode, status, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        self.assertNotIn("runtime error", r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)

    def read_stream(self, name):
        """{shard id: [(partition key, data bytes)]} in stream order."""
        return {s["ShardId"]: [(x["PartitionKey"], x["Data"]) for x in read_shard(self.kinesis, name, s["ShardId"])]
                for s in all_shards(self.kinesis, name)}

    def assertTripsInOrder(self, records, expected_lines):
        """Each expected line exactly once, as line + "\\n", time-ordered within each shard."""
        seen = []
        for shard, recs in records.items():
            times = [parse_iso(json.loads(d)["dropoff_datetime"]) for _, d in recs]
            self.assertEqual(times, sorted(times), f"{shard} out of order")
            seen += [d for _, d in recs]
        self.assertEqual(sorted(seen), sorted((line + "\n").encode() for line in expected_lines))

    def split(self, records):
        """(trips, watermarks) per shard."""
        trips, marks = {}, {}
        for shard, recs in records.items():
            trips[shard] = [(pk, d) for pk, d in recs if json.loads(d)["type"] == "trip"]
            marks[shard] = [(pk, d) for pk, d in recs if json.loads(d)["type"] == "watermark"]
        return trips, marks

    # ---- the replay itself ----

    def test_every_trip_once_in_order_with_watermarks_and_statistics(self):
        create_stream(self.kinesis, "replay-main", 2)
        r = self.replay("-streamName", "replay-main", "-speedup", "3600", "-statisticsFrequency", "1000")
        self.assertReplayed(r)
        self.assertTrue(any(STATS_RE.search(line) for line in r.stdout.splitlines()), r.stdout)
        self.assertIn("all events have been sent", r.stdout)
        self.assertIn("skipping object s3://replay-trips/trips/README.md", r.stdout)
        self.assertIn("ignoring line", r.stdout)  # "not json"

        trips, marks = self.split(self.read_stream("replay-main"))
        self.assertTripsInOrder(trips, self.trips)
        for shard, recs in trips.items():
            for pk, data in recs:
                self.assertEqual(pk, java_partition_key(data.decode()))
        ranges = {s["ShardId"]: s["HashKeyRange"] for s in all_shards(self.kinesis, "replay-main")}
        for shard, recs in marks.items():
            self.assertTrue(recs, f"no watermark on {shard}")
            values = []
            for pk, data in recs:
                self.assertEqual(pk, "23")
                self.assertTrue(data.endswith(b"\n"))
                doc = json.loads(data)
                self.assertEqual(list(doc), ["watermark", "type"])
                self.assertRegex(doc["watermark"], WATERMARK_RE)
                values.append(parse_iso(doc["watermark"]))
            self.assertEqual(values, sorted(values), f"{shard}: watermarks go back")
            # the last one, after the final acknowledgement, is the shard's latest trip
            latest = max(parse_iso(json.loads(d)["dropoff_datetime"]) for _, d in trips[shard])
            self.assertEqual(values[-1], latest)
        home = [s for s, rng in ranges.items()
                if int(rng["StartingHashKey"]) <= hash_key("23") <= int(rng["EndingHashKey"])]
        self.assertEqual(len(home), 1)  # the other shard's watermarks went by ExplicitHashKey

    def test_pacing_follows_speedup(self):
        # 60 s of data at speedup 60: about a second, however fast the machine
        create_stream(self.kinesis, "replay-pace", 1)
        started = time.monotonic()
        r = self.replay("-streamName", "replay-pace", "-speedup", "60", "-noWatermark", "-seek",
                        iso(T0 + datetime.timedelta(seconds=540)), prefix="slow/")
        elapsed = time.monotonic() - started
        self.assertReplayed(r)
        self.assertGreaterEqual(elapsed, 0.8)
        recs = read_shard(self.kinesis, "replay-pace", "shardId-000000000000")
        self.assertEqual([x["Data"] for x in recs], [(line + "\n").encode() for line in self.slow[540:]])
        arrival = [x["ApproximateArrivalTimestamp"] for x in recs]
        self.assertGreaterEqual((arrival[-1] - arrival[0]).total_seconds(), 0.7)

    def test_seek_skips_earlier_events(self):
        create_stream(self.kinesis, "replay-seek", 1)
        r = self.replay("-streamName", "replay-seek", "-speedup", "100000", "-noWatermark",
                        "--seek=" + iso(T0 + datetime.timedelta(seconds=30)))
        self.assertReplayed(r)
        trips, marks = self.split(self.read_stream("replay-seek"))
        self.assertEqual(marks, {"shardId-000000000000": []})
        self.assertTripsInOrder(trips, self.trips[30:])

    def test_stream_arn(self):
        create_stream(self.kinesis, "replay-arn", 3)
        r = self.replay("-streamArn", stream_arn("replay-arn"), "-speedup", "100000", "-noWatermark")
        self.assertReplayed(r)
        self.assertTripsInOrder(self.split(self.read_stream("replay-arn"))[0], self.trips)

    def test_aggregate_deaggregates_to_the_trips(self):
        skip_unless_kpl(self)
        create_stream(self.kinesis, "replay-agg", 2)
        r = self.replay("-streamName", "replay-agg", "-aggregate", "-noWatermark", "-speedup", "1000000")
        self.assertReplayed(r)
        shards = {s["ShardId"]: s["HashKeyRange"] for s in all_shards(self.kinesis, "replay-agg")}
        records = self.read_stream("replay-agg")
        outer = [{"shard": sh, "partitionKey": pk, "data": base64.b64encode(d).decode(), "sequenceNumber": "1"}
                 for sh, recs in records.items() for pk, d in recs]
        script = r"""
            const { deaggregateSync } = require("aws-kinesis-agg");
            const out = JSON.parse(require("fs").readFileSync(0, "utf8")).map((rec) => {
              let users;
              deaggregateSync(rec, true, (err, rs) => { if (err) throw err; users = rs; });
              return { shard: rec.shard, aggregated: users.some((u) => u.subSequenceNumber !== undefined),
                       users: users.map((u) => ({ partitionKey: u.partitionKey, data: u.data })) };
            });
            process.stdout.write(JSON.stringify(out));
        """
        p = subprocess.run(["node", "-e", script], input=json.dumps(outer), capture_output=True, text=True,
                           cwd=str(JS_DIR), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        deaggregated = json.loads(p.stdout)
        self.assertTrue(any(x["aggregated"] and len(x["users"]) > 1 for x in deaggregated),
                        "no record was aggregated")
        by_shard = {}
        for x in deaggregated:
            rng = shards[x["shard"]]
            for u in x["users"]:
                data = base64.b64decode(u["data"])
                self.assertEqual(u["partitionKey"], java_partition_key(data.decode()))
                # each user record is in the shard its own key maps to, as the KPL groups them
                self.assertTrue(int(rng["StartingHashKey"]) <= hash_key(u["partitionKey"]) <=
                                int(rng["EndingHashKey"]))
                by_shard.setdefault(x["shard"], []).append((u["partitionKey"], data))
        self.assertTripsInOrder(by_shard, self.trips)

    def test_retries_refused_requests_and_failed_entries(self):
        create_stream(self.kinesis, "replay-retry", 2)
        proxy = ThrottlingProxy(self.server.port)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        self.addCleanup(proxy.server_close)
        self.addCleanup(proxy.shutdown)
        r = subprocess.run([tidepool_bin(), "replay", "-endpoint", proxy.endpoint, "-bucketName", BUCKET,
                            "-objectPrefix", "trips/", "-streamName", "replay-retry", "-speedup", "100000"],
                           capture_output=True, text=True, timeout=60)
        self.assertReplayed(r)
        self.assertGreater(proxy.put_records_calls, 3)
        self.assertIn("WARN   KinesisProducer - retrying records of stream replay-retry "
                      "(ProvisionedThroughputExceededException: Rate exceeded for shard)", r.stdout)
        trips, marks = self.split(self.read_stream("replay-retry"))
        # a retried entry lands after later ones of its batch: every trip once, order aside
        self.assertEqual(sorted(d for recs in trips.values() for _, d in recs),
                         sorted((line + "\n").encode() for line in self.trips))
        for shard, recs in marks.items():
            values = [parse_iso(json.loads(d)["watermark"]) for _, d in recs]
            self.assertEqual(values, sorted(values), f"{shard}: watermarks go back")
            self.assertEqual(values[-1], max(parse_iso(json.loads(d)["dropoff_datetime"]) for _, d in trips[shard]))

    # ---- errors ----

    def test_missing_stream(self):
        r = self.replay("-streamName", "beam-workshop")
        self.assertReplayed(r, 1)
        self.assertEqual(
            r.stderr.strip(),
            f"tidepool replay: stream beam-workshop not found in us-east-1 at {self.server.endpoint} "
            f"(ResourceNotFoundException: Stream beam-workshop under account 000000000000 not found.)")
        self.assertNotIn("reading object", r.stdout)

    def test_missing_bucket_and_empty_prefix(self):
        create_stream(self.kinesis, "replay-errors", 1)
        r = subprocess.run([tidepool_bin(), "replay", "-endpoint", self.server.endpoint, "-streamName",
                            "replay-errors", "-bucketName", "no-such-bucket"], capture_output=True, text=True,
                           timeout=60)
        self.assertReplayed(r, 1)
        self.assertIn("tidepool replay: cannot list s3://no-such-bucket/artifacts/kinesis-analytics-taxi-consumer/"
                      f"taxi-trips.json.lz4/ at {self.server.endpoint} (NoSuchBucket: ", r.stderr)
        r = self.replay("-streamName", "replay-errors", prefix="nothing/")
        self.assertReplayed(r, 1)
        self.assertEqual(r.stderr.strip(),
                         f"tidepool replay: no objects under s3://{BUCKET}/nothing/ at {self.server.endpoint}")
        self.assertEqual(read_shard(self.kinesis, "replay-errors", "shardId-000000000000"), [])

    def test_connection_refused_and_bad_options(self):
        r = subprocess.run([tidepool_bin(), "replay", "-endpoint", "http://127.0.0.1:1", "-streamName", "x"],
                           capture_output=True, text=True, timeout=60)
        self.assertReplayed(r, 1)
        self.assertRegex(r.stderr.strip(), r"^tidepool replay: cannot reach http://127\.0\.0\.1:1 \(.*"
                                           r"Connection refused.*\)$")
        for args, message in [(["-speedup", "0"], "invalid value '0' for -speedup"),
                              (["-seek", "2018-01-01"], "invalid value '2018-01-01' for -seek"),
                              (["-bufferSize"], "-bufferSize needs a value"),
                              (["-streamArn", "arn:aws:s3:::b"], "is not a stream ARN"),
                              (["-nope"], "unknown option '-nope'")]:
            r = subprocess.run([tidepool_bin(), "replay", *args], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr)
        r = subprocess.run([tidepool_bin(), "replay", "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0)
        self.assertIn("-maxOutstandingRecords N", r.stdout)

    # ---- interruption ----

    def test_sigint_sends_what_is_in_flight_and_stops(self):
        create_stream(self.kinesis, "replay-int", 2)
        cmd = [tidepool_bin(), "replay", "-endpoint", self.server.endpoint, "-bucketName", BUCKET,
               "-objectPrefix", "slow/", "-streamName", "replay-int", "-speedup", "40", "-statisticsFrequency",
               "250", "-maxOutstandingRecords", "5"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines, stats_seen = [], threading.Event()

        def read():
            for line in proc.stdout:
                lines.append(line)
                if STATS_RE.search(line):
                    stats_seen.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            self.assertTrue(stats_seen.wait(30), "no statistics line")
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            status = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(10)
        err = proc.stderr.read()
        out = "".join(lines)
        self.assertEqual(status, 130, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertNotIn("runtime error", err)
        m = re.search(r"interrupted: (\d+) events have been sent", out)
        self.assertTrue(m, out)
        self.assertTrue(STATS_RE.search(out.splitlines()[-2]), out)  # a last statistics line
        trips = self.split(self.read_stream("replay-int"))[0]
        sent = int(m.group(1))
        self.assertTrue(0 < sent < 600, sent)
        # whole records only, each once: the first `sent` trips in time order
        self.assertTripsInOrder(trips, self.slow[:sent])


if __name__ == "__main__":
    harness.main()
