#!/usr/bin/env python3
"""Amazon Data Firehose's delivery engine end to end (boto3 firehose, kinesis and s3 clients
against a real tidepool process): Kinesis stream sources, KPL de-aggregation (records made by
the npm package aws-kinesis-agg), the Lambda processor through builtin, exec and http hooks
(Ok, Dropped, ProcessingFailed, failing and unknown functions, retries), source record backup,
and exactly-once delivery across kill -9.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_firehose_engine.py
"""

import base64
import collections
import datetime
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (  # noqa: E402
    REGION,
    Server,
    ServerTestCase,
    create_stream,
    read_shard,
    shard_id,
    stream_arn,
    utcnow,
)
from firehose_helpers import (  # noqa: E402
    HOOK_DECIDE,
    HOOK_ECHO,
    HOOK_UPPER,
    ROLE_ARN,
    HookHTTPServer,
    bucket_arn,
    exec_hook,
    firehose_arn,
    firehose_status,
    hints,
    key_regex,
    kpl_aggregate,
    lambda_arn,
    lambda_processing,
    lines_of,
    list_keys,
    ok_response,
    read_events,
    read_objects,
    s3_dest,
    skip_unless_kpl,
    wait_objects,
    wait_until,
    write_hook,
)

FUNCTION_ERROR_MSG = "The Lambda function was successfully invoked but it returned an error result."
FAILURE_KEYS = ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData",
                "lambdaArn"]
HOUR_RE = r"\d{4}/\d{2}/\d{2}/\d{2}/"


def hour_prefix(t):
    return t.strftime("%Y/%m/%d/%H/")


def ms(t):
    return int(round(t.timestamp() * 1000))


def iso_ms(t):
    """2024-05-01T12:34:56.789Z from an aware datetime (rounded to the millisecond), as JS toISOString."""
    m = ms(t)
    return datetime.datetime.fromtimestamp(m // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        f".{m % 1000:03d}Z"


def terminated_lines(obj):
    """Records that each end in LF (the enrich function's output, failure JSON lines)."""
    if not obj.data:
        return []
    assert obj.data.endswith(b"\n"), f"{obj.key}: not newline-terminated: {obj.data[-40:]!r}"
    return obj.data[:-1].split(b"\n")


def put_kinesis(kinesis, stream, entries):
    """PutRecords in batches of ≤500; returns [(pk, data, shard, seq)]."""
    out = []
    for i in range(0, len(entries), 500):
        chunk = entries[i:i + 500]
        r = kinesis.put_records(StreamName=stream, Records=[{"PartitionKey": pk, "Data": d} for pk, d in chunk])
        assert r.get("FailedRecordCount", 0) == 0, r["Records"][:3]
        out += [(pk, d, x["ShardId"], x["SequenceNumber"]) for (pk, d), x in zip(chunk, r["Records"])]
    return out


def kinesis_source(stream):
    return {"KinesisStreamARN": stream_arn(stream), "RoleARN": ROLE_ARN}


class EngineCase(ServerTestCase):
    """A server with Lambda hooks registered; hook scripts live in cls.hook_dir."""

    @classmethod
    def hooks(cls):
        """{function name: hook}; called once the hook directory exists."""
        return {}

    @classmethod
    def setUpClass(cls):
        cls.hook_dir = tempfile.mkdtemp(prefix="tidepool-fh-hooks-")
        cls.addClassCleanup(shutil.rmtree, cls.hook_dir, True)
        args = []
        for name, hook in cls.hooks().items():
            args += ["--lambda", f"{name}={hook}"]
        cls.server_args = tuple(args) + ("--lambda-timeout-ms", "20000")
        super().setUpClass()
        cls.fh = cls.server.client("firehose")
        cls.s3 = cls.server.client("s3")

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            # the harness restarts a server that died (on another port): new clients too
            if self.server.alive() and type(self).fh.meta.endpoint_url != self.server.endpoint:
                cls = type(self)
                cls.fh = self.server.client("firehose")
                cls.s3 = self.server.client("s3")

    def log_path(self, name):
        return os.path.join(self.hook_dir, f"{name}.log")

    def create(self, name, dest, **kw):
        self.fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dest, **kw)

    def assertFailureLine(self, line, raw, attempts, code, message, arn, t0, t1):
        doc = json.loads(line)
        self.assertEqual(list(doc), FAILURE_KEYS, line)
        self.assertEqual(doc["attemptsMade"], attempts)
        self.assertEqual(doc["errorCode"], code)
        self.assertEqual(doc["errorMessage"], message)
        self.assertEqual(base64.b64decode(doc["rawData"]), raw)
        self.assertEqual(doc["lambdaArn"], arn)
        self.assertIsInstance(doc["arrivalTimestamp"], int)
        self.assertIsInstance(doc["attemptEndingTimestamp"], int)
        self.assertTrue(ms(t0) - 5 <= doc["arrivalTimestamp"] <= ms(t1) + 5, (t0, doc, t1))
        self.assertTrue(doc["arrivalTimestamp"] <= doc["attemptEndingTimestamp"] <= time.time() * 1000 + 5, doc)
        return doc


# =============================================================================================
class KinesisSourceTest(EngineCase):
    """Kinesis stream sources: the workshop's enrich function, KPL aggregates."""

    @classmethod
    def hooks(cls):
        echo = write_hook(cls.hook_dir, "echo", HOOK_ECHO, log=os.path.join(cls.hook_dir, "echo.log"))
        return {"enrich": "builtin:add-approximate-arrival-time", "echo": exec_hook(echo)}

    def test_enrich_gzip_from_kinesis_source(self):
        k, s3 = self.kinesis, self.s3
        create_stream(k, "taxi", 4)
        s3.create_bucket(Bucket="fh-enrich")

        def payload(i):
            # not compact, a float that JS prints as an integer, an escaped non-ASCII character
            return ('{"trip_id": %d, "fare": %d.0, "tip": 0.5, "note": "caf\\u00e9 #%d", "ok": true, "x": null}'
                    % (i, i, i)).encode()

        pre = put_kinesis(k, "taxi", [(f"pre-{i}", payload(-1 - i)) for i in range(5)])
        time.sleep(0.02)  # the stream starts strictly after the last earlier record
        self.create("enrich", s3_dest("fh-enrich", Prefix="historic-trip-events/", CompressionFormat="GZIP",
                                      BufferingHints=hints(1),
                                      ProcessingConfiguration=lambda_processing(lambda_arn("enrich"), interval=1)),
                    DeliveryStreamType="KinesisStreamAsSource", KinesisStreamSourceConfiguration=kinesis_source("taxi"))
        rng = random.Random(7)
        t0 = utcnow()
        n = 300
        put = put_kinesis(k, "taxi", [(f"pk-{rng.random()}", payload(i)) for i in range(n)])
        t1 = utcnow()
        self.assertEqual(len({x[2] for x in put}), 4, "records on all 4 shards")
        arrival = {}
        for i in range(4):
            for rec in read_shard(k, "taxi", shard_id(i)):
                arrival[json.loads(rec["Data"])["trip_id"]] = rec["ApproximateArrivalTimestamp"]
        self.assertEqual(len(arrival), n + len(pre))
        objs = wait_objects(self.server, s3, "fh-enrich", "historic-trip-events/",
                            lambda o: len(terminated_lines(o)), n, "enrich")
        kre = key_regex(rf"historic-trip-events/({HOUR_RE})", "enrich", 1, r"\.gz")
        got = []
        for o in objs:
            m = kre.match(o.key)
            self.assertIsNotNone(m, o.key)
            self.assertIn(m.group(1), {hour_prefix(t0), hour_prefix(t1)})
            self.assertEqual((o.content_type, o.content_encoding), ("application/octet-stream", "gzip"))
            got += terminated_lines(o)
        want = [('{"approximate_arrival_timestamp":"%s","trip_id":%d,"fare":%d,"tip":0.5,"note":"café #%d",'
                 '"ok":true,"x":null}' % (iso_ms(arrival[i]), i, i, i)).encode() for i in range(n)]
        self.assertEqual(collections.Counter(got), collections.Counter(want),
                         "every record once, enriched; none put before the delivery stream existed")

    def test_two_delivery_streams_on_one_kinesis_stream(self):
        create_stream(self.kinesis, "shared", 2)
        for name in ("fan-a", "fan-b"):
            self.s3.create_bucket(Bucket=f"fh-{name}")
            self.create(name, s3_dest(f"fh-{name}", BufferingHints=hints(1),
                                      ProcessingConfiguration={"Enabled": True, "Processors": [
                                          {"Type": "AppendDelimiterToRecord", "Parameters": []}]}),
                        DeliveryStreamType="KinesisStreamAsSource",
                        KinesisStreamSourceConfiguration=kinesis_source("shared"))
        records = [b"shared-%03d" % i for i in range(100)]
        put_kinesis(self.kinesis, "shared", [(f"k{i}", x) for i, x in enumerate(records)])
        for name in ("fan-a", "fan-b"):
            objs = wait_objects(self.server, self.s3, f"fh-{name}", "", lambda o: len(lines_of(o)), 100, name)
            self.assertEqual(sorted(x for o in objs for x in lines_of(o)), records, f"{name}: every record once")

    def test_kpl_aggregated_records_are_deaggregated(self):
        skip_unless_kpl(self)
        k, s3 = self.kinesis, self.s3
        create_stream(k, "kpl", 2)
        s3.create_bucket(Bucket="fh-kpl")
        self.create("kpl", s3_dest("fh-kpl", Prefix="kpl/", BufferingHints=hints(1),
                                   ProcessingConfiguration=lambda_processing("echo", interval=1, delimiter=True)),
                    DeliveryStreamType="KinesisStreamAsSource", KinesisStreamSourceConfiguration=kinesis_source("kpl"))
        groups = [[(f"agg{g}-pk{j % 3}", b"user-%d-%d-" % (g, j) + os.urandom(8).hex().encode())
                   for j in range(size)] for g, size in enumerate((4, 1, 25, 7))]
        aggregates = kpl_aggregate(groups)
        self.assertEqual(len(aggregates), len(groups))
        t0 = utcnow()
        outer = []
        for (pk, data), g in zip(aggregates, groups):
            self.assertEqual(data[:4], b"\xf3\x89\x9a\xc2", "KPL magic")
            r = k.put_record(StreamName="kpl", PartitionKey=pk, Data=data)
            outer.append((r["ShardId"], r["SequenceNumber"], g))
        plain = k.put_record(StreamName="kpl", PartitionKey="plain-pk", Data=b"plain-record")
        t1 = utcnow()
        users = [d for g in groups for _, d in g] + [b"plain-record"]
        objs = wait_objects(self.server, s3, "fh-kpl", "kpl/", lambda o: len(lines_of(o)), len(users), "kpl")
        got = [x for o in objs for x in lines_of(o)]
        self.assertEqual(collections.Counter(got), collections.Counter(users),
                         "the user records, each once, and no aggregate bytes")
        events = read_events(self.log_path("echo"))
        self.assertTrue(events)
        seen = {}
        for ev in events:
            self.assertEqual(list(ev), ["invocationId", "sourceKinesisStreamArn", "deliveryStreamArn", "region",
                                        "records"])
            self.assertEqual((ev["sourceKinesisStreamArn"], ev["deliveryStreamArn"], ev["region"]),
                             (stream_arn("kpl"), firehose_arn("kpl"), REGION))
            self.assertRegex(ev["invocationId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
            ids = [r["recordId"] for r in ev["records"]]
            self.assertEqual(len(ids), len(set(ids)), "recordIds unique within an invocation")
            for r in ev["records"]:
                self.assertEqual(list(r), ["recordId", "approximateArrivalTimestamp", "data", "kinesisRecordMetadata"])
                md = r["kinesisRecordMetadata"]
                self.assertEqual(list(md), ["shardId", "partitionKey", "approximateArrivalTimestamp", "sequenceNumber",
                                            "subsequenceNumber"])
                self.assertEqual(md["approximateArrivalTimestamp"], r["approximateArrivalTimestamp"])
                self.assertTrue(ms(t0) - 5 <= r["approximateArrivalTimestamp"] <= ms(t1) + 5)
                key = (md["sequenceNumber"], md["subsequenceNumber"])
                self.assertNotIn(key, seen, "each user record goes to the function once")
                seen[key] = (md["shardId"], md["partitionKey"], base64.b64decode(r["data"]))
        for shard, seq, g in outer:
            self.assertEqual([seen.get((seq, j), (None,) * 3)[1:] for j in range(len(g))], g,
                             "subsequenceNumber 0..n-1 with the inner partition keys, under the aggregate's sequence")
            self.assertEqual([seen[(seq, j)][0] for j in range(len(g))], [shard] * len(g),
                             "kinesisRecordMetadata.shardId is the aggregate's shard")
        self.assertEqual(seen.get((plain["SequenceNumber"], 0)), (plain["ShardId"], "plain-pk", b"plain-record"))
        self.assertEqual(len(seen), len(users))


    def test_invalid_kpl_aggregates_are_delivered_whole(self):
        """A record with the KPL magic that is not a well-formed aggregate is one plain record, as the
        KCL's de-aggregation treats it (magic with a wrong MD5, with nothing but an MD5, or a protobuf that
        does not parse);
        Firehose's documentation says only that it de-aggregates KPL records. A valid MD5 over
        an out-of-range partition key index is delivered whole too (the KCL would drop it)."""
        skip_unless_kpl(self)
        k, s3 = self.kinesis, self.s3
        create_stream(k, "badkpl", 1)
        s3.create_bucket(Bucket="fh-badkpl")
        self.create("badkpl", s3_dest("fh-badkpl", BufferingHints=hints(1)),
                    DeliveryStreamType="KinesisStreamAsSource", KinesisStreamSourceConfiguration=kinesis_source("badkpl"))
        magic = b"\xf3\x89\x9a\xc2"
        (_, valid), = kpl_aggregate([[("pk-a", b"user-one"), ("pk-b", b"user-two")]])
        bad_md5 = valid[:-1] + bytes([valid[-1] ^ 1])
        garbage = b"\xff\xff\xff\xff not a protobuf"
        bad_protobuf = magic + garbage + hashlib.md5(garbage).digest()
        record = b"\x08\x05\x1a\x03abc"  # partition_key_index 5 in an empty table, data "abc"
        bad_index_pb = b"\x1a" + bytes([len(record)]) + record
        bad_index = magic + bad_index_pb + hashlib.md5(bad_index_pb).digest()
        # the magic alone, or with only the MD5 of nothing after it: too short to be one
        whole = [bad_md5, bad_protobuf, bad_index, magic, magic + hashlib.md5(b"").digest()]
        for i, data in enumerate(whole + [valid]):
            k.put_record(StreamName="badkpl", PartitionKey=f"pk{i}", Data=data)
        expected = whole + [b"user-one", b"user-two"]
        total = sum(map(len, expected))
        objs = wait_objects(self.server, s3, "fh-badkpl", "", lambda o: len(o.data), total, "badkpl")
        delivered = b"".join(o.data for o in sorted(objs, key=lambda o: o.key))
        self.assertEqual(len(delivered), total, "nothing more, nothing lost")
        for data in expected:
            self.assertIn(data, delivered)
        self.assertNotIn(valid, delivered, "the valid aggregate is de-aggregated")


# =============================================================================================
class LambdaHooksTest(EngineCase):
    """DirectPut streams through exec, http and missing hooks."""

    @classmethod
    def hooks(cls):
        d = cls.hook_dir
        upper = write_hook(d, "upper", HOOK_UPPER, log=os.path.join(d, "upper.log"))
        decide = write_hook(d, "decide", HOOK_DECIDE)
        sized = write_hook(d, "sized", HOOK_ECHO, log=os.path.join(d, "sized.log"))
        cls.fail_count = os.path.join(d, "failing.count")
        cls.http = HookHTTPServer({"/rev": lambda ev: ok_response(ev, lambda b: b[::-1]),
                                   "/flaky": cls.flaky, "/error": cls.function_error, "/half": cls.half,
                                   "/garbage": lambda ev: (200, {}, b"this is not JSON")})
        cls.addClassCleanup(cls.http.close)
        cls.flaky_calls = 0
        return {"upper": exec_hook(upper), "decide": exec_hook(decide),
                "enrich": "builtin:add-approximate-arrival-time", "sized": exec_hook(sized),
                "failing": f"exec:echo invoked >> {cls.fail_count}; echo oops >&2; exit 3",
                "rev": cls.http.url("/rev"), "flaky": cls.http.url("/flaky"), "error": cls.http.url("/error"),
                "half": cls.http.url("/half"), "garbage": cls.http.url("/garbage")}

    @classmethod
    def flaky(cls, event):
        cls.flaky_calls += 1
        if cls.flaky_calls <= 2:
            return 500, {}, b'{"message":"try again"}'
        return ok_response(event, lambda b: b"flaky:" + b)

    @staticmethod
    def half(event):
        """Answers for the records whose data ends in an even digit only (plus an id it never got)."""
        out = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]
               if int(base64.b64decode(r["data"])[-1:]) % 2 == 0]
        out.append({"recordId": "not-one-of-yours", "result": "Ok", "data": "eA=="})
        return 200, {}, json.dumps({"records": out}).encode()

    @staticmethod
    def function_error(event):
        return 200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorType":"Error","errorMessage":"boom"}'

    def test_exec_hook_500_records_timestamp_prefix(self):
        self.s3.create_bucket(Bucket="fh-upper")
        self.create("upper", s3_dest("fh-upper", Prefix="!{timestamp:yyyy}/data/",
                                     ErrorOutputPrefix="err/!{firehose:error-output-type}/", BufferingHints=hints(1),
                                     ProcessingConfiguration=lambda_processing("upper", interval=1, delimiter=True)))
        records = [b"record %03d: mixed Case \xc3\xa9t\xc3\xa9" % i for i in range(500)]
        t0 = utcnow()
        r = self.fh.put_record_batch(DeliveryStreamName="upper", Records=[{"Data": x} for x in records])
        t1 = utcnow()
        self.assertEqual(r["FailedPutCount"], 0)
        year = t0.strftime("%Y")
        objs = wait_objects(self.server, self.s3, "fh-upper", f"{year}/", lambda o: len(lines_of(o)), 500, "upper")
        kre = key_regex(rf"{year}/data/", "upper", 1)
        for o in objs:
            self.assertRegex(o.key, kre)
            self.assertEqual((o.content_type, o.content_encoding), ("application/octet-stream", None))
        got = [x for o in objs for x in lines_of(o)]
        self.assertEqual(collections.Counter(got), collections.Counter(x.upper() for x in records))
        for o in objs:
            idx = [int(x[7:10]) for x in lines_of(o)]
            self.assertEqual(idx, sorted(idx), f"{o.key}: records in the order they were put")
        self.assertEqual(sorted(list_keys(self.s3, "fh-upper")), sorted(o.key for o in objs), "nothing under err/")
        events = read_events(self.log_path("upper"))
        sent = []
        for ev in events:
            self.assertEqual(list(ev), ["invocationId", "deliveryStreamArn", "region", "records"],
                             "a DirectPut event has no sourceKinesisStreamArn")
            self.assertEqual((ev["deliveryStreamArn"], ev["region"]), (firehose_arn("upper"), REGION))
            for rec in ev["records"]:
                self.assertEqual(list(rec), ["recordId", "approximateArrivalTimestamp", "data"])
                self.assertTrue(ms(t0) - 5 <= rec["approximateArrivalTimestamp"] <= ms(t1) + 5)
                sent.append(base64.b64decode(rec["data"]))
        self.assertEqual(collections.Counter(sent), collections.Counter(records), "each record to the hook once")

    def test_dropped_and_processing_failed(self):
        self.s3.create_bucket(Bucket="fh-decide")
        arn = lambda_arn("decide")
        self.create("decide", s3_dest("fh-decide", Prefix="dec/", BufferingHints=hints(1),
                                      ProcessingConfiguration=lambda_processing(arn, interval=1, delimiter=True)))
        records = [b"%s-%02d" % (kind, i) for i in range(10) for kind in (b"ok", b"drop", b"fail")]
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="decide", Records=[{"Data": x} for x in records])
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-decide", "dec/processing-failed/",
                            lambda o: len(terminated_lines(o)), 10, "decide")
        year = t0.strftime("%Y")
        oks = wait_objects(self.server, self.s3, "fh-decide", f"dec/{year}/", lambda o: len(lines_of(o)), 10, "decide")
        self.assertEqual(collections.Counter(x for o in oks for x in lines_of(o)),
                         collections.Counter(b"T:ok-%02d" % i for i in range(10)), "Ok records, transformed; "
                         "no Dropped record")
        for o in oks:
            self.assertRegex(o.key, key_regex(rf"dec/{HOUR_RE}", "decide", 1))
        raws = []
        for o in errs:
            m = key_regex(rf"dec/processing-failed/({HOUR_RE})", "decide", 1).match(o.key)
            self.assertIsNotNone(m, o.key)
            self.assertIn(m.group(1), {hour_prefix(t0), hour_prefix(t1)})
            self.assertEqual((o.content_type, o.content_encoding), ("application/octet-stream", None))
            for line in terminated_lines(o):
                doc = json.loads(line)
                raw = base64.b64decode(doc["rawData"])
                self.assertFailureLine(line, raw, 1, "Lambda.ProcessingFailedStatus",
                                       "ProcessingFailed status set for record", arn, t0, t1)
                raws.append(raw)
        self.assertEqual(collections.Counter(raws), collections.Counter(b"fail-%02d" % i for i in range(10)))
        self.assertEqual(len(list_keys(self.s3, "fh-decide")), len(oks) + len(errs))

    def test_failing_function_retries_then_processing_failed(self):
        self.s3.create_bucket(Bucket="fh-failing")
        self.create("failing", s3_dest("fh-failing", Prefix="f/", CompressionFormat="GZIP", BufferingHints=hints(1),
                                       ProcessingConfiguration=lambda_processing("failing", retries=2, interval=1)))
        records = [b"doomed-%d" % i for i in range(10)]
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="failing", Records=[{"Data": x} for x in records])
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-failing", "f/processing-failed/",
                            lambda o: len(terminated_lines(o)), 10, "failing")
        raws = []
        for o in errs:
            self.assertRegex(o.key, key_regex(rf"f/processing-failed/{HOUR_RE}", "failing", 1, r"\.gz"))
            self.assertEqual(o.content_encoding, "gzip", "error output is compressed like the destination")
            for line in terminated_lines(o):
                doc = self.assertFailureLine(line, base64.b64decode(json.loads(line)["rawData"]), 3,
                                             "Lambda.FunctionError", FUNCTION_ERROR_MSG, "failing", t0, t1)
                raws.append(base64.b64decode(doc["rawData"]))
        self.assertEqual(sorted(raws), sorted(records))
        with open(self.fail_count) as f:
            self.assertEqual(f.read().count("invoked"), 3, "NumberOfRetries 2: three invocations")
        self.assertEqual(list_keys(self.s3, "fh-failing", "f/2"), [], "nothing delivered as data")
        self.assertIn("Lambda.FunctionError", firehose_status(self.server)["failing"]["LastError"] or "")

    def test_unknown_function(self):
        self.s3.create_bucket(Bucket="fh-nobody")
        arn = lambda_arn("nobody")
        self.create("nobody", s3_dest("fh-nobody", Prefix="n/", BufferingHints=hints(1),
                                      ProcessingConfiguration=lambda_processing(arn, retries=0, interval=1)))
        t0 = utcnow()
        self.fh.put_record(DeliveryStreamName="nobody", Record={"Data": b"lost-1"})
        self.fh.put_record(DeliveryStreamName="nobody", Record={"Data": b"lost-2"})
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-nobody", "n/processing-failed/",
                            lambda o: len(terminated_lines(o)), 2, "nobody")
        raws = []
        for o in errs:
            for line in terminated_lines(o):
                doc = self.assertFailureLine(
                    line, base64.b64decode(json.loads(line)["rawData"]), 1, "Lambda.ResourceNotFound",
                    "The specified Lambda function does not exist. Use a different function that does exist.",
                    arn, t0, t1)
                raws.append(base64.b64decode(doc["rawData"]))
        self.assertEqual(sorted(raws), [b"lost-1", b"lost-2"])

    def test_http_hook(self):
        self.s3.create_bucket(Bucket="fh-http")
        self.create("rev", s3_dest("fh-http", Prefix="rev/", BufferingHints=hints(1),
                                   ProcessingConfiguration=lambda_processing(lambda_arn("rev") + ":$LATEST", interval=1,
                                                                             delimiter=True)))
        records = [b"http-%03d" % i for i in range(40)]
        self.fh.put_record_batch(DeliveryStreamName="rev", Records=[{"Data": x} for x in records])
        objs = wait_objects(self.server, self.s3, "fh-http", "rev/", lambda o: len(lines_of(o)), 40, "rev")
        self.assertEqual(collections.Counter(x for o in objs for x in lines_of(o)),
                         collections.Counter(x[::-1] for x in records))
        reqs = self.http.requests_for("/rev")
        self.assertTrue(reqs)
        for _, headers, ev in reqs:
            self.assertEqual(headers.get("Content-Type"), "application/json")
            self.assertEqual(list(ev), ["invocationId", "deliveryStreamArn", "region", "records"])
        self.assertEqual(sum(len(ev["records"]) for _, _, ev in reqs), 40)

    def test_http_hook_500_then_ok_is_retried(self):
        self.s3.create_bucket(Bucket="fh-flaky")
        self.create("flaky", s3_dest("fh-flaky", Prefix="fl/", BufferingHints=hints(1),
                                     ProcessingConfiguration=lambda_processing("flaky", retries=3, interval=1,
                                                                               delimiter=True)))
        records = [b"flaky-%d" % i for i in range(5)]
        self.fh.put_record_batch(DeliveryStreamName="flaky", Records=[{"Data": x} for x in records])
        objs = wait_objects(self.server, self.s3, "fh-flaky", "fl/", lambda o: len(lines_of(o)), 5, "flaky")
        self.assertEqual(sorted(x for o in objs for x in lines_of(o)), sorted(b"flaky:" + x for x in records))
        reqs = self.http.requests_for("/flaky")
        self.assertEqual(len(reqs), 3, "two HTTP 500 answers, then a third invocation")
        self.assertEqual(reqs[0][2], reqs[1][2], "a retry sends the same event")
        self.assertEqual(reqs[0][2], reqs[2][2], "a retry sends the same event")
        self.assertEqual(list_keys(self.s3, "fh-flaky", "fl/processing-failed/"), [])

    def test_http_function_error_header(self):
        self.s3.create_bucket(Bucket="fh-fnerr")
        self.create("fnerr", s3_dest("fh-fnerr", Prefix="fe/", BufferingHints=hints(1),
                                     ProcessingConfiguration=lambda_processing("error", retries=1, interval=1)))
        t0 = utcnow()
        self.fh.put_record(DeliveryStreamName="fnerr", Record={"Data": b"boom-1"})
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-fnerr", "fe/processing-failed/",
                            lambda o: len(terminated_lines(o)), 1, "fnerr")
        lines = [x for o in errs for x in terminated_lines(o)]
        self.assertEqual(len(lines), 1)
        self.assertFailureLine(lines[0], b"boom-1", 2, "Lambda.FunctionError", FUNCTION_ERROR_MSG, "error", t0, t1)
        self.assertEqual(len(self.http.requests_for("/error")), 2)

    def test_enrich_direct_put_and_a_throwing_function(self):
        """The workshop function on a DirectPut stream uses the record's own arrival time; a
        record that is not JSON makes it throw, and every record of that invocation fails."""
        self.s3.create_bucket(Bucket="fh-enr")
        arn = lambda_arn("enrich")
        self.create("enr", s3_dest("fh-enr", Prefix="e/", BufferingHints=hints(1),
                                   ProcessingConfiguration=lambda_processing(arn, retries=0, interval=1)))
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="enr", Records=[{"Data": b'{"a": %d}' % i} for i in range(3)])
        t1 = utcnow()
        year = t0.strftime("%Y")
        objs = wait_objects(self.server, self.s3, "fh-enr", f"e/{year}/", lambda o: len(terminated_lines(o)), 3,
                            "enr")
        got = [json.loads(x) for o in objs for x in terminated_lines(o)]
        self.assertEqual(sorted(d["a"] for d in got), [0, 1, 2])
        for line in (x for o in objs for x in terminated_lines(o)):
            self.assertRegex(line, rb'^\{"approximate_arrival_timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",'
                                   rb'"a":\d\}$')
            ts = datetime.datetime.strptime(json.loads(line)["approximate_arrival_timestamp"],
                                            "%Y-%m-%dT%H:%M:%S.%f%z")
            self.assertTrue(t0 - datetime.timedelta(milliseconds=5) <= ts <= t1 + datetime.timedelta(milliseconds=5))
        bad = [b'{"a": 10}', b"not json", b'{"a": 11}']
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="enr", Records=[{"Data": x} for x in bad])
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-enr", "e/processing-failed/",
                            lambda o: len(terminated_lines(o)), 3, "enr")
        raws = []
        for o in errs:
            for line in terminated_lines(o):
                doc = self.assertFailureLine(line, base64.b64decode(json.loads(line)["rawData"]), 1,
                                             "Lambda.FunctionError", FUNCTION_ERROR_MSG, arn, t0, t1)
                raws.append(base64.b64decode(doc["rawData"]))
        self.assertEqual(sorted(raws), sorted(bad), "the whole invocation failed")
        self.assertEqual(len(read_objects(self.s3, "fh-enr", f"e/{year}/")), len(objs), "nothing more delivered")

    def test_lambda_buffer_size_splits_invocations(self):
        """BufferSizeInMBs 0.2: no invocation carries more than 0.2 MiB of records."""
        self.s3.create_bucket(Bucket="fh-sized")
        self.create("sized", s3_dest("fh-sized", BufferingHints=hints(1),
                                     ProcessingConfiguration=lambda_processing("sized", interval=1, size_mb=0.2,
                                                                               delimiter=True)))
        records = [b"%03d-" % i + b"s" * 9996 for i in range(50)]  # 10,000 bytes each, 500,000 in all
        self.fh.put_record_batch(DeliveryStreamName="sized", Records=[{"Data": x} for x in records])
        objs = wait_objects(self.server, self.s3, "fh-sized", "", lambda o: len(lines_of(o)), 50, "sized")
        self.assertEqual(sorted(x for o in objs for x in lines_of(o)), records)
        sizes = [sum(len(base64.b64decode(r["data"])) for r in ev["records"])
                 for ev in read_events(self.log_path("sized"))]
        self.assertEqual(sum(sizes), 500000, "each record to the function once")
        self.assertTrue(all(0 < n <= int(0.2 * 1024 * 1024) for n in sizes), sizes)
        self.assertGreaterEqual(len(sizes), 3, sizes)

    def test_missing_record_ids_fail_one_by_one(self):
        self.s3.create_bucket(Bucket="fh-half")
        self.create("half", s3_dest("fh-half", Prefix="h/", BufferingHints=hints(1),
                                    ProcessingConfiguration=lambda_processing("half", interval=1, delimiter=True)))
        records = [b"half-%d" % i for i in range(10)]
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="half", Records=[{"Data": x} for x in records])
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-half", "h/processing-failed/",
                            lambda o: len(terminated_lines(o)), 5, "half")
        year = t0.strftime("%Y")
        oks = wait_objects(self.server, self.s3, "fh-half", f"h/{year}/", lambda o: len(lines_of(o)), 5, "half")
        self.assertEqual(sorted(x for o in oks for x in lines_of(o)), records[0::2],
                         "the answered records delivered; the unknown recordId ignored")
        raws = []
        for line in (x for o in errs for x in terminated_lines(o)):
            doc = self.assertFailureLine(
                line, base64.b64decode(json.loads(line)["rawData"]), 1, "Lambda.MissingRecordId",
                "One or more record Ids were not returned. Ensure that the Lambda function returns all received "
                "record Ids.", "half", t0, t1)
            raws.append(base64.b64decode(doc["rawData"]))
        self.assertEqual(sorted(raws), records[1::2])

    def test_response_not_json_fails_the_batch_without_retry(self):
        self.s3.create_bucket(Bucket="fh-garbage")
        self.create("garbage", s3_dest("fh-garbage", Prefix="g/", BufferingHints=hints(1),
                                       ProcessingConfiguration=lambda_processing("garbage", retries=2, interval=1)))
        t0 = utcnow()
        self.fh.put_record_batch(DeliveryStreamName="garbage", Records=[{"Data": b"g1"}, {"Data": b"g2"}])
        t1 = utcnow()
        errs = wait_objects(self.server, self.s3, "fh-garbage", "g/processing-failed/",
                            lambda o: len(terminated_lines(o)), 2, "garbage")
        raws = []
        for line in (x for o in errs for x in terminated_lines(o)):
            doc = self.assertFailureLine(
                line, base64.b64decode(json.loads(line)["rawData"]), 1, "Lambda.JsonProcessingException",
                "There was an error parsing returned records from the Lambda function. Ensure that the returned "
                "records follow the status model required by Firehose.", "garbage", t0, t1)
            raws.append(base64.b64decode(doc["rawData"]))
        self.assertEqual(sorted(raws), [b"g1", b"g2"])
        self.assertEqual(len(self.http.requests_for("/garbage")), 1, "an answer that is not JSON is not retried")

    def test_source_record_backup(self):
        for b in ("fh-bk-main", "fh-bk-raw"):
            self.s3.create_bucket(Bucket=b)
        self.create("backup", s3_dest(
            "fh-bk-main", Prefix="main/", BufferingHints=hints(1),
            ProcessingConfiguration=lambda_processing("upper", interval=1, delimiter=True), S3BackupMode="Enabled",
            S3BackupConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("fh-bk-raw"), "Prefix": "raw/"}))
        records = [b"rec-%05d" % i for i in range(120)]  # 9 bytes each
        self.fh.put_record_batch(DeliveryStreamName="backup", Records=[{"Data": x} for x in records])
        main = wait_objects(self.server, self.s3, "fh-bk-main", "main/", lambda o: len(lines_of(o)), 120, "backup")
        self.assertEqual(sorted(x for o in main for x in lines_of(o)), sorted(x.upper() for x in records))

        def raw_records(o):
            self.assertEqual(len(o.data) % 9, 0, o.data[:50])
            return [o.data[i:i + 9] for i in range(0, len(o.data), 9)]

        raw = wait_objects(self.server, self.s3, "fh-bk-raw", "raw/", lambda o: len(raw_records(o)), 120, "backup")
        for o in raw:
            self.assertRegex(o.key, key_regex(rf"raw/{HOUR_RE}", "backup", 1))
        self.assertEqual(sorted(x for o in raw for x in raw_records(o)), sorted(records),
                         "the backup holds the source records as they came")


# =============================================================================================
class Kill9Test(unittest.TestCase):
    """Buffered records survive kill -9 and are delivered exactly once after the restart."""

    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        init = os.path.join(self.server.tmp_root, "init.json")  # the hooks from an --init file this time
        with open(init, "w") as f:
            json.dump({"lambdas": {"identity": "builtin:identity"}}, f)
        self.server.extra_args = ["--init", init]
        self.server.start()
        self.clients()

    def clients(self):
        self.fh = self.server.client("firehose")
        self.s3 = self.server.client("s3")
        self.k = self.server.client("kinesis")

    def restart_hard(self):
        rc = self.server.restart(graceful=False)
        self.assertEqual(rc, -9)
        self.clients()

    def check_no_redelivery(self, name, bucket, delivered):
        """Kill -9 once more after the delivery, restart, put one marker record: once it arrives,
        nothing delivered before came again (the delivery was committed with its source)."""
        self.restart_hard()
        self.put_marker(name)
        objs = wait_objects(self.server, self.s3, bucket, "", lambda o: len(lines_of(o)), len(delivered) + 1, name)
        got = [x for o in objs for x in lines_of(o)]
        self.assertEqual(collections.Counter(got), collections.Counter(delivered + [b"marker"]))

    def test_direct_put_buffer_survives_kill9(self):
        self.s3.create_bucket(Bucket="fh-k9")
        self.fh.create_delivery_stream(
            DeliveryStreamName="k9", ExtendedS3DestinationConfiguration=s3_dest(
                "fh-k9", BufferingHints=hints(3), ProcessingConfiguration=lambda_processing("identity", interval=1,
                                                                                          delimiter=True)))
        self.put_marker = lambda name: self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"marker"})
        records = [b"k9-%04d" % i for i in range(305)]
        for i in range(0, 300, 100):
            r = self.fh.put_record_batch(DeliveryStreamName="k9", Records=[{"Data": x} for x in records[i:i + 100]])
            self.assertEqual(r["FailedPutCount"], 0)
        for x in records[300:]:
            self.fh.put_record(DeliveryStreamName="k9", Record={"Data": x})
        self.restart_hard()  # the moment the last acknowledgement arrived
        objs = wait_objects(self.server, self.s3, "fh-k9", "", lambda o: len(lines_of(o)), len(records), "k9")
        got = [x for o in objs for x in lines_of(o)]
        self.assertEqual(collections.Counter(got), collections.Counter(records))
        self.check_no_redelivery("k9", "fh-k9", records)

    def test_kinesis_source_mid_buffer_kill9(self):
        create_stream(self.k, "k9src", 3)
        self.s3.create_bucket(Bucket="fh-k9k")
        self.fh.create_delivery_stream(
            DeliveryStreamName="k9k", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration=kinesis_source("k9src"),
            ExtendedS3DestinationConfiguration=s3_dest(
                "fh-k9k", BufferingHints=hints(3), ProcessingConfiguration=lambda_processing("identity", interval=1,
                                                                                           delimiter=True)))
        self.put_marker = lambda name: self.k.put_record(StreamName="k9src", PartitionKey="m", Data=b"marker")
        records = [b"k9k-%04d" % i for i in range(200)]
        put_kinesis(self.k, "k9src", [(f"p{i}", x) for i, x in enumerate(records)])
        # read into the delivery stream's buffer, not yet delivered
        wait_until(lambda: firehose_status(self.server)["k9k"]["BufferedRecords"] == 200, 5, 0.02,
                   "the 200 records in k9k's buffer")
        self.assertEqual(firehose_status(self.server)["k9k"]["DeliveredObjects"], 0)
        self.restart_hard()
        objs = wait_objects(self.server, self.s3, "fh-k9k", "", lambda o: len(lines_of(o)), len(records), "k9k")
        got = [x for o in objs for x in lines_of(o)]
        self.assertEqual(collections.Counter(got), collections.Counter(records))
        self.check_no_redelivery("k9k", "fh-k9k", records)


if __name__ == "__main__":
    harness.main()
