#!/usr/bin/env python3
"""Protocol-level behaviour through raw HTTP: exact error types and texts, malformed input,
oversized bodies, the health endpoint, and HTTP/2 cleartext (via curl, when it has HTTP2).

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_errors_raw.py
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (  # noqa: E402
    ACCOUNT,
    JSON_CT,
    ONE_MIB,
    ServerTestCase,
    b64,
    create_stream,
    project_version,
    read_shard,
    shard_id,
    sigv4_headers,
)

MAX_HASH_PLUS_ONE = str(2**128)


class RawTestCase(ServerTestCase):
    def assertAwsError(self, resp, type_, message=None, status=400):
        """status, x-amzn-RequestId, JSON content type, __type and (exact str / regex) message."""
        self.assertEqual(resp.status, status, f"HTTP status; {resp!r}")
        rid = resp.header("x-amzn-RequestId")
        self.assertTrue(rid, f"x-amzn-RequestId header missing: {resp.headers}")
        ct = resp.header("Content-Type") or ""
        self.assertTrue(ct.startswith(JSON_CT), f"Content-Type {ct!r} should mirror the request's {JSON_CT}")
        try:
            body = resp.json()
        except ValueError:
            self.fail(f"error body is not JSON: {resp.body[:200]!r}")
        self.assertIsInstance(body, dict)
        got_type = body.get("__type", "")
        self.assertEqual(got_type.split("#")[-1], type_, f"__type; body {body}")
        if message is not None:
            # SerializationException uses 'Message' in AWS/kinesalite; every other shape 'message'.
            msg = body.get("message", body.get("Message"))
            if isinstance(message, re.Pattern):
                self.assertIsNotNone(msg, f"message missing: {body}")
                self.assertRegex(msg, message)
            else:
                self.assertEqual(msg, message)
        return body

    def call(self, op, payload, **kw):
        return self.server.kinesis_raw(op, payload, **kw)


class ErrorsTest(RawTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_stream(cls.kinesis, "s", 1)
        create_stream(cls.kinesis, "big", 1)

    # ---- success framing ------------------------------------------------------------------
    def test_success_has_request_id_and_json_content_type(self):
        r = self.call("ListStreams", {})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("x-amzn-RequestId"))
        self.assertTrue((r.header("Content-Type") or "").startswith(JSON_CT))
        body = r.json()
        self.assertIn("s", body["StreamNames"])
        self.assertIs(body["HasMoreStreams"], False)

    def test_request_ids_are_unique(self):
        ids = {self.call("DescribeStream", {"StreamName": "nope"}).header("x-amzn-RequestId") for _ in range(5)}
        ids |= {self.call("ListStreams", {}).header("x-amzn-RequestId") for _ in range(5)}
        self.assertEqual(len(ids), 10, ids)

    def test_wire_formats_of_records(self):
        put = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": b64(b"\x00\xffwire")})
        self.assertEqual(put.status, 200, put)
        seq = put.json()["SequenceNumber"]
        self.assertIsInstance(seq, str, "SequenceNumber is a JSON string")
        it = self.call("GetShardIterator", {"StreamName": "s", "ShardId": shard_id(0),
                                            "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                            "StartingSequenceNumber": seq}).json()["ShardIterator"]
        self.assertLessEqual(len(it), 512, "ShardIterator is at most 512 characters")
        body = self.call("GetRecords", {"ShardIterator": it, "Limit": 1}).json()
        rec = body["Records"][0]
        self.assertEqual(rec["Data"], b64(b"\x00\xffwire"), "Data is standard padded base64")
        ts = rec["ApproximateArrivalTimestamp"]
        self.assertIsInstance(ts, (int, float), "timestamps are JSON numbers (epoch seconds)")
        self.assertLess(abs(ts - time.time()), 60)
        self.assertIsInstance(body["MillisBehindLatest"], int)

    def test_at_timestamp_has_millisecond_precision(self):
        # SDKs other than boto3 (JS v3, Go, Java) send fractional epoch seconds.
        create_stream(self.kinesis, "tsms", 1)
        for i in range(3):
            self.assertEqual(self.call("PutRecord", {"StreamName": "tsms", "PartitionKey": "p",
                                                     "Data": b64(b"r%d" % i)}).status, 200)
            time.sleep(0.03)
        it = self.call("GetShardIterator", {"StreamName": "tsms", "ShardId": shard_id(0),
                                            "ShardIteratorType": "TRIM_HORIZON"}).json()["ShardIterator"]
        arrivals = [r["ApproximateArrivalTimestamp"] for r in self.call("GetRecords", {"ShardIterator": it}).json()["Records"]]
        self.assertEqual(len(arrivals), 3)
        self.assertTrue(all(b - a >= 0.01 for a, b in zip(arrivals, arrivals[1:])),
                        f"arrival timestamps should have ms precision and ~30 ms spacing: {arrivals}")

        def first_at(ts):
            r = self.call("GetShardIterator", {"StreamName": "tsms", "ShardId": shard_id(0),
                                               "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts})
            self.assertEqual(r.status, 200, r)
            recs = self.call("GetRecords", {"ShardIterator": r.json()["ShardIterator"]}).json()["Records"]
            return base64.b64decode(recs[0]["Data"]) if recs else None

        self.assertEqual(first_at(arrivals[1]), b"r1", "a record arriving exactly at Timestamp is included")
        self.assertEqual(first_at(round((arrivals[0] + arrivals[1]) / 2, 3)), b"r1")
        self.assertEqual(first_at(round(arrivals[1] + 0.002, 3)), b"r2")
        self.assertEqual(first_at(round(arrivals[2] + 0.002, 3)), None)

    # ---- protocol-level errors --------------------------------------------------------------
    def test_unknown_operation(self):
        self.assertAwsError(self.call("NoSuchOperation", {}), "UnknownOperationException")

    def test_unknown_target_prefix(self):
        self.assertAwsError(self.call(None, {}, target="Kinesis_20991231.ListStreams"), "UnknownOperationException")

    def test_missing_target(self):
        self.assertAwsError(self.call(None, {}), "UnknownOperationException")

    def test_bad_json(self):
        self.assertAwsError(self.call("ListStreams", "this is not json"), "SerializationException")

    def test_truncated_json(self):
        self.assertAwsError(self.call("DescribeStream", '{"StreamName": "s"'), "SerializationException")
        self.assertAwsError(self.call("PutRecord", '{"StreamName":"s","PartitionKey":"p","Data":"AAAA'),
                            "SerializationException")

    def test_json_that_is_not_an_object(self):
        for body in ('"just a string"', "42", "null"):
            with self.subTest(body=body):
                self.assertAwsError(self.call("ListStreams", body), "SerializationException")

    def test_empty_body(self):
        self.assertAwsError(self.call("ListStreams", None), "SerializationException")
        self.assertAwsError(self.call("DescribeStream", None), "SerializationException")

    def test_wrong_member_types(self):
        cases = [
            ("CreateStream", {"StreamName": "wt", "ShardCount": "x"}),
            ("CreateStream", {"StreamName": "wt", "ShardCount": True}),
            ("CreateStream", {"StreamName": 5, "ShardCount": 1}),
            ("CreateStream", {"StreamName": ["wt"], "ShardCount": 1}),
            ("ListStreams", {"Limit": "2"}),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": 12}),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "!!not base64!!"}),
            ("PutRecords", {"StreamName": "s", "Records": {"PartitionKey": "p", "Data": "AA=="}}),
            ("AddTagsToStream", {"StreamName": "s", "Tags": ["a", "b"]}),
        ]
        for op, payload in cases:
            with self.subTest(op=op, payload=payload):
                self.assertAwsError(self.call(op, payload), "SerializationException")
        names = self.call("ListStreams", {}).json()["StreamNames"]
        self.assertNotIn("wt", names, "a request that failed to deserialize must not create a stream")

    def test_missing_authentication_token(self):
        r = self.call("ListStreams", {}, sign=False)
        self.assertAwsError(r, "MissingAuthenticationTokenException", "Missing Authentication Token")

    # ---- resource errors --------------------------------------------------------------------
    def test_stream_not_found(self):
        self.assertAwsError(self.call("DescribeStream", {"StreamName": "nope"}), "ResourceNotFoundException",
                            f"Stream nope under account {ACCOUNT} not found.")
        self.assertAwsError(
            self.call("PutRecord", {"StreamName": "nope", "PartitionKey": "p", "Data": "AA=="}),
            "ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")
        arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/nope2"
        self.assertAwsError(self.call("DescribeStreamSummary", {"StreamARN": arn}), "ResourceNotFoundException",
                            f"Stream nope2 under account {ACCOUNT} not found.")

    def test_stream_already_exists(self):
        self.assertAwsError(self.call("CreateStream", {"StreamName": "s", "ShardCount": 1}), "ResourceInUseException",
                            f"Stream s under account {ACCOUNT} already exists.")

    # ---- validation errors --------------------------------------------------------------------
    def test_empty_partition_key(self):
        r = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "", "Data": "AA=="})
        self.assertAwsError(r, "ValidationException",
                            "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: "
                            "Member must have length greater than or equal to 1")

    def test_stream_name_pattern(self):
        r = self.call("DescribeStream", {"StreamName": "a b"})
        self.assertAwsError(r, "ValidationException",
                            "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")

    def test_stream_name_too_long(self):
        r = self.call("CreateStream", {"StreamName": "x" * 129, "ShardCount": 1})
        self.assertAwsError(r, "ValidationException",
                            re.compile(r"^1 validation error detected: Value 'x{129}' at 'streamName' failed to satisfy "
                                       r"constraint: Member must have length less than or equal to 128$"))

    def test_two_validation_errors_are_joined(self):
        r = self.call("PutRecord", {"StreamName": "a b", "PartitionKey": "", "Data": "AA=="})
        body = self.assertAwsError(r, "ValidationException", re.compile(r"^2 validation errors detected: Value "))
        msg = body["message"]
        self.assertIn("; ", msg)
        self.assertIn("at 'streamName'", msg)
        self.assertIn("at 'partitionKey'", msg)

    def test_partition_key_length_counts_unicode_characters(self):
        # 256 characters (512 UTF-8 bytes) is within 1..256; 257 is not.
        ok = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "я" * 256, "Data": "AA=="})
        self.assertEqual(ok.status, 200, ok)
        bad = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "я" * 257, "Data": "AA=="})
        self.assertAwsError(bad, "ValidationException",
                            re.compile(r"^1 validation error detected: Value '.*' at 'partitionKey' failed to satisfy "
                                       r"constraint: Member must have length less than or equal to 256$"))

    def test_numeric_bounds(self):
        cases = [
            ("CreateStream", {"StreamName": "zero", "ShardCount": 0},
             "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1"),
            ("DescribeStream", {"StreamName": "s", "Limit": 0},
             "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1"),
            ("ListStreams", {"Limit": 10001},
             "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
             "Member must have value less than or equal to 10000"),
            ("ListShards", {"StreamName": "s", "MaxResults": 0},
             "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1"),
            ("ListTagsForStream", {"StreamName": "s", "Limit": 51},
             "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
             "Member must have value less than or equal to 50"),
            ("UpdateMaxRecordSize", {"StreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s",
                                     "MaxRecordSizeInKiB": 1023},
             "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1024"),
            ("UpdateMaxRecordSize", {"StreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s",
                                     "MaxRecordSizeInKiB": 10241},
             "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to satisfy constraint: "
             "Member must have value less than or equal to 10240"),
        ]
        for op, payload, msg in cases:
            with self.subTest(op=op, payload=payload):
                self.assertAwsError(self.call(op, payload), "ValidationException", msg)
        self.assertNotIn("zero", self.call("ListStreams", {}).json()["StreamNames"])

    def test_chunked_request_body(self):
        # HTTP/1.1 servers must accept Transfer-Encoding: chunked (RFC 9112 §7.1).
        import http.client
        body = json.dumps({"StreamName": "s", "PartitionKey": "chunked", "Data": b64(b"sent in chunks")}).encode()
        headers = sigv4_headers(self.server.port, body, "Kinesis_20131202.PutRecord")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("POST", "/", body=iter([body[:10], body[10:30], body[30:]]), headers=headers,
                         encode_chunked=True)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, data[:300])
        seq = json.loads(data)["SequenceNumber"]
        recs = [r for r in read_shard(self.kinesis, "s", shard_id(0)) if r["SequenceNumber"] == seq]
        self.assertEqual([r["Data"] for r in recs], [b"sent in chunks"])

    def test_missing_required_member(self):
        self.assertAwsError(self.call("PutRecord", {"StreamName": "s", "Data": "AA=="}), "ValidationException")
        self.assertAwsError(self.call("GetShardIterator", {"StreamName": "s", "ShardId": shard_id(0)}),
                            "ValidationException")

    def test_501_records(self):
        recs = [{"PartitionKey": f"p{i}", "Data": "AA=="} for i in range(501)]
        r = self.call("PutRecords", {"StreamName": "s", "Records": recs})
        self.assertAwsError(r, "ValidationException",
                            re.compile(r"^1 validation error detected: Value '.*' at 'records' failed to satisfy "
                                       r"constraint: Member must have length less than or equal to 500$", re.S))

    def test_zero_records(self):
        r = self.call("PutRecords", {"StreamName": "s", "Records": []})
        self.assertAwsError(r, "ValidationException",
                            re.compile(r"at 'records' failed to satisfy constraint: "
                                       r"Member must have length greater than or equal to 1"))

    def test_record_over_1mib_put_record(self):
        # data alone over 1 MiB
        r = self.call("PutRecord", {"StreamName": "big", "PartitionKey": "p", "Data": b64(b"a" * (ONE_MIB + 1))})
        self.assertAwsError(r, "ValidationException")
        # data exactly 1 MiB: data + partition key is over the limit
        r = self.call("PutRecord", {"StreamName": "big", "PartitionKey": "pk", "Data": b64(b"b" * ONE_MIB)})
        self.assertAwsError(r, "ValidationException")
        # data + key == 1 MiB is fine
        r = self.call("PutRecord", {"StreamName": "big", "PartitionKey": "pk", "Data": b64(b"c" * (ONE_MIB - 2))})
        self.assertEqual(r.status, 200, r)

    def test_record_over_1mib_put_records(self):
        recs = [{"PartitionKey": "ok", "Data": b64(b"1")},
                {"PartitionKey": "p", "Data": b64(b"d" * ONE_MIB)}]
        r = self.call("PutRecords", {"StreamName": "s", "Records": recs})
        self.assertAwsError(r, "ValidationException")

    def test_put_records_total_over_10mib(self):
        create_stream(self.kinesis, "tenmib", 1)
        pk = "k"
        recs = [{"PartitionKey": pk, "Data": b64(bytes([i]) * (ONE_MIB - len(pk)))} for i in range(11)]
        r = self.call("PutRecords", {"StreamName": "tenmib", "Records": recs})
        self.assertAwsError(r, "InvalidArgumentException")
        self.assertEqual(read_shard(self.kinesis, "tenmib", shard_id(0)), [], "a rejected request stores nothing")
        # 10 such records (exactly 10 MiB) are accepted
        r = self.call("PutRecords", {"StreamName": "tenmib", "Records": recs[:10]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("FailedRecordCount", 0), 0)

    def test_explicit_hash_key_out_of_range(self):
        r = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "AA==",
                                    "ExplicitHashKey": MAX_HASH_PLUS_ONE})
        self.assertAwsError(r, "InvalidArgumentException",
                            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                            f"Specified value was {MAX_HASH_PLUS_ONE}")
        r = self.call("PutRecords", {"StreamName": "s", "Records": [
            {"PartitionKey": "p", "Data": "AA==", "ExplicitHashKey": MAX_HASH_PLUS_ONE}]})
        self.assertAwsError(r, "InvalidArgumentException",
                            re.compile(r"^Invalid ExplicitHashKey\. ExplicitHashKey must be in the range: \[0, 2\^128-1\]"))

    def test_sequence_number_for_ordering_must_be_a_sequence_number(self):
        r = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "AA==",
                                    "SequenceNumberForOrdering": "12345"})
        self.assertAwsError(r, "InvalidArgumentException",
                            "ExclusiveMinimumSequenceNumber 12345 used in PutRecord on stream s under account "
                            "000000000000 is invalid.")
        # a real one is accepted, and the new record still sorts after it
        first = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "AA=="})
        self.assertEqual(first.status, 200, first)
        seq = first.json()["SequenceNumber"]
        r = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "AQ==",
                                    "SequenceNumberForOrdering": seq})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(int(r.json()["SequenceNumber"]), int(seq))

    def test_explicit_hash_key_not_a_number(self):
        r = self.call("PutRecord", {"StreamName": "s", "PartitionKey": "p", "Data": "AA==", "ExplicitHashKey": "abc"})
        self.assertAwsError(r, "ValidationException", re.compile(r"at 'explicitHashKey' failed to satisfy constraint"))

    def _iterator(self):
        r = self.call("GetShardIterator", {"StreamName": "s", "ShardId": shard_id(0), "ShardIteratorType": "LATEST"})
        self.assertEqual(r.status, 200, r)
        return r.json()["ShardIterator"]

    def test_get_records_limit_bounds(self):
        it = self._iterator()
        self.assertAwsError(self.call("GetRecords", {"ShardIterator": it, "Limit": 0}), "ValidationException",
                            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                            "Member must have value greater than or equal to 1")
        self.assertAwsError(self.call("GetRecords", {"ShardIterator": it, "Limit": 10001}), "ValidationException",
                            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
                            "Member must have value less than or equal to 10000")
        ok = self.call("GetRecords", {"ShardIterator": it, "Limit": 10000})
        self.assertEqual(ok.status, 200, ok)

    def test_garbage_shard_iterator(self):
        r = self.call("GetRecords", {"ShardIterator": "garbage"})
        self.assertAwsError(r, "InvalidArgumentException", "Invalid ShardIterator.")
        it = self._iterator()
        tampered = it[:-8] + ("A" * 8 if not it.endswith("A" * 8) else "B" * 8)
        r = self.call("GetRecords", {"ShardIterator": tampered})
        self.assertIn(r.status, (400,), r)
        self.assertIn(r.json().get("__type", "").split("#")[-1],
                      {"InvalidArgumentException", "ExpiredIteratorException"}, r)

    def test_shard_not_found(self):
        r = self.call("GetShardIterator", {"StreamName": "s", "ShardId": shard_id(7), "ShardIteratorType": "LATEST"})
        self.assertAwsError(r, "ResourceNotFoundException",
                            f"Shard {shard_id(7)} in stream s under account {ACCOUNT} does not exist")

    def test_bad_iterator_type_combination(self):
        r = self.call("GetShardIterator", {"StreamName": "s", "ShardId": shard_id(0),
                                           "ShardIteratorType": "AT_SEQUENCE_NUMBER"})
        self.assertAwsError(r, "InvalidArgumentException",
                            re.compile(r"^Must either specify \(1\) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                                       r"StartingSequenceNumber or \(2\) TRIM_HORIZON or LATEST and no "
                                       r"StartingSequenceNumber\."))

    # ---- robustness -----------------------------------------------------------------------------
    def test_keep_alive_connection_survives_errors(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            for op, payload in [("ListStreams", b"{}"), ("DescribeStream", b'{"StreamName":"nope"}'),
                                ("ListStreams", b"not json"), ("ListStreams", b"{}")]:
                headers = sigv4_headers(self.server.port, payload, f"Kinesis_20131202.{op}")
                conn.request("POST", "/", body=payload, headers=headers)
                resp = conn.getresponse()
                resp.read()
                self.assertIn(resp.status, (200, 400))
        finally:
            conn.close()

    def test_huge_body_is_refused_and_server_keeps_serving(self):
        size = 33 * ONE_MIB
        port = self.server.port
        prefix = b'{"StreamName":"s","PartitionKey":"p","Data":"'
        suffix = b'"}'
        body = prefix + b"A" * (size - len(prefix) - len(suffix)) + suffix
        headers = sigv4_headers(port, body, "Kinesis_20131202.PutRecord")
        head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        head = head.encode()
        outcome = None
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            try:
                sock.sendall(head)
                view = memoryview(body)
                for off in range(0, len(body), 256 * 1024):
                    sock.sendall(view[off:off + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                outcome = "closed-while-sending"
            except socket.timeout:
                self.fail("server stopped reading a huge body without answering or closing (hang)")
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    got = sock.recv(65536)
                    if not got:
                        break
                    data += got
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail(f"server hung: no answer {time.monotonic() - t0:.0f}s after a {size}-byte body")
        if data:
            status = int(data.split(b" ", 2)[1])
            self.assertIn(status, (400, 413), data[:300])
            outcome = f"HTTP {status}"
        else:
            self.assertEqual(outcome, "closed-while-sending",
                             "the connection closed without any answer after the whole body was sent")
        sys.stderr.write(f"[huge body: {outcome}] ")
        self.assertServerAlive()
        r = self.call("ListStreams", {})
        self.assertEqual(r.status, 200, r)
        stored = read_shard(self.kinesis, "s", shard_id(0), "TRIM_HORIZON")
        self.assertTrue(all(len(r["Data"]) <= ONE_MIB for r in stored), "the huge record must not be stored")

    def test_body_shorter_than_content_length_does_not_wedge_server(self):
        port = self.server.port
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {JSON_CT}\r\n"
                f"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 1000\r\n\r\n{{}}".encode()
            )
            sock.shutdown(socket.SHUT_WR)
            try:
                while sock.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("server kept a half-closed connection with a short body open for 20 s")
        self.assertServerAlive()
        self.assertEqual(self.call("ListStreams", {}).status, 200)

    def test_garbage_bytes_then_server_still_answers(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n")
            try:
                sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertServerAlive()
        self.assertEqual(self.call("ListStreams", {}).status, 200)


class HealthTest(RawTestCase):
    def test_health(self):
        r = self.server.raw("GET", "/_tidepool/health")
        self.assertEqual(r.status, 200, r)
        self.assertIn("json", (r.header("Content-Type") or "").lower())
        body = r.json()
        self.assertEqual(body["status"], "ok")
        self.assertIsInstance(body["services"], dict)
        self.assertIn("kinesis", {k.lower() for k in body["services"]})
        self.assertIsInstance(body["version"], str)
        v = project_version()
        if v:
            self.assertEqual(body["version"], v)


def curl_has_http2():
    curl = shutil.which("curl")
    if not curl:
        return False
    out = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout
    return bool(re.search(r"^Features:.*\bHTTP2\b", out, re.M))


@unittest.skipUnless(curl_has_http2(), "curl with HTTP/2 support not available")
class Http2CleartextTest(RawTestCase):
    """HTTP/2 over cleartext with prior knowledge (what Node's http2.connect('http://…') does)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_stream(cls.kinesis, "h2", 1)
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-h2-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def curl(self, args, body=None, headers=None, path="/", method=None):
        out_hdr = os.path.join(self.tmp, "hdr")
        out_body = os.path.join(self.tmp, "body")
        cmd = ["curl", "-sS", "--max-time", "60", "-o", out_body, "-D", out_hdr, "-w", "%{http_version} %{http_code}"]
        cmd += args
        if method:
            cmd += ["-X", method]
        for k, v in (headers or {}).items():
            cmd += ["-H", f"{k}: {v}"]
        if body is not None:
            bpath = os.path.join(self.tmp, "req")
            with open(bpath, "wb") as f:
                f.write(body)
            cmd += ["--data-binary", "@" + bpath]
        cmd.append(f"http://127.0.0.1:{self.server.port}{path}")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        self.assertEqual(p.returncode, 0, f"curl failed: {p.stderr}")
        version, code = p.stdout.split()
        with open(out_body, "rb") as f:
            data = f.read()
        with open(out_hdr, "r", errors="replace") as f:
            hdrs = f.read()
        return version, int(code), hdrs, data

    def kinesis_h2(self, op, payload):
        body = json.dumps(payload).encode()
        headers = sigv4_headers(self.server.port, body, f"Kinesis_20131202.{op}")
        return self.curl(["--http2-prior-knowledge"], body=body, headers=headers)

    def test_health_over_h2c_prior_knowledge(self):
        version, code, _, data = self.curl(["--http2-prior-knowledge"], path="/_tidepool/health")
        self.assertEqual((version, code), ("2", 200))
        self.assertEqual(json.loads(data)["status"], "ok")

    def test_kinesis_over_h2c(self):
        version, code, _, data = self.kinesis_h2("ListStreams", {})
        self.assertEqual((version, code), ("2", 200), data[:300])
        self.assertIn("h2", json.loads(data)["StreamNames"])

    def test_error_over_h2c(self):
        version, code, hdrs, data = self.kinesis_h2("DescribeStream", {"StreamName": "nope"})
        self.assertEqual((version, code), ("2", 400))
        self.assertRegex(hdrs, re.compile(r"^x-amzn-requestid: \S+", re.I | re.M))
        body = json.loads(data)
        self.assertEqual(body["__type"].split("#")[-1], "ResourceNotFoundException")
        self.assertEqual(body["message"], f"Stream nope under account {ACCOUNT} not found.")

    def test_large_body_over_h2c_flow_control(self):
        # ~4 MiB of JSON: far beyond the 65,535-byte initial HTTP/2 window, so the server must
        # send WINDOW_UPDATEs; the data must come back byte-identical.
        recs = [{"PartitionKey": f"p{i}", "Data": b64(bytes([i]) * 700_000)} for i in range(4)]
        version, code, _, data = self.kinesis_h2("PutRecords", {"StreamName": "h2", "Records": recs})
        self.assertEqual((version, code), ("2", 200), data[:300])
        self.assertEqual(json.loads(data).get("FailedRecordCount", 0), 0)
        got = [r["Data"] for r in read_shard(self.kinesis, "h2", shard_id(0))]
        self.assertEqual(got, [bytes([i]) * 700_000 for i in range(4)])
        # and a large response body back over h2
        it = self.kinesis.get_shard_iterator(StreamName="h2", ShardId=shard_id(0),
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        version, code, _, data = self.kinesis_h2("GetRecords", {"ShardIterator": it})
        self.assertEqual((version, code), ("2", 200))
        self.assertEqual([base64.b64decode(r["Data"]) for r in json.loads(data)["Records"]], got)

    def test_h2c_upgrade_from_http11(self):
        # `curl --http2` on http:// sends `Upgrade: h2c`; a server may switch or answer in 1.1.
        version, code, _, data = self.curl(["--http2"], path="/_tidepool/health")
        self.assertEqual(code, 200)
        self.assertIn(version, ("1.1", "2"))
        self.assertEqual(json.loads(data)["status"], "ok")


if __name__ == "__main__":
    harness.main()
