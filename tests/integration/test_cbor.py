"""Kinesis in CBOR (application/x-amz-cbor-1.1), built the way the AWS SDKs for Java
(Jackson's CBORGenerator) write it: indefinite-length maps, byte strings for Data, tag 1 +
epoch milliseconds for timestamps. Answers, errors included, must come back in CBOR with
byte strings and integer-millisecond dates, since Java parses whatever it asked for."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cbor_codec import Tag, decode, encode  # noqa: E402
from harness import ServerTestCase, main, shard_id  # noqa: E402

CBOR_CT = "application/x-amz-cbor-1.1"


class CborTest(ServerTestCase):
    def call(self, op, body=None, raw=None):
        payload = raw if raw is not None else encode(body if body is not None else {})
        r = self.server.kinesis_raw(op, payload, content_type=CBOR_CT)
        self.assertEqual(r.header("Content-Type"), CBOR_CT, r)
        return r.status, (decode(r.body) if r.body else None)

    def assertCborError(self, got, type_, message=None):
        status, body = got
        self.assertEqual(status, 400, body)
        self.assertEqual(body["__type"], type_, body)
        if message is not None:
            self.assertEqual(body.get("message"), message, body)

    def test_put_records_then_read_back_by_timestamp(self):
        self.assertEqual(self.call("CreateStream", {"StreamName": "cb", "ShardCount": 2}), (200, None))
        before_ms = int(time.time() * 1000) - 1000
        payloads = [bytes([i]) * i + b"\x00\xff" for i in range(20)]
        status, out = self.call("PutRecords", {"StreamName": "cb", "Records": [
            {"Data": d, "PartitionKey": "pk%d" % i, "ExplicitHashKey": "0"} for i, d in enumerate(payloads)]})
        self.assertEqual(status, 200, out)
        self.assertEqual(out["FailedRecordCount"], 0)
        self.assertEqual([r["ShardId"] for r in out["Records"]], [shard_id(0)] * 20)
        # AT_TIMESTAMP with a tag-1 millisecond date, as Java sends it
        status, it = self.call("GetShardIterator", {"StreamName": "cb", "ShardId": shard_id(0),
                                                    "ShardIteratorType": "AT_TIMESTAMP",
                                                    "Timestamp": Tag(1, before_ms)})
        self.assertEqual(status, 200, it)
        status, got = self.call("GetRecords", {"ShardIterator": it["ShardIterator"], "Limit": 100})
        self.assertEqual(status, 200, got)
        self.assertEqual([r["Data"] for r in got["Records"]], payloads)  # byte strings, byte-identical
        for r in got["Records"]:
            ts = r["ApproximateArrivalTimestamp"]
            self.assertIsInstance(ts, Tag)
            self.assertEqual(ts.tag, 1)
            self.assertIsInstance(ts.value, int)  # epoch milliseconds, not float seconds
            self.assertLess(abs(ts.value - time.time() * 1000), 60000)
        self.assertEqual(got["MillisBehindLatest"], 0)
        # a date after all records: nothing; a bare millisecond number works too
        status, it = self.call("GetShardIterator", {"StreamName": "cb", "ShardId": shard_id(0),
                                                    "ShardIteratorType": "AT_TIMESTAMP",
                                                    "Timestamp": int(time.time() * 1000)})
        self.assertEqual(status, 200, it)
        status, got = self.call("GetRecords", {"ShardIterator": it["ShardIterator"]})
        self.assertEqual(got["Records"], [])

    def test_definite_lengths_and_summary_dates(self):
        body = encode({"StreamName": "cbdef", "ShardCount": 1}, indefinite=False)
        self.assertEqual(self.call("CreateStream", raw=body), (200, None))
        status, out = self.call("DescribeStreamSummary", {"StreamName": "cbdef"})
        self.assertEqual(status, 200, out)
        summary = out["StreamDescriptionSummary"]
        self.assertEqual(summary["OpenShardCount"], 1)
        self.assertEqual(summary["StreamCreationTimestamp"].tag, 1)
        self.assertIsInstance(summary["StreamCreationTimestamp"].value, int)

    def test_errors_come_back_in_cbor(self):
        self.assertCborError(self.call("DescribeStream", {"StreamName": "missing"}),
                             "ResourceNotFoundException",
                             "Stream missing under account 000000000000 not found.")
        self.assertCborError(self.call("PutRecord", {"StreamName": "missing", "PartitionKey": "", "Data": b""}),
                             "ValidationException",
                             "1 validation error detected: Value '' at 'partitionKey' failed to satisfy "
                             "constraint: Member must have length greater than or equal to 1")
        # a string where a blob belongs is fine in JSON (base64) but a byte string is
        # required in CBOR only for blobs: a byte string for a string member is an error
        self.assertCborError(self.call("DescribeStream", {"StreamName": b"bytes"}), "SerializationException")
        self.assertCborError(self.call("NoSuchOperation", {}), "UnknownOperationException")

    def test_malformed_cbor_is_a_serialization_error_and_the_server_lives(self):
        for raw in (b"\xbf\x61", b"\xbf", b"\x00", b"\xa1\x01\x02", b"\x9f" * 100000, b"\xbf" * 100000,
                    b"\xff", encode({"StreamName": "x"}) + b"\x00", b"\x7f\x61a"):
            with self.subTest(raw=raw[:8]):
                self.assertCborError(self.call("DescribeStream", raw=raw), "SerializationException")
        status, out = self.call("ListStreams", {})
        self.assertEqual(status, 200, out)
        self.assertTrue(self.server.alive())

    def test_indefinite_strings_are_joined(self):
        self.assertEqual(self.call("CreateStream", {"StreamName": "joined", "ShardCount": 1}), (200, None))
        # "joined" as an indefinite text string of two chunks; Data as two byte chunks
        name = b"\x7f" + encode("joi") + encode("ned") + b"\xff"
        data = b"\x5f" + encode(b"ab") + encode(b"cd") + b"\xff"
        body = b"\xbf" + encode("StreamName") + name + encode("PartitionKey") + encode("k") + \
            encode("Data") + data + b"\xff"
        status, out = self.call("PutRecord", raw=body)
        self.assertEqual(status, 200, out)
        status, it = self.call("GetShardIterator", {"StreamName": "joined", "ShardId": shard_id(0),
                                                    "ShardIteratorType": "TRIM_HORIZON"})
        status, got = self.call("GetRecords", {"ShardIterator": it["ShardIterator"]})
        self.assertEqual([r["Data"] for r in got["Records"]], [b"abcd"])


if __name__ == "__main__":
    main()
