#!/usr/bin/env python3
"""Credentials. With --auth FILE tidepool verifies signatures as AWS does, for every service:
boto3 requests signed with a listed key pass (Kinesis, Firehose, CloudWatch, S3); a wrong secret,
an unknown key, a clock 20 minutes off and an expired presigned URL are refused with AWS's codes
and texts. S3 is checked with SigV4 in the header, in the query (presigned URLs) and streaming
(aws-chunked with chunk signatures, built here: botocore sends none), with SigV2 (boto3's
signature_version="s3") and with a body that is not the one its x-amz-content-sha256 names.

Without --auth any credentials are taken, but an S3 request must carry some: anonymous ones are
refused with AccessDenied, as AWS refuses them for a private bucket (tidepool has no bucket
policies or ACLs that could make one public).

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_auth.py
"""

import datetime
import json
import os
import re
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import REGION, ServerTestCase, main  # noqa: E402
from test_s3_wire import SigV4, crc32_b64, rnd, sha256_hex, signed_chunked  # noqa: E402

# harness's default client signs with AKIDTIDEPOOLTEST / "x" (test_s3_wire's SigV4 too)
KEYS = {"AKIDTIDEPOOLTEST": "x", "AKIDSECONDKEY": "second/secret+key"}
JSON_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")
S3_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your key and "
               "signing method.")
STAMP = r"\d{8}T\d{6}Z"
BUCKET = "auth-bucket"


def write_keys():
    d = tempfile.mkdtemp(prefix="tidepool-auth-")
    path = os.path.join(d, "keys.json")
    with open(path, "w") as f:
        json.dump({"credentials": [{"accessKeyId": k, "secretAccessKey": v} for k, v in KEYS.items()]}, f)
    return path


def shifted_clock(minutes):
    """Patches botocore's signing clock by minutes (the server's clock stays)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return mock.patch("botocore.auth.get_current_datetime", lambda: now + datetime.timedelta(minutes=minutes))


def shifted_epoch(minutes):
    """Patches the clock SigV2 presigning reads (time.time) by minutes."""
    import time
    now = time.time()
    return mock.patch("botocore.auth.time.time", lambda: now + minutes * 60)


def fetch(url, method="GET", data=None):
    """(status, body) of a plain HTTP request (a presigned URL)."""
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def xml_code(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else None


class AuthTest(ServerTestCase):
    in_memory = True

    @classmethod
    def setUpClass(cls):
        cls.server_args = ("--auth", write_keys())
        super().setUpClass()
        cls.s3 = cls.client("s3")
        cls.s3.create_bucket(Bucket=BUCKET)
        cls.s3v4 = cls.client("s3", signature_version="s3v4")  # boto3 presigns with SigV2 otherwise

    @classmethod
    def client(cls, service, akid="AKIDTIDEPOOLTEST", secret=None, **config):
        session = boto3.session.Session(aws_access_key_id=akid,
                                        aws_secret_access_key=KEYS.get(akid, "x") if secret is None else secret,
                                        region_name=REGION)
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60, **config)
        return session.client(service, endpoint_url=cls.server.endpoint, config=cfg)

    # one cheap call per service, the way its SDK client sends it
    CALLS = {
        "kinesis": lambda c: c.list_streams(),
        "firehose": lambda c: c.list_delivery_streams(),
        "cloudwatch": lambda c: c.list_metrics(),
        "s3": lambda c: c.list_objects_v2(Bucket=BUCKET),
    }

    def assertRefused(self, call, code, status, message=None):
        with self.assertRaises(ClientError) as ctx:
            call()
        self.assertClientError(ctx.exception, code, message, status)
        return ctx.exception.response["Error"]

    def assertNoObject(self, key):
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=BUCKET, Key=key)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    # ---- signed requests pass --------------------------------------------------------------
    def test_signed_requests_pass_for_every_service(self):
        for akid in KEYS:
            with self.subTest(key=akid):
                k = self.client("kinesis", akid)
                name = f"auth-{akid.lower()}"
                k.create_stream(StreamName=name, ShardCount=1)
                harness.wait_active(k, name)
                k.put_record(StreamName=name, Data=b"signed", PartitionKey="p")
                self.assertIn(name, k.list_streams()["StreamNames"])
                self.assertIn("DeliveryStreamNames", self.client("firehose", akid).list_delivery_streams())
                cw = self.client("cloudwatch", akid)
                cw.put_metric_data(Namespace="Auth", MetricData=[{"MetricName": "m", "Value": 1.0}])
                self.assertIsInstance(cw.list_metrics(Namespace="Auth")["Metrics"], list)
                s3 = self.client("s3", akid)
                s3.put_object(Bucket=BUCKET, Key=f"signed/{akid}/a b+c=é", Body=b"payload")
                self.assertEqual(s3.get_object(Bucket=BUCKET, Key=f"signed/{akid}/a b+c=é")["Body"].read(),
                                 b"payload")
                self.assertEqual(s3.list_objects_v2(Bucket=BUCKET, Prefix=f"signed/{akid}/")["KeyCount"], 1)

    def test_s3_multipart_signed(self):
        up = self.s3.create_multipart_upload(Bucket=BUCKET, Key="mpu/obj")
        part = self.s3.upload_part(Bucket=BUCKET, Key="mpu/obj", UploadId=up["UploadId"], PartNumber=1,
                                   Body=rnd(5 * harness.ONE_MIB, 1))
        self.s3.complete_multipart_upload(Bucket=BUCKET, Key="mpu/obj", UploadId=up["UploadId"],
                                          MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        self.assertEqual(self.s3.head_object(Bucket=BUCKET, Key="mpu/obj")["ContentLength"], 5 * harness.ONE_MIB)
        self.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "mpu/obj"}]})
        self.assertNoObject("mpu/obj")

    # ---- wrong secret, unknown key -------------------------------------------------------------
    def test_wrong_secret_refused(self):
        for service in ("kinesis", "firehose"):
            with self.subTest(service=service):
                c = self.client(service, secret="not-the-secret")
                err = self.assertRefused(lambda: self.CALLS[service](c), "InvalidSignatureException", 400)
                self.assertTrue(err["Message"].startswith(JSON_MISMATCH + "\n\nThe Canonical String for this "
                                                          "request should have been\n'POST\n/\n"), err["Message"])
                self.assertIn("The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n", err["Message"])
        # CloudWatch answers as the query-protocol services do
        cw = self.client("cloudwatch", secret="not-the-secret")
        self.assertRefused(cw.list_metrics, "SignatureDoesNotMatch", 403, JSON_MISMATCH)
        bad = self.client("s3", secret="not-the-secret")
        err = self.assertRefused(lambda: bad.list_objects_v2(Bucket=BUCKET), "SignatureDoesNotMatch", 403,
                                 S3_MISMATCH)
        self.assertEqual(err["AWSAccessKeyId"], "AKIDTIDEPOOLTEST")
        self.assertTrue(err["StringToSign"].startswith("AWS4-HMAC-SHA256\n"), err)
        self.assertTrue(err["CanonicalRequest"].startswith(f"GET\n/{BUCKET}\n"), err)
        self.assertRefused(lambda: bad.put_object(Bucket=BUCKET, Key="bad/secret", Body=b"x"),
                           "SignatureDoesNotMatch", 403, S3_MISMATCH)
        self.assertNoObject("bad/secret")
        # the second key's secret does not sign for the first key
        other = self.client("kinesis", "AKIDTIDEPOOLTEST", secret=KEYS["AKIDSECONDKEY"])
        self.assertRefused(other.list_streams, "InvalidSignatureException", 400)

    def test_unknown_key_refused(self):
        for service, code, status in (("kinesis", "UnrecognizedClientException", 400),
                                      ("firehose", "UnrecognizedClientException", 400),
                                      ("cloudwatch", "InvalidClientTokenId", 403)):
            with self.subTest(service=service):
                c = self.client(service, "AKIDNOTLISTED", "x")
                self.assertRefused(lambda: self.CALLS[service](c), code, status,
                                   "The security token included in the request is invalid.")
        s3 = self.client("s3", "AKIDNOTLISTED", "x")
        err = self.assertRefused(lambda: s3.list_objects_v2(Bucket=BUCKET), "InvalidAccessKeyId", 403,
                                 "The AWS Access Key Id you provided does not exist in our records.")
        self.assertEqual(err["AWSAccessKeyId"], "AKIDNOTLISTED")

    # ---- the clock -------------------------------------------------------------------------
    def test_skewed_clock_refused(self):
        expired = re.compile(rf"^Signature expired: {STAMP} is now earlier than {STAMP} \({STAMP} - 15 min\.\)$")
        early = re.compile(rf"^Signature not yet current: {STAMP} is still later than {STAMP} \({STAMP} \+ 15 min\.\)$")
        for minutes, pattern in ((-20, expired), (20, early)):
            with self.subTest(minutes=minutes), shifted_clock(minutes):
                for service in ("kinesis", "firehose"):
                    c = self.client(service)
                    self.assertRefused(lambda: self.CALLS[service](c), "InvalidSignatureException", 400, pattern)
                self.assertRefused(self.client("cloudwatch").list_metrics, "SignatureDoesNotMatch", 403, pattern)
                s3 = self.client("s3")
                err = self.assertRefused(lambda: s3.list_objects_v2(Bucket=BUCKET), "RequestTimeTooSkewed", 403,
                                         "The difference between the request time and the current time is too "
                                         "large.")
                self.assertEqual(err["MaxAllowedSkewMilliseconds"], "900000")
                self.assertRegex(err["RequestTime"], STAMP)
        # within 15 minutes is fine
        with shifted_clock(-10):
            for service, call in self.CALLS.items():
                call(self.client(service))

    # ---- presigned URLs ----------------------------------------------------------------------
    def test_presigned_urls(self):
        self.s3.put_object(Bucket=BUCKET, Key="pre/obj", Body=b"presigned")
        url = self.s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "pre/obj"})
        self.assertIn("X-Amz-Signature=", url)
        self.assertEqual(fetch(url), (200, b"presigned"))
        # upload through a presigned PUT
        put = self.s3v4.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "pre/put"})
        self.assertEqual(fetch(put, "PUT", b"uploaded")[0], 200)
        self.assertEqual(self.s3.get_object(Bucket=BUCKET, Key="pre/put")["Body"].read(), b"uploaded")
        # a changed URL or a wrong secret
        status, body = fetch(url.replace("pre/obj", "pre/put"))
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        bad = self.client("s3", secret="wrong", signature_version="s3v4").generate_presigned_url("get_object",
                                                                        Params={"Bucket": BUCKET, "Key": "pre/obj"})
        status, body = fetch(bad)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        self.assertIn(b"<SignatureProvided>", body)

    def test_expired_presigned_url_refused(self):
        with shifted_clock(-120):
            url = self.s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "pre/any"},
                                                   ExpiresIn=3600)
        status, body = fetch(url)
        self.assertEqual((status, xml_code(body)), (403, "AccessDenied"), body)
        self.assertIn(b"<Message>Request has expired</Message>", body)
        self.assertIn(b"<X-Amz-Expires>3600</X-Amz-Expires>", body)
        # X-Amz-Expires is 1..604800 (a week)
        url = self.s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "pre/any"},
                                               ExpiresIn=604801)
        status, body = fetch(url)
        self.assertEqual((status, xml_code(body)), (400, "AuthorizationQueryParametersError"), body)
        self.assertIn(b"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must "
                      b"be less than 604800 seconds", body)

    # ---- streaming (aws-chunked with chunk signatures) -------------------------------------------
    def signed_put(self, key, payload, trailer=False, tamper=None):
        signer = SigV4()
        mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
        path = f"/{BUCKET}/{key}"
        headers = {"Host": f"127.0.0.1:{self.server.port}", "x-amz-date": signer.amz_date,
                   "x-amz-content-sha256": mode, "Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(payload))}
        if trailer:
            headers["x-amz-trailer"] = "x-amz-checksum-crc32"
        auth, seed = signer.authorization("PUT", path, headers, mode)
        body = bytearray(signed_chunked(payload, signer, seed, chunk=8192, trailer=trailer))
        if tamper is not None:
            i = tamper(body)
            body[i] = ord("0") if body[i] != ord("0") else ord("1")  # stays well-formed
        return self.server.raw("PUT", path, body=bytes(body), headers={**headers, "Authorization": auth})

    def test_streaming_signed_chunks(self):
        payload = rnd(100_000, 2)
        for trailer in (False, True):
            with self.subTest(trailer=trailer):
                key = f"stream/ok-{trailer}"
                r = self.signed_put(key, payload, trailer)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(), payload)
                if trailer:
                    self.assertEqual(r.header("x-amz-checksum-crc32"), crc32_b64(payload))
        # a data byte changed in the middle chunk: its signature no longer matches
        r = self.signed_put("stream/tampered", payload, tamper=lambda b: len(b) // 2)
        self.assertEqual((r.status, xml_code(r.body)), (403, "SignatureDoesNotMatch"), r)
        self.assertNoObject("stream/tampered")
        # the trailer's signature (the last hex digits before the final CRLFs) changed
        r = self.signed_put("stream/bad-trailer", payload, trailer=True, tamper=lambda b: len(b) - 6)
        self.assertEqual((r.status, xml_code(r.body)), (403, "SignatureDoesNotMatch"), r)
        self.assertNoObject("stream/bad-trailer")

    def test_body_not_the_signed_hash(self):
        signer = SigV4()
        path = f"/{BUCKET}/hash/mismatch"
        headers = {"Host": f"127.0.0.1:{self.server.port}", "x-amz-date": signer.amz_date,
                   "x-amz-content-sha256": sha256_hex(b"what was signed")}
        auth, _ = signer.authorization("PUT", path, headers, headers["x-amz-content-sha256"])
        r = self.server.raw("PUT", path, body=b"what was sent", headers={**headers, "Authorization": auth})
        self.assertEqual((r.status, xml_code(r.body)), (400, "XAmzContentSHA256Mismatch"), r)
        self.assertNoObject("hash/mismatch")
        r = self.server.raw("PUT", path, body=b"what was signed", headers={**headers, "Authorization": auth})
        self.assertEqual(r.status, 200, r)

    # ---- SigV2 -----------------------------------------------------------------------------------
    def test_sigv2(self):
        # path-style: over an IP endpoint boto3 cannot address bucket.127.0.0.1
        v2 = self.client("s3", signature_version="s3", s3={"addressing_style": "path"})
        v2.put_object(Bucket=BUCKET, Key="v2/a b", Body=b"sigv2", ContentType="text/plain")
        self.assertEqual(v2.get_object(Bucket=BUCKET, Key="v2/a b")["Body"].read(), b"sigv2")
        self.assertEqual(v2.list_objects(Bucket=BUCKET, Prefix="v2/")["Contents"][0]["Key"], "v2/a b")
        up = v2.create_multipart_upload(Bucket=BUCKET, Key="v2/mpu")
        part = v2.upload_part(Bucket=BUCKET, Key="v2/mpu", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
        v2.complete_multipart_upload(Bucket=BUCKET, Key="v2/mpu", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        url = v2.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "v2/a b"})
        self.assertIn("AWSAccessKeyId=", url)
        self.assertEqual(fetch(url), (200, b"sigv2"))
        bad = self.client("s3", secret="wrong", signature_version="s3", s3={"addressing_style": "path"})
        err = self.assertRefused(lambda: bad.get_object(Bucket=BUCKET, Key="v2/a b"), "SignatureDoesNotMatch", 403,
                                 S3_MISMATCH)
        self.assertTrue(err["StringToSign"].startswith("GET\n\n\n"), err)
        self.assertTrue(err["StringToSign"].endswith(f"\n/{BUCKET}/v2/a%20b"), err)
        with shifted_epoch(-30):
            url = self.client("s3", signature_version="s3", s3={"addressing_style": "path"}).generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": "v2/a b"}, ExpiresIn=60)
        status, body = fetch(url)
        self.assertEqual((status, xml_code(body)), (403, "AccessDenied"), body)

    def test_anonymous_refused(self):
        r = self.server.raw("GET", f"/{BUCKET}")
        self.assertEqual((r.status, xml_code(r.body)), (403, "AccessDenied"), r)
        # the well-formed but unsigned credentials the other tests use when --auth is off
        r = self.server.s3_raw("GET", f"/{BUCKET}")
        self.assertEqual((r.status, xml_code(r.body)), (403, "AccessDenied"), r)
        self.assertIn(b"<Message>AWS authentication requires a valid Date or x-amz-date header</Message>", r.body)


class AnonymousS3Test(ServerTestCase):
    """No --auth: any credentials are taken, none are not."""

    in_memory = True

    def test_anonymous_s3_refused(self):
        denied = b"<Code>AccessDenied</Code><Message>Access Denied</Message>"
        for method, path in (("PUT", "/anon-bucket"), ("GET", "/"), ("GET", "/anon-bucket"),
                             ("PUT", "/anon-bucket/key"), ("GET", "/anon-bucket/key"), ("DELETE", "/anon-bucket")):
            with self.subTest(method=method, path=path):
                r = self.server.raw(method, path, body=b"data" if method == "PUT" else b"")
                self.assertEqual(r.status, 403, r)
                self.assertIn(denied, r.body)
        # a large anonymous upload is answered without its body being buffered (no 413)
        r = self.server.raw("PUT", "/anon-bucket/big", body=b"\0" * (40 * harness.ONE_MIB))
        self.assertEqual(r.status, 403, r)
        # any credentials will do
        r = self.server.s3_raw("PUT", "/anon-bucket")
        self.assertEqual(r.status, 200, r)
        s3 = self.server.client("s3")
        s3.put_object(Bucket="anon-bucket", Key="k", Body=b"v")
        self.assertEqual(s3.get_object(Bucket="anon-bucket", Key="k")["Body"].read(), b"v")
        self.assertEqual(self.server.raw("GET", "/anon-bucket/k").status, 403)
        # presigned URLs (SigV2 and SigV4) need no header, and still expire
        s3v4 = self.server.client("s3", signature_version="s3v4")
        for c, shifted in ((s3, shifted_epoch), (s3v4, shifted_clock)):
            url = c.generate_presigned_url("get_object", Params={"Bucket": "anon-bucket", "Key": "k"})
            self.assertEqual(fetch(url), (200, b"v"))
            with shifted(-120):
                url = c.generate_presigned_url("get_object", Params={"Bucket": "anon-bucket", "Key": "k"},
                                               ExpiresIn=60)
            self.assertEqual(fetch(url)[0], 403)
        # the JSON services were never anonymous
        r = self.server.kinesis_raw("ListStreams", {}, sign=False)
        self.assertEqual(r.json()["__type"], "MissingAuthenticationTokenException")


if __name__ == "__main__":
    main()
