#!/usr/bin/env python3
"""S3 on the wire, below the SDKs: presigned GET/PUT URLs fetched with curl (and an expired
one), malformed XML, Content-MD5 checks, bucket-name rules, aws-chunked bodies built by hand
(unsigned with a CRC32 trailer, signed chunks, signed chunks with a signed trailer; wrong
checksums and truncations), `Expect: 100-continue`, HEAD without a body and 0-byte objects.

After every failing request the server must still be healthy (ListBuckets answers) and a failed
PUT must leave no object behind (HEAD → 404).

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_s3_wire.py
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, main  # noqa: E402

CURL = shutil.which("curl")
SECRET = "x"
AKID = "AKIDTIDEPOOLTEST"
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
AUTH_LINE = "".join(f"{k}: {v}\r\n" for k, v in harness.S3_AUTH.items())  # for requests written by hand


def rnd(n, seed):
    return random.Random(seed).randbytes(n)


def crc32_b64(data):
    return base64.b64encode(struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)).decode()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


class SigV4:
    """SigV4 for one S3 request (dummy credentials), the seed of a signed aws-chunked body."""

    def __init__(self, region=harness.REGION, service="s3"):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        self.day = self.amz_date[:8]
        self.scope = f"{self.day}/{region}/{service}/aws4_request"
        k = _hmac(("AWS4" + SECRET).encode(), self.day)
        k = _hmac(k, region)
        k = _hmac(k, service)
        self.key = _hmac(k, "aws4_request")

    def sign(self, sts):
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()

    def authorization(self, method, path, headers, payload_hash, query=""):
        """headers: dict of the headers to sign (names any case); query: canonical already.
        Returns (Authorization, seed sig)."""
        canon = sorted((k.lower(), " ".join(str(v).split())) for k, v in headers.items())
        signed = ";".join(k for k, _ in canon)
        creq = "\n".join([method, path, query, "".join(f"{k}:{v}\n" for k, v in canon), signed, payload_hash])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amz_date, self.scope, sha256_hex(creq.encode())])
        sig = self.sign(sts)
        return f"AWS4-HMAC-SHA256 Credential={AKID}/{self.scope}, SignedHeaders={signed}, Signature={sig}", sig

    def chunk_signature(self, prev, chunk):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, prev, sha256_hex(b""),
                         sha256_hex(chunk)])
        return self.sign(sts)

    def trailer_signature(self, prev, trailer_lines):
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.amz_date, self.scope, prev,
                         sha256_hex(trailer_lines.encode())])
        return self.sign(sts)


def split(payload, size):
    return [payload[i:i + size] for i in range(0, len(payload), size)]


def unsigned_chunked(payload, chunk=64 * 1024, trailer_value=None):
    """aws-chunked with an unsigned CRC32 trailer (what botocore/JS v3 send):
    <hex>\\r\\n<bytes>\\r\\n ... 0\\r\\n x-amz-checksum-crc32:<b64>\\r\\n \\r\\n"""
    out = bytearray()
    for c in split(payload, chunk):
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    out += b"0\r\n"
    value = crc32_b64(payload) if trailer_value is None else trailer_value
    out += b"x-amz-checksum-crc32:" + value.encode() + b"\r\n\r\n"
    return bytes(out)


def signed_chunked(payload, signer, seed, chunk=64 * 1024, trailer=False):
    """aws-chunked with chunk signatures; trailer=True adds a signed CRC32 trailer."""
    out = bytearray()
    prev = seed
    for c in split(payload, chunk) + [b""]:
        prev = signer.chunk_signature(prev, c)
        out += b"%x;chunk-signature=%s\r\n" % (len(c), prev.encode()) + c
        if c:
            out += b"\r\n"
    if trailer:
        line = f"x-amz-checksum-crc32:{crc32_b64(payload)}"
        tsig = signer.trailer_signature(prev, line + "\n")
        out += line.encode() + b"\r\n" + f"x-amz-trailer-signature:{tsig}".encode() + b"\r\n\r\n"
    else:
        out += b"\r\n"
    return bytes(out)


def unsigned_trailer_headers(payload_len, encoded_len=None):
    h = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(payload_len),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }
    if encoded_len is not None:
        h["Content-Length"] = str(encoded_len)
    return h


def xml_error(resp):
    """(Code, Message) of an S3 XML error body, or (None, None)."""
    try:
        root = ET.fromstring(resp.body)
    except ET.ParseError:
        return None, None
    return root.findtext("Code"), root.findtext("Message")


def read_http_head(sock, deadline):
    """Read from sock until the end of one response head; returns (head bytes, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        part = sock.recv(65536)
        if not part:
            raise AssertionError(f"connection closed after {buf!r}")
        buf += part
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


class S3WireTest(ServerTestCase):
    BUCKET = "wire"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = cls.server.client("s3")
        cls.s3.create_bucket(Bucket=cls.BUCKET)
        cls.tmp = os.path.join(cls.server.tmp_root, "files")
        os.makedirs(cls.tmp, exist_ok=True)

    # ---- helpers ---------------------------------------------------------------------------
    def path(self, key, bucket=None):
        return f"/{bucket or self.BUCKET}/{key}"

    def assertHealthy(self):
        self.assertServerAlive()
        r = self.server.s3_raw("GET", "/")
        self.assertEqual(r.status, 200, f"ListBuckets after the request: {r!r}")
        self.assertIn(b"ListAllMyBucketsResult", r.body)
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn(self.BUCKET, names)

    def assertNoObject(self, key, bucket=None):
        r = self.server.s3_raw("HEAD", self.path(key, bucket))
        self.assertEqual(r.status, 404, f"a failed PUT left an object at {key}: {r!r}")
        self.assertEqual(r.body, b"")

    def assertS3Error(self, resp, status, codes, message=None):
        if isinstance(codes, str):
            codes = (codes,)
        code, msg = xml_error(resp)
        self.assertEqual(resp.status, status, f"status; response {resp!r}")
        self.assertIn(code, codes, f"error code; response {resp!r}")
        self.assertEqual(resp.header("Content-Type"), "application/xml")
        if message is not None:
            self.assertEqual(msg, message, f"message; response {resp!r}")
        return code

    def curl(self, *args, timeout=60):
        """curl with args; with credentials (harness.S3_AUTH) unless a URL is presigned."""
        if not CURL:
            self.skipTest("curl not found")
        if not any("Signature=" in a for a in args):
            args = ("-H", f"Authorization: {harness.S3_AUTH['Authorization']}", *args)
        p = subprocess.run([CURL, "-sS", *args], capture_output=True, text=True, timeout=timeout)
        self.assertEqual(p.returncode, 0, f"curl {args} failed rc={p.returncode}: {p.stderr}")
        return p.stdout

    def put_raw(self, key, body, headers, bucket=None):
        return self.server.s3_raw("PUT", self.path(key, bucket), body=body, headers=headers)

    def get_bytes(self, key, bucket=None):
        return self.s3.get_object(Bucket=bucket or self.BUCKET, Key=key)["Body"].read()

    def signed_raw(self, method, path, body=b"", query=""):
        """A SigV4-signed request for a raw (already percent-encoded) path and query."""
        headers = {"Host": f"127.0.0.1:{self.server.port}", "x-amz-date": None,
                   "x-amz-content-sha256": sha256_hex(body)}
        signer = SigV4()
        headers["x-amz-date"] = signer.amz_date
        headers["Authorization"], _ = signer.authorization(method, path, headers, sha256_hex(body), query)
        return self.server.raw(method, path + ("?" + query if query else ""), body=body, headers=headers)

    # ---- names AWS refuses -------------------------------------------------------------------
    def test_key_with_nul_is_refused_not_cut(self):
        # Once stored as "nul", overwriting it: the decoded key was cut at the NUL.
        self.s3.put_object(Bucket=self.BUCKET, Key="nul", Body=b"keep me")
        for raw in ("nul%00tail", "nul%00", "%00"):
            r = self.signed_raw("PUT", self.path(raw), b"overwrite?")
            self.assertS3Error(r, 400, "InvalidURI", "Couldn't parse the specified URI.")
            r = self.signed_raw("GET", self.path(raw))
            self.assertS3Error(r, 400, "InvalidURI")
        self.assertEqual(self.get_bytes("nul"), b"keep me")
        self.assertHealthy()

    def test_key_not_utf8_is_refused(self):
        for raw in ("h%FF", "bad%C3", "%ED%A0%80surrogate", "%C0%80overlong"):
            r = self.signed_raw("PUT", self.path(raw), b"x")
            self.assertS3Error(r, 400, "InvalidURI", "Couldn't parse the specified URI.")
        r = self.signed_raw("GET", f"/{self.BUCKET}", query="prefix=h%FF")
        self.assertS3Error(r, 400, "InvalidURI")
        # a listing stays valid XML: nothing undecodable was stored
        r = self.signed_raw("GET", f"/{self.BUCKET}")
        self.assertEqual(r.status, 200, r)
        ET.fromstring(r.body)
        # well-formed UTF-8 keys are fine, of course
        r = self.signed_raw("PUT", self.path("caf%C3%A9-%F0%9F%8C%8A"), b"ok")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_bytes("caf\u00e9-\U0001F30A"), b"ok")
        self.assertHealthy()

    # ---- presigned URLs through curl --------------------------------------------------------
    # boto3's generate_presigned_url makes SigV2 query URLs (AWSAccessKeyId/Signature/Expires) for
    # us-east-1 unless the client is configured with signature_version="s3v4" (then X-Amz-*
    # query auth); both kinds are in use, so both are tested.
    def presigner(self, version):
        return self.server.client("s3", signature_version="s3v4") if version == "v4" else self.s3

    def check_presigned_get_and_put(self, version):
        s3 = self.presigner(version)
        data = rnd(1024 * 1024 + 77, 1)
        key = f"presigned-{version}/get.bin"
        self.s3.put_object(Bucket=self.BUCKET, Key=key, Body=data)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": self.BUCKET, "Key": key}, ExpiresIn=300)
        if version == "v4":
            self.assertIn("X-Amz-Signature=", url)
            self.assertIn("X-Amz-Expires=300", url)
        else:
            self.assertIn("Signature=", url)
            self.assertIn("Expires=", url)
        out = os.path.join(self.tmp, "got.bin")
        code = self.curl("-o", out, "-w", "%{http_code}", url)
        with open(out, "rb") as f:
            got = f.read()
        self.assertEqual(code, "200", got[:500])
        self.assertEqual(got, data)

        src = os.path.join(self.tmp, "put.bin")
        up = rnd(2 * 1024 * 1024 + 5, 2)
        with open(src, "wb") as f:
            f.write(up)
        key = f"presigned-{version}/put d.bin"
        url = s3.generate_presigned_url("put_object", Params={"Bucket": self.BUCKET, "Key": key},
                                        ExpiresIn=300, HttpMethod="PUT")
        code = self.curl("-T", src, "-o", os.path.join(self.tmp, "put-resp"), "-w", "%{http_code}", url)
        with open(os.path.join(self.tmp, "put-resp"), "rb") as f:
            resp_body = f.read()
        self.assertEqual(code, "200", resp_body)
        self.assertEqual(self.get_bytes(key), up)
        head = self.s3.head_object(Bucket=self.BUCKET, Key=key)
        self.assertEqual(head["ETag"], '"%s"' % hashlib.md5(up).hexdigest())
        self.assertHealthy()

    def check_expired_presigned_url(self, version):
        s3 = self.presigner(version)
        key = f"presigned-{version}/old.txt"
        late = f"presigned-{version}/late.txt"
        self.s3.put_object(Bucket=self.BUCKET, Key=key, Body=b"stale")
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": self.BUCKET, "Key": key}, ExpiresIn=1)
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": self.BUCKET, "Key": late},
                                            ExpiresIn=1, HttpMethod="PUT")
        time.sleep(2.1)
        out = os.path.join(self.tmp, "expired.xml")
        code = self.curl("-o", out, "-w", "%{http_code}", get_url)
        with open(out, "rb") as f:
            body = f.read()
        self.assertEqual(code, "403", f"expired presigned GET {get_url} answered {code}: {body[:300]!r}")
        err = ET.fromstring(body)
        self.assertEqual(err.findtext("Code"), "AccessDenied", body)
        self.assertEqual(err.findtext("Message"), "Request has expired", body)

        src = os.path.join(self.tmp, "late.txt")
        with open(src, "wb") as f:
            f.write(b"too late")
        code = self.curl("-T", src, "-o", out, "-w", "%{http_code}", put_url)
        with open(out, "rb") as f:
            body = f.read()
        self.assertEqual(code, "403", f"expired presigned PUT {put_url} answered {code}: {body[:300]!r}")
        self.assertEqual(ET.fromstring(body).findtext("Code"), "AccessDenied", body)
        self.assertNoObject(late)
        self.assertHealthy()

    def test_presigned_sigv4_get_and_put_with_curl(self):
        self.check_presigned_get_and_put("v4")

    def test_presigned_sigv2_get_and_put_with_curl(self):
        self.check_presigned_get_and_put("v2")

    def test_expired_presigned_sigv4_url_is_refused(self):
        self.check_expired_presigned_url("v4")

    def test_expired_presigned_sigv2_url_is_refused(self):
        # SigV2 presigned URLs (boto3's default in us-east-1: ?AWSAccessKeyId=&Signature=&Expires=<epoch>)
        self.check_expired_presigned_url("v2")

    # ---- XML, digests, names ----------------------------------------------------------------
    def test_malformed_create_bucket_xml(self):
        ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
        good = f"<CreateBucketConfiguration {ns}><LocationConstraint>eu-west-1</LocationConstraint>" \
               "</CreateBucketConfiguration>"
        bodies = {
            "truncated": good[:-12].encode(),
            "garbage": b"\x00\xffthis is { not xml ]]>",
            "two-roots": (good + good).encode(),
            "unclosed-child": f"<CreateBucketConfiguration {ns}><LocationConstraint>eu-west-1"
                              "</CreateBucketConfiguration>".encode(),
        }
        for i, (name, body) in enumerate(bodies.items()):
            with self.subTest(body=name):
                bucket = f"malformed-{i}"
                r = self.server.s3_raw("PUT", f"/{bucket}", body=body)
                self.assertS3Error(r, 400, "MalformedXML")
                h = self.server.s3_raw("HEAD", f"/{bucket}")
                self.assertEqual(h.status, 404, f"bucket {bucket} created from a malformed body")
                self.assertHealthy()
        # the well-formed body works (so the cases above fail for the XML, not the route)
        r = self.server.s3_raw("PUT", "/malformed-ok", body=good.encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s3.get_bucket_location(Bucket="malformed-ok")["LocationConstraint"], "eu-west-1")

    def test_wrong_content_md5_is_bad_digest(self):
        data = b"the body that was really sent"
        r = self.put_raw("md5/wrong", data, {"Content-MD5": md5_b64(b"something else")})
        self.assertS3Error(r, 400, "BadDigest")
        self.assertNoObject("md5/wrong")
        r = self.put_raw("md5/right", data, {"Content-MD5": md5_b64(data)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(data).hexdigest())
        self.assertHealthy()

    def test_content_md5_of_wrong_length_is_invalid_digest(self):
        data = b"payload"
        cases = {
            "short": "abc",
            "15 bytes": base64.b64encode(b"\x01" * 15).decode(),
            "hex md5": hashlib.md5(data).hexdigest(),
        }
        for i, (name, value) in enumerate(cases.items()):
            with self.subTest(content_md5=name):
                key = f"md5/invalid-{i}"
                r = self.put_raw(key, data, {"Content-MD5": value})
                self.assertS3Error(r, 400, "InvalidDigest")
                self.assertNoObject(key)
        # 24 characters that are not base64 of 16 bytes: refused and nothing stored, whichever code
        # (the exact code is test_content_md5_of_24_chars_not_16_bytes_is_invalid_digest)
        for i, value in enumerate((base64.b64encode(hashlib.md5(data).digest() + b"\x00").decode(),
                                   "!!!!not~base64~at~all!!!")):
            with self.subTest(content_md5_24=value):
                key = f"md5/invalid24-any-{i}"
                r = self.put_raw(key, data, {"Content-MD5": value})
                self.assertS3Error(r, 400, ("InvalidDigest", "BadDigest"))
                self.assertNoObject(key)
        self.assertHealthy()

    def test_content_md5_of_24_chars_not_16_bytes_is_invalid_digest(self):
        # a 24-character Content-MD5 that is not base64 of 16 bytes (base64 of 17 bytes, or not base64
        # at all) is InvalidDigest, not BadDigest
        data = b"payload"
        cases = {
            "17 bytes (24 chars)": base64.b64encode(hashlib.md5(data).digest() + b"\x00").decode(),
            "not base64 (24 chars)": "!!!!not~base64~at~all!!!",
        }
        for i, (name, value) in enumerate(cases.items()):
            key = f"md5/invalid24-{i}"
            r = self.put_raw(key, data, {"Content-MD5": value})
            self.assertNoObject(key)
            self.assertS3Error(r, 400, "InvalidDigest")
        self.assertHealthy()

    def test_bad_bucket_names(self):
        for name in ("UpperCase", "a", "ab", "a..b", "192.168.1.1", "xn--abc", "-start", "end-",
                     "under_score", "bucket-s3alias"):
            with self.subTest(name=name):
                r = self.server.s3_raw("PUT", f"/{name}")
                self.assertS3Error(r, 400, "InvalidBucketName")
                self.assertNotIn(name, [b["Name"] for b in self.s3.list_buckets()["Buckets"]])
        # the edges that are fine
        for name in ("abc", "a" * 63, "a.b-c.1"):
            with self.subTest(valid=name):
                r = self.server.s3_raw("PUT", f"/{name}")
                self.assertEqual(r.status, 200, r)
        self.assertHealthy()

    def test_bucket_name_of_64_chars_is_invalid(self):
        # CreateBucket with a name longer than 63 characters: InvalidBucketName, not NoSuchBucket
        for name in ("a" * 64, "b" * 100):
            r = self.server.s3_raw("PUT", f"/{name}")
            self.assertS3Error(r, 400, "InvalidBucketName")
        self.assertHealthy()

    # ---- aws-chunked by hand ----------------------------------------------------------------
    def test_aws_chunked_unsigned_trailer_round_trip(self):
        payload = rnd(300 * 1024 + 11, 3)
        body = unsigned_chunked(payload)
        r = self.put_raw("chunked/ok", body, unsigned_trailer_headers(len(payload)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(payload).hexdigest())
        self.assertEqual(r.header("x-amz-checksum-crc32"), crc32_b64(payload))
        g = self.server.s3_raw("GET", self.path("chunked/ok"))
        self.assertEqual(g.status, 200)
        self.assertEqual(g.body, payload)
        self.assertEqual(g.header("Content-Length"), str(len(payload)))
        self.assertNotIn("aws-chunked", (g.header("Content-Encoding") or ""), "aws-chunked must not be stored")
        self.assertHealthy()

    def test_aws_chunked_over_transfer_encoding_chunked(self):
        # botocore and JS v3 send no Content-Length: HTTP chunking wraps the aws-chunked body.
        import http.client
        payload = rnd(1024 * 1024 + 3, 4)
        body = unsigned_chunked(payload, chunk=1024 * 1024)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("PUT", self.path("chunked/te"), body=iter(split(body, 100_000)),
                         headers={**unsigned_trailer_headers(len(payload)), "Transfer-Encoding": "chunked",
                                  **harness.S3_AUTH},
                         encode_chunked=True)
            resp = conn.getresponse()
            rb = resp.read()
            self.assertEqual(resp.status, 200, rb)
        finally:
            conn.close()
        self.assertEqual(self.get_bytes("chunked/te"), payload)
        self.assertHealthy()

    def test_aws_chunked_wrong_trailer_checksum(self):
        payload = rnd(200 * 1024, 5)
        body = unsigned_chunked(payload, trailer_value=crc32_b64(payload + b"!"))
        r = self.put_raw("chunked/bad-crc", body, unsigned_trailer_headers(len(payload)))
        self.assertS3Error(r, 400, ("BadDigest", "XAmzContentChecksumMismatch"))
        self.assertNoObject("chunked/bad-crc")
        self.assertHealthy()

    def test_aws_chunked_truncated_bodies(self):
        payload = rnd(150 * 1024, 6)
        full = unsigned_chunked(payload)
        last_chunk_end = full.index(b"\r\n0\r\n") + 2
        cases = {
            "mid-chunk": full[:70_000],
            "inside chunk header": full[:65_536 + 6 + 2 + 3],
            "after last data chunk, no final chunk": full[:last_chunk_end],
            "after final 0 chunk, before trailer": full[:last_chunk_end + 3],
            "trailer without the closing CRLF": full[:-2],
        }
        for i, (name, body) in enumerate(cases.items()):
            with self.subTest(truncated=name):
                key = f"chunked/trunc-{i}"
                r = self.put_raw(key, body, unsigned_trailer_headers(len(payload)))
                code = self.assertS3Error(r, 400, ("IncompleteBody", "MalformedTrailerError", "InvalidRequest",
                                                   "InvalidChunkSizeError"))
                self.assertNoObject(key)
                self.assertHealthy()
                if name == "mid-chunk":
                    self.assertEqual(code, "IncompleteBody")

    def test_aws_chunked_connection_dropped_mid_body(self):
        # The HTTP body itself ends early: Content-Length promises more, the client half-closes.
        payload = rnd(400 * 1024, 7)
        full = unsigned_chunked(payload)
        head = (f"PUT {self.path('chunked/dropped')} HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n{AUTH_LINE}"
                f"Content-Length: {len(full)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in unsigned_trailer_headers(len(payload)).items()) + "\r\n")
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            s.sendall(head.encode() + full[:len(full) // 2])
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        time.sleep(0.2)
        self.assertNoObject("chunked/dropped")
        self.assertHealthy()

    def _signed_put(self, key, payload, trailer):
        signer = SigV4()
        mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
        path = self.path(key)
        # the encoded length does not depend on the signature values, so size it with a dummy
        probe = signed_chunked(payload, signer, "0" * 64, trailer=trailer)
        headers = {
            "Host": f"127.0.0.1:{self.server.port}",
            "Content-Encoding": "aws-chunked",
            "Content-Length": str(len(probe)),
            "x-amz-content-sha256": mode,
            "x-amz-date": signer.amz_date,
            "x-amz-decoded-content-length": str(len(payload)),
        }
        if trailer:
            headers["x-amz-trailer"] = "x-amz-checksum-crc32"
            headers["x-amz-sdk-checksum-algorithm"] = "CRC32"
        auth, seed = signer.authorization("PUT", path, headers, mode)
        body = signed_chunked(payload, signer, seed, trailer=trailer)
        self.assertEqual(len(body), len(probe))
        return self.server.s3_raw("PUT", path, body=body, headers={**headers, "Authorization": auth})

    def test_aws_chunked_signed_chunks(self):
        payload = rnd(200 * 1024 + 1, 8)
        r = self._signed_put("chunked/signed", payload, trailer=False)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(payload).hexdigest())
        self.assertEqual(self.get_bytes("chunked/signed"), payload)
        self.assertHealthy()

    def test_aws_chunked_signed_chunks_with_signed_trailer(self):
        # Java SDK v2 >= 2.30 over http: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
        payload = rnd(130 * 1024 + 9, 9)
        r = self._signed_put("chunked/signed-trailer", payload, trailer=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_bytes("chunked/signed-trailer"), payload)
        self.assertHealthy()

    def test_many_tiny_signed_chunks_cost_no_memory(self):
        """1-byte signed chunks: the decoder keeps O(1) state, however many chunks come. It used to
        keep every signature (65 bytes each, in a doubling array: ~100 MB more for this upload)."""
        n = 1_500_000
        sig = "ab" * 32
        block_chunks = 10_000
        block = (b"1;chunk-signature=" + sig.encode() + b"\r\nx\r\n") * block_chunks
        final = b"0;chunk-signature=" + sig.encode() + b"\r\n\r\n"
        pid = self.server.proc.pid

        def status_kb(field):
            with open(f"/proc/{pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = status_kb("VmRSS")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            conn.putrequest("PUT", self.path("chunked/tiny"))
            for k, v in {**harness.S3_AUTH, "Content-Length": str(len(block) * (n // block_chunks) + len(final)),
                         "Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                         "x-amz-decoded-content-length": str(n)}.items():
                conn.putheader(k, v)
            conn.endheaders()
            for _ in range(n // block_chunks):
                conn.send(block)
            conn.send(final)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200, resp.read())
        finally:
            conn.close()
        growth_mb = (status_kb("VmHWM") - before) / 1024
        self.assertLess(growth_mb, 50, f"peak RSS grew by {growth_mb:.0f} MB for {n} chunks")
        self.assertEqual(self.get_bytes("chunked/tiny"), b"x" * n)

    # ---- HTTP details ------------------------------------------------------------------------
    def test_expect_100_continue_with_curl(self):
        src = os.path.join(self.tmp, "expect.bin")
        data = rnd(2 * 1024 * 1024, 10)
        with open(src, "wb") as f:
            f.write(data)
        url = f"{self.server.endpoint}{self.path('expect/curl.bin')}"
        out = self.curl("-T", src, "-H", "Expect: 100-continue", "-o", os.devnull,
                        "-w", "%{http_code} %{time_total}", url)
        code, total = out.split()
        self.assertEqual(code, "200")
        self.assertLess(float(total), 0.5, f"PUT with Expect: 100-continue took {total}s (curl waits 1 s for 100)")
        self.assertEqual(self.get_bytes("expect/curl.bin"), data)

    def test_expect_100_continue_raw(self):
        data = rnd(100_000, 11)
        head = (f"PUT {self.path('expect/raw.bin')} HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n{AUTH_LINE}"
                f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n\r\n")
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            t0 = time.monotonic()
            s.sendall(head.encode())
            interim, rest = read_http_head(s, t0 + 0.5)
            took = time.monotonic() - t0
            self.assertTrue(interim.startswith(b"HTTP/1.1 100"), interim)
            self.assertLess(took, 0.5)
            s.sendall(data)
            final, rest = read_http_head(s, time.monotonic() + 10)
            self.assertTrue(final.startswith(b"HTTP/1.1 200"), final)
        finally:
            s.close()
        self.assertEqual(self.get_bytes("expect/raw.bin"), data)

    def test_head_object_has_length_and_no_body(self):
        data = rnd(12345, 12)
        self.s3.put_object(Bucket=self.BUCKET, Key="head/obj", Body=data)
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            host = f"Host: 127.0.0.1:{self.server.port}\r\n{AUTH_LINE}"
            s.sendall(f"HEAD {self.path('head/obj')} HTTP/1.1\r\n{host}\r\n".encode())
            head, rest = read_http_head(s, time.monotonic() + 5)
            lines = head.decode().split("\r\n")
            self.assertTrue(lines[0].startswith("HTTP/1.1 200"), lines[0])
            hdrs = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
            self.assertEqual(hdrs.get("content-length"), str(len(data)))
            self.assertEqual(hdrs.get("etag"), '"%s"' % hashlib.md5(data).hexdigest())
            # no body bytes may follow the head
            s.settimeout(0.3)
            try:
                extra = rest + s.recv(65536)
            except socket.timeout:
                extra = rest
            self.assertEqual(extra, b"", "HEAD response carried body bytes")
            # and the connection is still in sync: a GET on it gets its own response
            s.settimeout(5)
            s.sendall(f"GET {self.path('head/obj')} HTTP/1.1\r\n{host}\r\n".encode())
            head2, rest2 = read_http_head(s, time.monotonic() + 5)
            self.assertTrue(head2.startswith(b"HTTP/1.1 200"), head2)
            while len(rest2) < len(data):
                part = s.recv(65536)
                if not part:
                    break
                rest2 += part
            self.assertEqual(rest2, data)
        finally:
            s.close()
        # HEAD of a missing key: 404 with no body either
        r = self.server.s3_raw("HEAD", self.path("head/missing"))
        self.assertEqual((r.status, r.body), (404, b""))

    def test_zero_byte_object(self):
        r = self.put_raw("empty/zero", b"", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"d41d8cd98f00b204e9800998ecf8427e"')
        g = self.server.s3_raw("GET", self.path("empty/zero"))
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, b"")
        self.assertEqual(g.header("Content-Length"), "0")
        self.assertEqual(g.header("ETag"), '"d41d8cd98f00b204e9800998ecf8427e"')
        h = self.server.s3_raw("HEAD", self.path("empty/zero"))
        self.assertEqual((h.status, h.header("Content-Length"), h.body), (200, "0", b""))
        # and through aws-chunked (only the final chunk and the trailer)
        r = self.put_raw("empty/chunked", unsigned_chunked(b""), unsigned_trailer_headers(0))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_bytes("empty/chunked"), b"")
        if CURL:
            out = os.path.join(self.tmp, "zero.out")
            code = self.curl("-o", out, "-w", "%{http_code} %{size_download}",
                             f"{self.server.endpoint}{self.path('empty/zero')}")
            self.assertEqual(code, "200 0")
        self.assertHealthy()


if __name__ == "__main__":
    main()
