#!/usr/bin/env python3
"""HTTPS on --tls-port: the local CA in DATA/tls (name-constrained), leaf certificates minted for the SNI name,
TLS 1.2 (the KPL's ECDHE-RSA-AES-GCM) and 1.3, ALPN h2 and http/1.1, with curl, Python's ssl,
openssl and boto3; plain HTTP sent to the TLS port; `Expect: 100-continue`; shutdown with open
TLS connections; `tidepool hosts`.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_tls.py
"""

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import REGION, Server, ServerTestCase, create_stream, sigv4_headers, tidepool_bin  # noqa: E402

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")
KPL_SUITES = re.compile(r"^ECDHE-RSA-AES(128-GCM-SHA256|256-GCM-SHA384)$")
AWS_NAMES = ("kinesis.us-east-1.amazonaws.com", "bucket.s3.amazonaws.com", "monitoring.eu-west-1.amazonaws.com")
MAX_LEAF_DAYS = 397


def tls_context(cafile, maximum=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def peer_cert(port, cafile, server_hostname, **ctx_kw):
    """Connects (verifying against cafile) and returns (getpeercert(), version, cipher, DER)."""
    ctx = tls_context(cafile, **ctx_kw)
    if server_hostname is None:  # no SNI: Python then cannot check a name either
        ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return s.getpeercert(), s.version(), s.cipher()[0], s.getpeercert(binary_form=True)


def fingerprint(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def openssl_text(pem_or_der, der=False):
    """`openssl x509 -text` of a certificate."""
    args = [OPENSSL, "x509", "-noout", "-text"] + (["-inform", "DER"] if der else [])
    p = subprocess.run(args, input=pem_or_der, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


class TlsCase(ServerTestCase):
    server_args = ("--tls-port", "0")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def setUp(self):
        if not CURL or not OPENSSL:
            self.skipTest("curl and openssl are needed")

    def curl(self, *args, timeout=60):
        p = subprocess.run([CURL, "-sS", "--cacert", self.server.ca_path, *args],
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(p.returncode, 0, f"curl {args} failed rc={p.returncode}: {p.stderr}")
        return p


class TestCertificates(TlsCase):
    def test_ca_files_and_fields(self):
        tls_dir = os.path.join(self.server.data_dir, "tls")
        self.assertEqual(self.server.ca_path, os.path.join(tls_dir, "ca.pem"))
        self.assertEqual(os.stat(os.path.join(tls_dir, "ca-key.pem")).st_mode & 0o777, 0o600)
        with open(self.server.ca_path, "rb") as f:
            text = openssl_text(f.read())
        self.assertRegex(text, r"Subject: CN\s?=\s?tidepool local CA [0-9a-f]{8}\n")
        self.assertIn("Public-Key: (2048 bit)", text)
        self.assertIn("sha256WithRSAEncryption", text)
        self.assertRegex(text, r"Basic Constraints: critical\s+CA:TRUE")
        self.assertRegex(text, r"Key Usage: critical\s+Certificate Sign")
        cert = ssl._ssl._test_decode_cert(self.server.ca_path)
        days = (ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])) / 86400
        self.assertGreater(days, 3650)
        self.assertLess(days, 3660)

    def test_leaf_for_each_sni_name(self):
        for name in AWS_NAMES + ("localhost",):
            with self.subTest(name=name):
                cert, _, _, der = peer_cert(self.server.tls_port, self.server.ca_path, name)
                self.assertEqual(cert["subjectAltName"], (("DNS", name),))
                self.assertEqual(dict(x[0] for x in cert["subject"])["commonName"], name)
                days = (ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])) / 86400
                self.assertLessEqual(days, MAX_LEAF_DAYS)
                text = openssl_text(der, der=True)
                self.assertRegex(text, r"Extended Key Usage:\s+TLS Web Server Authentication")
                self.assertRegex(text, r"Basic Constraints: critical\s+CA:FALSE")
        # Cached per name: the same certificate twice.
        first = peer_cert(self.server.tls_port, self.server.ca_path, AWS_NAMES[0])[3]
        self.assertEqual(first, peer_cert(self.server.tls_port, self.server.ca_path, AWS_NAMES[0])[3])

    def test_no_sni_gets_the_loopback_names(self):
        cert = peer_cert(self.server.tls_port, self.server.ca_path, None)[0]
        self.assertEqual(set(cert["subjectAltName"]),
                         {("IP Address", "127.0.0.1"), ("DNS", "localhost"), ("IP Address", "0:0:0:0:0:0:0:1")})
        # And curl, which sends no SNI for an address, verifies https://127.0.0.1.
        p = self.curl(f"https://127.0.0.1:{self.server.tls_port}/_tidepool/health")
        self.assertEqual(json.loads(p.stdout)["status"], "ok")

    def test_openssl_s_client_sees_the_aws_name(self):
        name = AWS_NAMES[0]
        s = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.server.tls_port}",
                            "-servername", name, "-CAfile", self.server.ca_path, "-verify_return_error"],
                           input=b"", capture_output=True, timeout=30)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertIn(b"Verify return code: 0 (ok)", s.stdout)
        x = subprocess.run([OPENSSL, "x509", "-noout", "-ext", "subjectAltName"], input=s.stdout,
                           capture_output=True, timeout=30)
        self.assertIn(f"DNS:{name}", x.stdout.decode())


    def test_ca_is_name_constrained(self):
        with open(self.server.ca_path, "rb") as f:
            text = openssl_text(f.read())
        m = re.search(r"X509v3 Name Constraints: critical\s+Permitted:\s+((?:\S+\s+)+?)(?:Excluded|X509v3|Signature)", text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(1).split(), [
            "DNS:localhost", "DNS:amazonaws.com", "IP:127.0.0.0/255.0.0.0",
            "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"])

    def test_names_outside_the_constraints_do_not_verify(self):
        # Minted all the same (the handshake completes), but no verifying client accepts them.
        for name in ("example.org", "amazonaws.com.example.org", "tidepool"):
            with self.subTest(name=name):
                with self.assertRaisesRegex(ssl.SSLCertVerificationError, "permitted subtree violation"):
                    peer_cert(self.server.tls_port, self.server.ca_path, name)
        s = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.server.tls_port}",
                            "-servername", "example.org", "-CAfile", self.server.ca_path, "-verify_return_error"],
                           input=b"", capture_output=True, timeout=30)
        self.assertNotEqual(s.returncode, 0)
        self.assertIn(b"permitted subtree violation", s.stdout + s.stderr)
        # Subdomains of the permitted names do verify.
        for name in ("sub.localhost", "s3.dualstack.us-east-1.amazonaws.com"):
            with self.subTest(name=name):
                self.assertEqual(peer_cert(self.server.tls_port, self.server.ca_path, name)[0]["subjectAltName"],
                                 (("DNS", name),))


class TestProtocols(TlsCase):
    def test_curl_http1_and_http2(self):
        url = f"https://localhost:{self.server.tls_port}/_tidepool/health"
        for flag, version in (("--http1.1", "1.1"), ("--http2", "2")):
            with self.subTest(flag=flag):
                p = self.curl(flag, "-w", "\n%{http_version} %{http_code}", url)
                body, _, tail = p.stdout.rpartition("\n")
                self.assertEqual(tail, f"{version} 200")
                self.assertEqual(json.loads(body)["status"], "ok")

    def test_kinesis_by_aws_host_name(self):
        name = "kinesis.us-east-1.amazonaws.com"
        port = self.server.tls_port
        body = b"{}"
        headers = sigv4_headers(port, body, "Kinesis_20131202.ListStreams")
        args = ["--resolve", f"{name}:{port}:127.0.0.1", "-w", "\n%{http_code}", "--data-binary", "@-"]
        for k, v in headers.items():
            args += ["-H", f"{k}: {v}"]
        p = subprocess.run([CURL, "-sS", "--cacert", self.server.ca_path, *args, f"https://{name}:{port}/"],
                           input=body.decode(), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        out, _, code = p.stdout.rpartition("\n")
        self.assertEqual(code, "200", out)
        self.assertIn("StreamNames", json.loads(out))

    def test_tls12_only_client_gets_ecdhe_rsa_aes_gcm(self):
        _, version, cipher, _ = peer_cert(self.server.tls_port, self.server.ca_path, "localhost",
                                          maximum=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(version, "TLSv1.2")
        self.assertRegex(cipher, KPL_SUITES)
        # Each of the suites OpenSSL 1.0.1 (the KPL) offers, alone, with ALPN http/1.1, then a request.
        for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"):
            with self.subTest(suite=suite):
                ctx = tls_context(self.server.ca_path, maximum=ssl.TLSVersion.TLSv1_2)
                ctx.set_ciphers(suite)
                ctx.set_alpn_protocols(["http/1.1"])
                with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10) as raw:
                    with ctx.wrap_socket(raw, server_hostname="kinesis.us-east-1.amazonaws.com") as s:
                        self.assertEqual(s.cipher()[0], suite)
                        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
                        s.sendall(b"GET /_tidepool/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        data = b""
                        while chunk := s.recv(65536):
                            data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])

    def test_tls13(self):
        _, version, _, _ = peer_cert(self.server.tls_port, self.server.ca_path, "localhost")
        self.assertEqual(version, "TLSv1.3")

    def test_plain_http_to_the_tls_port_fails_cleanly(self):
        r = harness.raw_request(self.server.tls_port, "GET", "/_tidepool/health", timeout=10)
        self.assertEqual(r.status, 400)
        self.assertIn(b"https://", r.body)
        # A TLS record holding an empty ClientHello: the handshake fails at once and the
        # connection closes (after an alert), well before the 10 s handshake timeout.
        with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00")
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        self.assertServerAlive()
        self.assertEqual(json.loads(self.curl(f"https://localhost:{self.server.tls_port}/_tidepool/health").stdout)["status"], "ok")

    def test_silent_clients_do_not_block_others(self):
        silent = [socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10) for _ in range(5)]
        try:
            # One that stops in the middle of its ClientHello too.
            silent[0].sendall(b"\x16\x03\x01\x02\x00\x01")
            t = time.monotonic()
            p = self.curl("-w", "\n%{http_code}", f"https://localhost:{self.server.tls_port}/_tidepool/health")
            self.assertTrue(p.stdout.endswith("\n200"))
            self.assertLess(time.monotonic() - t, 5)
        finally:
            for s in silent:
                s.close()

    def test_expect_100_continue_answered_at_once(self):
        """A 2 MB PutRecords (the KPL's libcurl adds `Expect: 100-continue`): without a prompt
        100 Continue curl waits a second before sending the body."""
        create_stream(self.kinesis, "expect", 1)
        records = [{"PartitionKey": f"k{i}", "Data": harness.b64(os.urandom(370 * 1024))} for i in range(4)]
        body = json.dumps({"StreamName": "expect", "Records": records}).encode()
        self.assertGreater(len(body), 2 * 1000 * 1000)
        path = os.path.join(self.tmp, "put-records.json")
        with open(path, "wb") as f:
            f.write(body)
        for url in (f"https://localhost:{self.server.tls_port}/", f"{self.server.endpoint}/"):
            with self.subTest(url=url):
                headers = sigv4_headers(self.server.port, body, "Kinesis_20131202.PutRecords")
                args = ["--http1.1", "-v", "-H", "Expect: 100-continue", "--data-binary", f"@{path}",
                        "-w", "%{http_code} %{time_total}", "-o", os.devnull]
                for k, v in headers.items():
                    args += ["-H", f"{k}: {v}"]
                p = self.curl(*args, url)
                code, seconds = p.stdout.split()
                self.assertEqual(code, "200")
                self.assertIn("HTTP/1.1 100 Continue", p.stderr)
                sys.stderr.write(f"\n  {url}: 2 MB PutRecords with Expect: 100-continue in {float(seconds):.3f} s ")
                self.assertLess(float(seconds), 1.0)

    def test_boto3_kinesis_over_tls(self):
        kinesis = self.server.client("kinesis", tls=True)
        create_stream(kinesis, "tls-stream", 2)
        put = kinesis.put_record(StreamName="tls-stream", PartitionKey="pk", Data=b"over tls")
        it = kinesis.get_shard_iterator(StreamName="tls-stream", ShardId=put["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        recs = kinesis.get_records(ShardIterator=it)["Records"]
        self.assertEqual([r["Data"] for r in recs], [b"over tls"])

    def test_boto3_s3_over_tls(self):
        s3 = self.server.client("s3", tls=True)
        s3.create_bucket(Bucket="tls-bucket")
        s3.put_object(Bucket="tls-bucket", Key="small", Body=b"hello")
        self.assertEqual(s3.get_object(Bucket="tls-bucket", Key="small")["Body"].read(), b"hello")
        big = os.urandom(10 * 1024 * 1024)
        s3.put_object(Bucket="tls-bucket", Key="big", Body=big)
        got = s3.get_object(Bucket="tls-bucket", Key="big")["Body"].read()
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(big).digest())

    def test_stop_with_open_tls_connections(self):
        """Idle keep-alive HTTP/1.1 and HTTP/2 connections, and one still silent before its
        handshake, do not hold up SIGTERM."""
        silent = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10)
        self.addCleanup(silent.close)
        ctx = tls_context(self.server.ca_path)
        ctx.set_alpn_protocols(["h2"])
        h2 = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10),
                             server_hostname="localhost")
        self.assertEqual(h2.selected_alpn_protocol(), "h2")
        h2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        ctx1 = tls_context(self.server.ca_path)
        h1 = ctx1.wrap_socket(socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10),
                              server_hostname="localhost")
        h1.sendall(b"GET /_tidepool/health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(h1.recv(65536).startswith(b"HTTP/1.1 200"))
        t = time.monotonic()
        rc = self.server.restart()
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t, 8)
        for s in (h1, h2):
            s.settimeout(5)
            try:
                while s.recv(65536):
                    pass
            except (ssl.SSLError, OSError):
                pass
            s.close()
        type(self).kinesis = self.server.client()


class TestRestartAndInMemory(unittest.TestCase):
    def setUp(self):
        if not CURL or not OPENSSL:
            self.skipTest("curl and openssl are needed")

    def health(self, server):
        p = subprocess.run([CURL, "-sS", "--cacert", server.ca_path,
                            f"https://localhost:{server.tls_port}/_tidepool/health"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["status"], "ok")

    def test_ca_survives_a_restart(self):
        server = Server(extra_args=["--tls-port", "0"])
        self.addCleanup(server.cleanup)
        server.start()
        ca_path = server.ca_path
        with open(ca_path, "rb") as f:
            before = f.read()
        trusted = tls_context(ca_path)  # a client made before the restart, trusting the old file
        self.health(server)
        self.assertEqual(server.restart(), 0)
        self.assertEqual(server.ca_path, ca_path)
        with open(ca_path, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(fingerprint(ca_path), hashlib.sha256(ssl.PEM_cert_to_DER_cert(before.decode())).hexdigest())
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=10) as raw:
            with trusted.wrap_socket(raw, server_hostname="kinesis.us-east-1.amazonaws.com") as s:
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        self.health(server)

    def test_unconstrained_ca_is_replaced(self):
        """A CA an older version made (no name constraints) is replaced at start, with a warning."""
        server = Server(extra_args=["--tls-port", "0"])
        self.addCleanup(server.cleanup)
        server.start()
        self.assertEqual(server.stop(), 0)
        tls_dir = os.path.join(server.data_dir, "tls")
        p = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                            "-subj", "/CN=tidepool local CA 00000000",
                            "-keyout", os.path.join(tls_dir, "ca-key.pem"), "-out", os.path.join(tls_dir, "ca.pem"),
                            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                            "-addext", "keyUsage=critical,keyCertSign,cRLSign"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        old = fingerprint(os.path.join(tls_dir, "ca.pem"))
        server.start()
        self.assertNotEqual(fingerprint(server.ca_path), old)
        with open(server.ca_path, "rb") as f:
            self.assertRegex(openssl_text(f.read()), r"Name Constraints: critical")
        with open(server.log_path) as f:
            self.assertRegex(f.read(), r"warn tls: the CA in \S+ca.pem lacks name constraints: replacing it")
        self.health(server)
        # Kept from then on.
        new = fingerprint(server.ca_path)
        self.assertEqual(server.restart(), 0)
        self.assertEqual(fingerprint(server.ca_path), new)

    def test_new_s3_domain_gets_a_ca_that_permits_it(self):
        server = Server(extra_args=["--tls-port", "0"])
        self.addCleanup(server.cleanup)
        server.start()
        old = fingerprint(server.ca_path)
        self.assertEqual(server.stop(), 0)
        server.extra_args += ["--s3-domain", "s3.tidepool.test"]
        server.start()
        self.assertNotEqual(fingerprint(server.ca_path), old)
        with open(server.log_path) as f:
            self.assertIn("lacks the name s3.tidepool.test", f.read())
        cert = peer_cert(server.tls_port, server.ca_path, "bucket.s3.tidepool.test")[0]
        self.assertEqual(cert["subjectAltName"], (("DNS", "bucket.s3.tidepool.test"),))

    def test_in_memory_keeps_the_ca_in_its_temporary_directory(self):
        server = Server(in_memory=True, extra_args=["--tls-port", "0"])
        self.addCleanup(server.cleanup)
        server.start()
        self.assertTrue(os.path.isfile(server.ca_path))
        self.health(server)
        tmp_dir = os.path.dirname(os.path.dirname(server.ca_path))
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(tmp_dir), "the throw-away directory goes at exit, CA included")


class TestHostsCommand(TlsCase):
    def hosts(self, *args, rc=0):
        p = subprocess.run([tidepool_bin(), "hosts", *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, rc, p.stderr)
        return p.stdout.splitlines()

    def test_lines_for_services_and_buckets(self):
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="hosts-bucket")
        s3.create_bucket(Bucket="eu-hosts-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        lines = self.hosts("--data", self.server.data_dir, "--region", REGION)  # the server is running
        for name in (f"kinesis.{REGION}.amazonaws.com", f"firehose.{REGION}.amazonaws.com",
                     f"monitoring.{REGION}.amazonaws.com", "s3.amazonaws.com", f"s3.{REGION}.amazonaws.com",
                     "hosts-bucket.s3.amazonaws.com", f"hosts-bucket.s3.{REGION}.amazonaws.com",
                     "eu-hosts-bucket.s3.amazonaws.com", "eu-hosts-bucket.s3.eu-west-1.amazonaws.com"):
            self.assertIn(f"127.0.0.1 {name}", lines)
        comments = [line for line in lines if line.startswith("#")]
        self.assertTrue(any(os.path.realpath(self.server.ca_path) in c for c in comments), comments)
        self.assertTrue(all(line.startswith("#") or line.startswith("127.0.0.1 ") for line in lines), lines)
        # The names it prints are served: the leaf for a bucket's virtual host verifies.
        cert = peer_cert(self.server.tls_port, self.server.ca_path, "hosts-bucket.s3.amazonaws.com")[0]
        self.assertEqual(cert["subjectAltName"], (("DNS", "hosts-bucket.s3.amazonaws.com"),))

    def test_other_region_and_address_without_a_database(self):
        empty = tempfile.mkdtemp(dir=self.tmp)
        lines = self.hosts("--data", empty, "--region", "eu-central-1", "--ip", "10.1.2.3")
        self.assertIn("10.1.2.3 kinesis.eu-central-1.amazonaws.com", lines)
        self.assertIn("10.1.2.3 s3.amazonaws.com", lines)
        self.assertEqual(os.listdir(empty), [], "hosts must not create anything")

    def test_bad_arguments(self):
        self.hosts("--ip", "not-an-ip", rc=2)
        self.hosts("--region", "us east", rc=2)
        self.hosts("extra", rc=2)


if __name__ == "__main__":
    harness.main()
