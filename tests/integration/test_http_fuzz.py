#!/usr/bin/env python3
"""HTTP-level fuzz smoke test: real requests of every service (Kinesis JSON and CBOR, Firehose,
CloudWatch awsQuery / JSON 1.0 / RPC v2 CBOR, S3 REST with aws-chunked uploads and multipart
XML), mutated with a seeded PRNG (bit flips, truncation, duplicated or removed headers, huge
lengths, bad chunking) and sent over raw sockets. The server must answer every one (a response,
or a clean close once the client has stopped sending) within a timeout, and stay healthy after
each batch. The in-process counterpart is tests/fuzz/fuzz_router.c.

Run alone:  TIDEPOOL_BIN=build/tidepool python3 tests/integration/test_http_fuzz.py
            (TIDEPOOL_FUZZ_SEED=n and TIDEPOOL_FUZZ_CASES=n change the seed and the batch size)
"""

import base64
import gzip
import json
import os
import random
import socket
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cbor_codec  # noqa: E402
import harness  # noqa: E402
from harness import REGION, ServerTestCase  # noqa: E402

SEED = int(os.environ.get("TIDEPOOL_FUZZ_SEED", "20261208"))
CASES = int(os.environ.get("TIDEPOOL_FUZZ_CASES", "40"))  # mutations per real request
# A head cut short is dropped after --header-timeout, even once the client has half-closed.
HEADER_TIMEOUT_S = 2
ANSWER_TIMEOUT_S = 20.0   # the server answers or closes within this
SENT_ALL_WAIT_S = 2.0     # then the client half-closes: a request that wanted more bytes ends
STREAM, DELIVERY, BUCKET = "fuzz", "fuzz-delivery", "fuzz-bucket"
CRLF = b"\r\n"


def authorization(service, day="20261208"):
    """A well-formed SigV4 Authorization value (tidepool does not verify signatures by default)."""
    return (f"AWS4-HMAC-SHA256 Credential=AKIDTIDEPOOLTEST/{day}/{REGION}/{service}/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}")


def request(method, path, headers, body=b""):
    """A request as the list of parts the mutators work on: request line, headers, body."""
    return {"line": f"{method} {path} HTTP/1.1".encode(), "headers": [(k.encode(), v.encode()) for k, v in headers],
            "body": body}


def signed(service, extra):
    return [("X-Amz-Date", "20261208T000000Z"), ("Authorization", authorization(service))] + extra


def json_op(target, body, ct="application/x-amz-json-1.1", service="kinesis"):
    return request("POST", "/", signed(service, [("Content-Type", ct), ("X-Amz-Target", target)]),
                   json.dumps(body).encode())


def aws_chunked(payload, signed_chunks):
    out = b""
    for c in (payload[:7], payload[7:], b""):
        ext = b";chunk-signature=" + b"a" * 64 if signed_chunks else b""
        out += b"%x" % len(c) + ext + CRLF + c + (CRLF if c or not signed_chunks else b"")
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big"))
    return out + b"x-amz-checksum-crc32:" + crc + CRLF + CRLF


def real_requests(upload_id):
    """One or more real requests per service and protocol, as the SDKs send them."""
    rec = base64.b64encode(b"hello fuzz").decode()
    payload = b"object body for the fuzzer\n"
    cw_form = (b"Action=PutMetricData&Version=2010-08-01&Namespace=Fuzz&MetricData.member.1.MetricName=m"
               b"&MetricData.member.1.Value=1.5&MetricData.member.1.Unit=Count"
               b"&MetricData.member.1.Dimensions.member.1.Name=d&MetricData.member.1.Dimensions.member.1.Value=v")
    cw_cbor = cbor_codec.encode({"Namespace": "Fuzz", "MetricData": [
        {"MetricName": "m", "Value": 2.0, "Timestamp": cbor_codec.Tag(1, 1.7e9), "Unit": "Count"}]})
    complete = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part>"
                f"</CompleteMultipartUpload>").encode()
    delete = b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Quiet>true</Quiet></Delete>"
    s3 = lambda method, path, extra=(), body=b"": request(  # noqa: E731
        method, path, signed("s3", [("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), *extra]), body)
    return {
        "kinesis_put_records": json_op("Kinesis_20131202.PutRecords", {"StreamName": STREAM, "Records": [
            {"Data": rec, "PartitionKey": "a"}, {"Data": rec, "PartitionKey": "b", "ExplicitHashKey": "1"}]}),
        "kinesis_list_shards": json_op("Kinesis_20131202.ListShards", {"StreamName": STREAM, "MaxResults": 5}),
        "kinesis_cbor_put_record": request("POST", "/", signed("kinesis", [
            ("Content-Type", "application/x-amz-cbor-1.1"), ("X-Amz-Target", "Kinesis_20131202.PutRecord")]),
            cbor_codec.encode({"StreamName": STREAM, "Data": b"cbor bytes", "PartitionKey": "p"})),
        "firehose_put_record_batch": json_op("Firehose_20150804.PutRecordBatch", {
            "DeliveryStreamName": DELIVERY, "Records": [{"Data": rec}, {"Data": rec}]}, service="firehose"),
        "firehose_describe": json_op("Firehose_20150804.DescribeDeliveryStream",
                                     {"DeliveryStreamName": DELIVERY}, service="firehose"),
        "cloudwatch_query": request("POST", "/", signed("monitoring", [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]), cw_form),
        "cloudwatch_query_gzip": request("POST", "/", signed("monitoring", [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Content-Encoding", "gzip")]),
            gzip.compress(cw_form)),
        "cloudwatch_json": json_op("GraniteServiceVersion20100801.GetMetricStatistics", {
            "Namespace": "Fuzz", "MetricName": "m", "StartTime": 1.7e9, "EndTime": 1.8e9, "Period": 60,
            "Statistics": ["Sum", "Maximum"]}, "application/x-amz-json-1.0", "monitoring"),
        "cloudwatch_cbor": request(
            "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            signed("monitoring", [("Content-Type", "application/cbor"), ("Smithy-Protocol", "rpc-v2-cbor")]),
            cw_cbor),
        "s3_put": s3("PUT", f"/{BUCKET}/key.txt", [("Content-Type", "text/plain"), ("x-amz-meta-a", "b")], payload),
        "s3_get_range": s3("GET", f"/{BUCKET}/key.txt", [("Range", "bytes=2-9"), ("If-None-Match", "\"x\"")]),
        "s3_list": s3("GET", f"/{BUCKET}?list-type=2&prefix=k&max-keys=2&delimiter=%2F&start-after=a"),
        "s3_presigned_get": request("GET", f"/{BUCKET}/key.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                                    f"&X-Amz-Credential=AKIDTIDEPOOLTEST%2F20261208%2F{REGION}%2Fs3%2Faws4_request"
                                    f"&X-Amz-Date=20261208T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
                                    f"&X-Amz-Signature={'0' * 64}", []),
        "s3_put_chunked_unsigned": s3("PUT", f"/{BUCKET}/chunked", [
            ("Content-Encoding", "aws-chunked"), ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", str(len(payload))), ("x-amz-trailer", "x-amz-checksum-crc32")],
            aws_chunked(payload, False)),
        "s3_put_chunked_signed": s3("PUT", f"/{BUCKET}/signed", [
            ("Content-Encoding", "aws-chunked"), ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", str(len(payload))), ("x-amz-trailer", "x-amz-checksum-crc32")],
            aws_chunked(payload, True)),
        "s3_upload_part": s3("PUT", f"/{BUCKET}/mp?partNumber=1&uploadId={upload_id}", [], payload),
        "s3_complete_multipart": s3("POST", f"/{BUCKET}/mp?uploadId={upload_id}",
                                    [("Content-Type", "application/xml")], complete),
        "s3_delete_objects": s3("POST", f"/{BUCKET}?delete", [("Content-Type", "application/xml"),
                                                              ("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")], delete),
        "s3_copy": s3("PUT", f"/{BUCKET}/copy", [("x-amz-copy-source", f"/{BUCKET}/key.txt"),
                                                 ("x-amz-metadata-directive", "REPLACE")]),
    }


def encode(req, content_length=True):
    """The bytes on the wire: Host, the headers, Content-Length of the body unless the mutation
    set its own, Connection: close (one request per connection), the body."""
    head = [req["line"], b"Host: 127.0.0.1"]
    names = {k.lower() for k, _ in req["headers"]}
    head += [k + b": " + v for k, v in req["headers"]]
    if content_length and b"content-length" not in names and b"transfer-encoding" not in names:
        head.append(b"Content-Length: %d" % len(req["body"]))
    head.append(b"Connection: close")
    return CRLF.join(head) + CRLF + CRLF + req["body"]


def flip_bits(rng, data, n):
    b = bytearray(data)
    for _ in range(n):
        if b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


# Each mutator takes (rng, request dict copy) and returns the bytes to send.
def m_body_bits(rng, r):
    r["body"] = flip_bits(rng, r["body"], rng.choice((1, 2, 8)))
    return encode(r)


def m_body_bytes(rng, r):
    b = bytearray(r["body"])
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b) + 1)
        op = rng.randrange(3)
        if op == 0 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op == 1:
            b[i:i] = rng.choice((b"\x00", b"\xff", b"\xbb" + b"\x80" + b"\x00" * 7, b"[null]", b"{", b"\"",
                                 b"99999999999999999999", b"-1", b"\r\n", b"%00", b"<", b"&#0;", b"\x9f" * 70))
        else:
            b[i:i] = b[i:i + rng.randint(1, 64)]  # duplicate a run
    r["body"] = bytes(b)
    return encode(r)


def m_wire_bits(rng, r):
    return flip_bits(rng, encode(r), rng.choice((1, 3, 16)))


def m_truncate(rng, r):
    wire = encode(r)
    return wire[:rng.randrange(len(wire))]


def m_dup_header(rng, r):
    if r["headers"]:
        k, v = rng.choice(r["headers"])
        r["headers"].insert(rng.randrange(len(r["headers"]) + 1), (k, rng.choice((v, v[:len(v) // 2], b""))))
    return encode(r)


def m_drop_header(rng, r):
    if r["headers"]:
        del r["headers"][rng.randrange(len(r["headers"]))]
    return encode(r)


def m_huge_length(rng, r):
    name, value = rng.choice(((b"Content-Length", b"%d" % (len(r["body"]) + rng.choice((1, 1 << 20, 1 << 40)))),
                              (b"Content-Length", b"18446744073709551617"),
                              (b"Content-Length", b"-1"),
                              (b"x-amz-decoded-content-length", b"99999999999999"),
                              (b"Range", b"bytes=0-18446744073709551615"),
                              (b"Range", b"bytes=-99999999999999999999")))
    r["headers"] = [(k, v) for k, v in r["headers"] if k.lower() != name.lower()] + [(name, value)]
    if r["body"] and rng.random() < 0.5:
        r["body"] = b"fffffffffff" + CRLF + r["body"]  # a chunk size past anything
    return encode(r)


def m_bad_chunking(rng, r):
    body = r["body"]
    cut = rng.randrange(len(body) + 1)
    chunks = [body[:cut], body[cut:]]
    out = b""
    for c in chunks:
        size = rng.choice((b"%x" % len(c), b"%x" % (len(c) + 1), b"zz", b"", b"-1", b"%x;ext=\"v\"" % len(c)))
        out += size + rng.choice((CRLF, b"\n", b"")) + c + CRLF
    out += rng.choice((b"0\r\n\r\n", b"0\r\n", b"", b"0\r\nx-trailer: y\r\n\r\n"))
    r["headers"] = [(k, v) for k, v in r["headers"] if k.lower() != b"content-length"]
    r["headers"].append((b"Transfer-Encoding", rng.choice((b"chunked", b"gzip, chunked", b"chunked, chunked"))))
    r["body"] = out
    return encode(r, content_length=False)


def m_line(rng, r):
    method, _, rest = r["line"].partition(b" ")
    path, _, version = rest.rpartition(b" ")
    choice = rng.randrange(4)
    if choice == 0:
        path = path + rng.choice((b"%", b"%zz", b"%00", b"/../..", b"?&&=&", b"\xff\xfe", b"//"))
    elif choice == 1:
        method = rng.choice((b"PATCH", b"GET", b"DELETE", b"HEAD", b"OPTIONS", b"put"))
    elif choice == 2:
        version = rng.choice((b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.1 extra"))
    else:
        path = path + b"?" + b"&".join(b"p%d=%s" % (i, b"v" * rng.randrange(64)) for i in range(rng.randrange(200)))
    r["line"] = method + b" " + path + b" " + version
    return encode(r)


MUTATORS = (m_body_bits, m_body_bytes, m_wire_bits, m_truncate, m_dup_header, m_drop_header, m_huge_length,
            m_bad_chunking, m_line)
INCOMPLETE = (m_truncate, m_huge_length)  # certainly short of what the head announces


def exchange(port, wire, incomplete):
    """Sends wire and reads what comes back: 'response', 'closed' (EOF or reset before any byte) or
    'timeout'. A request that wants more bytes than were sent (certainly when incomplete, else
    when nothing came back for a while) gets them refused by a half-close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
    try:
        try:
            s.sendall(wire)
            if incomplete:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return "closed"  # the server stopped reading: it refused the request early
        s.settimeout(ANSWER_TIMEOUT_S if incomplete else SENT_ALL_WAIT_S)
        data = b""
        try:
            data = s.recv(65536)
        except socket.timeout:
            if incomplete:
                return "timeout"
            s.shutdown(socket.SHUT_WR)
            s.settimeout(ANSWER_TIMEOUT_S)
            try:
                data = s.recv(65536)
            except socket.timeout:
                return "timeout"
        except ConnectionResetError:
            return "closed"
        return "response" if data.startswith(b"HTTP/1.") else ("closed" if not data else "garbage")
    except ConnectionResetError:
        return "closed"
    finally:
        s.close()


class HttpFuzzTest(ServerTestCase):
    server_args = ("--header-timeout", str(HEADER_TIMEOUT_S))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        harness.create_stream(cls.kinesis, STREAM, shards=1)
        s3 = srv.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="key.txt", Body=b"0123456789abcdef")
        cls.upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
        srv.client("firehose").create_delivery_stream(
            DeliveryStreamName=DELIVERY, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={"RoleARN": f"arn:aws:iam::{harness.ACCOUNT}:role/r",
                                                "BucketARN": f"arn:aws:s3:::{BUCKET}"})

    def assertHealthy(self, after):
        self.assertTrue(self.server.alive(), f"the server died after {after}\n{self.server.log_tail()}")
        resp = self.server.raw("GET", "/_tidepool/health", timeout=ANSWER_TIMEOUT_S)
        self.assertEqual(resp.status, 200, f"health after {after}")

    def test_real_requests_still_work(self):
        """The unmutated requests are answered (so the mutations start from requests that work)."""
        for name, req in real_requests(self.upload_id).items():
            with self.subTest(name):
                self.assertEqual(exchange(self.server.port, encode(dict(req, headers=list(req["headers"]))), False),
                                 "response")

    def test_mutated_requests_are_all_answered(self):
        rng = random.Random(SEED)
        outcomes = {}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, req in real_requests(self.upload_id).items():
                cases = []
                for i in range(CASES):
                    mutator = MUTATORS[i % len(MUTATORS)]
                    cases.append((i, mutator, mutator(rng, dict(req, headers=list(req["headers"])))))
                answers = pool.map(lambda c: exchange(self.server.port, c[2], c[1] in INCOMPLETE), cases)
                for (i, mutator, wire), got in zip(cases, answers):
                    outcomes[got] = outcomes.get(got, 0) + 1
                    what = f"{name} #{i} ({mutator.__name__}, seed {SEED}): {wire[:300]!r}"
                    self.assertNotIn(got, ("timeout", "garbage"), f"{got} after {what}")
                    self.assertTrue(self.server.alive(), f"killed by {what}\n{self.server.log_tail()}")
                self.assertHealthy(name)
        print(f"seed {SEED}: {outcomes}", file=sys.stderr)
        self.assertGreater(outcomes.get("response", 0), outcomes.get("closed", 0))


if __name__ == "__main__":
    harness.main()
