#!/usr/bin/env python3
"""The EC2 instance metadata service on --imds-port: IMDSv1 and IMDSv2 through curl, the token
rules (TTL, 401, 405, 403), the documents, and botocore's own region and credential fetchers
pointed at it, up to a boto3 session with no credentials of its own whose default chain gets
the IMDS role credentials and signs Kinesis calls to tidepool with them.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_imds.py
"""

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, raw_request, tidepool_bin  # noqa: E402

REGION_HERE = "eu-central-1"   # not the default, so a hard-coded region would show
ACCOUNT_HERE = "123456789012"
IMDS_RE = re.compile(r"^tidepool IMDS ready on http://127\.0\.0\.1:(\d+)$")
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def imds_port(server, timeout=5.0):
    """The port on the line printed after the ready line (the harness keeps reading stdout)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in list(server.stdout_lines):
            m = IMDS_RE.match(line)
            if m:
                return int(m.group(1))
        if time.monotonic() > deadline:
            raise AssertionError(f"no IMDS ready line; stdout={server.stdout_lines!r}\n{server.log_tail()}")
        time.sleep(0.02)


def parse_iso(s):
    return datetime.datetime.strptime(s, ISO).replace(tzinfo=datetime.timezone.utc)


class ImdsCase(ServerTestCase):
    server_args = ("--imds-port", "0", "--region", REGION_HERE, "--account", ACCOUNT_HERE)

    @property
    def port(self):
        return imds_port(self.server)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def get(self, path, token=None, **headers):
        if token is not None:
            headers[TOKEN] = token
        return raw_request(self.port, "GET", path, headers=headers, timeout=10)

    def put_token(self, ttl="21600", **headers):
        if ttl is not None:
            headers[TTL] = ttl
        return raw_request(self.port, "PUT", "/latest/api/token", headers=headers, timeout=10)

    def token(self, ttl="21600"):
        r = self.put_token(ttl)
        self.assertEqual(r.status, 200, r)
        return r.body.decode()

    def assertText(self, resp, body):
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "text/plain", resp)
        self.assertEqual(resp.body.decode(), body)

    def assertErrorPage(self, resp, status, title):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.header("Content-Type"), "text/html", resp)
        self.assertIn(f"<title>{status} - {title}</title>", resp.body.decode())

    def curl(self, *args):
        """(status, {lower-case header: value}, body) of one curl request."""
        out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", *args], capture_output=True, check=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        return int(lines[0].split()[1]), headers, body.decode()


class ImdsHttpTest(ImdsCase):
    def test_v1_with_curl(self):
        status, headers, body = self.curl(f"{self.url}/latest/meta-data/placement/region")
        self.assertEqual((status, body), (200, REGION_HERE))
        self.assertEqual(headers["content-type"], "text/plain")
        status, _, body = self.curl(f"{self.url}/latest/meta-data/placement/availability-zone")
        self.assertEqual((status, body), (200, REGION_HERE + "a"))

    def test_v2_with_curl(self):
        status, headers, token = self.curl("-X", "PUT", "-H", f"{TTL}: 21600", f"{self.url}/latest/api/token")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain")
        self.assertEqual(headers[TTL.lower()], "21600")
        self.assertRegex(token, r"^[A-Za-z0-9+/=]{20,}$")
        status, _, body = self.curl("-H", f"{TOKEN}: {token}", f"{self.url}/latest/meta-data/placement/region")
        self.assertEqual((status, body), (200, REGION_HERE))
        status, _, body = self.curl("-H", f"{TOKEN}: {token}", f"{self.url}/latest/dynamic/instance-identity/document")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["region"], REGION_HERE)

    def test_listings(self):
        self.assertText(self.get("/latest/"), "dynamic\nmeta-data")
        self.assertText(self.get("/latest/meta-data/"),
                        "ami-id\nami-launch-index\nhostname\niam/\ninstance-id\ninstance-type\n"
                        "local-hostname\nlocal-ipv4\nplacement/")
        self.assertText(self.get("/latest/meta-data"), self.get("/latest/meta-data/").body.decode())
        self.assertText(self.get("/latest/meta-data/placement/"), "availability-zone\nregion")
        self.assertText(self.get("/latest/meta-data/iam/"), "info\nsecurity-credentials/")
        self.assertText(self.get("/latest/meta-data/iam/security-credentials/"), "tidepool")
        self.assertText(self.get("/latest/meta-data/iam/security-credentials-extended/"), "tidepool")
        self.assertText(self.get("/latest/dynamic/"), "instance-identity/")
        self.assertText(self.get("/latest/dynamic/instance-identity/"), "document")

    def test_leaves(self):
        # botocore asks for placement/availability-zone/ with the slash: EC2 ignores it
        self.assertText(self.get("/latest/meta-data/placement/availability-zone/"), REGION_HERE + "a")
        self.assertText(self.get("/latest/meta-data/placement/region"), REGION_HERE)
        self.assertRegex(self.get("/latest/meta-data/instance-id").body.decode(), r"^i-[0-9a-f]{17}$")
        self.assertRegex(self.get("/latest/meta-data/ami-id").body.decode(), r"^ami-[0-9a-f]{17}$")
        self.assertText(self.get("/latest/meta-data/ami-launch-index"), "0")
        self.assertRegex(self.get("/latest/meta-data/instance-type").body.decode(), r"^[a-z0-9]+\.[a-z0-9]+$")
        ip = self.get("/latest/meta-data/local-ipv4").body.decode()
        self.assertRegex(ip, r"^\d+\.\d+\.\d+\.\d+$")
        host = f"ip-{ip.replace('.', '-')}.{REGION_HERE}.compute.internal"
        self.assertText(self.get("/latest/meta-data/hostname"), host)
        self.assertText(self.get("/latest/meta-data/local-hostname"), host)

    def test_identity_document(self):
        r = self.get("/latest/dynamic/instance-identity/document", token=self.token())
        self.assertEqual(r.header("Content-Type"), "text/plain")  # JSON, served as text/plain as EC2 does
        doc = r.json()
        self.assertEqual(doc["region"], REGION_HERE)
        self.assertEqual(doc["availabilityZone"], REGION_HERE + "a")
        self.assertEqual(doc["accountId"], ACCOUNT_HERE)
        self.assertEqual(doc["version"], "2017-09-30")
        self.assertEqual(doc["instanceId"], self.get("/latest/meta-data/instance-id").body.decode())
        self.assertEqual(doc["imageId"], self.get("/latest/meta-data/ami-id").body.decode())
        self.assertEqual(doc["instanceType"], self.get("/latest/meta-data/instance-type").body.decode())
        self.assertEqual(doc["privateIp"], self.get("/latest/meta-data/local-ipv4").body.decode())
        self.assertIn(doc["architecture"], ("x86_64", "arm64"))
        parse_iso(doc["pendingTime"])
        # SDK v1's InstanceInfo requires kernelId to be present, even if null
        for key in ("kernelId", "ramdiskId", "billingProducts", "devpayProductCodes"):
            self.assertIn(key, doc)
            self.assertIsNone(doc[key])

    def check_credentials(self, doc):
        self.assertEqual(doc["Code"], "Success")
        self.assertEqual(doc["Type"], "AWS-HMAC")
        self.assertRegex(doc["AccessKeyId"], r"^ASIA[A-Z0-9]{16}$")
        self.assertEqual(len(doc["SecretAccessKey"]), 40)
        self.assertTrue(doc["Token"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLessEqual(parse_iso(doc["LastUpdated"]), now)
        left = parse_iso(doc["Expiration"]) - now
        self.assertGreaterEqual(left, datetime.timedelta(hours=5), doc)
        self.assertLessEqual(left, datetime.timedelta(hours=6, seconds=5), doc)

    def test_credentials(self):
        token = self.token()
        r = self.get("/latest/meta-data/iam/security-credentials/tidepool", token=token)
        self.assertEqual(r.header("Content-Type"), "text/plain")
        doc = r.json()
        self.check_credentials(doc)
        self.assertNotIn("AccountId", doc)
        ext = self.get("/latest/meta-data/iam/security-credentials-extended/tidepool", token=token).json()
        self.check_credentials(ext)
        self.assertEqual(ext["AccountId"], ACCOUNT_HERE)
        info = self.get("/latest/meta-data/iam/info").json()
        self.assertEqual(info["Code"], "Success")
        self.assertEqual(info["InstanceProfileArn"], f"arn:aws:iam::{ACCOUNT_HERE}:instance-profile/tidepool")
        self.assertRegex(info["InstanceProfileId"], r"^AIPA[A-Z0-9]{17}$")

    def test_token_ttl(self):
        for ttl in ("1", "21600", "60"):
            with self.subTest(ttl=ttl):
                r = self.put_token(ttl)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header(TTL), ttl)
                self.assertEqual(r.header("Content-Type"), "text/plain")
        for ttl in (None, "", "0", "21601", "abc", "-1", "1.5", "99999999999"):
            with self.subTest(ttl=ttl):
                self.assertErrorPage(self.put_token(ttl), 400, "Missing or Invalid Parameters")

    def test_bad_and_expired_tokens(self):
        token = self.token()
        self.assertText(self.get("/latest/meta-data/placement/region", token=token), REGION_HERE)
        flipped = ("B" if token[0] == "A" else "A") + token[1:]
        for bad in ("nonsense", flipped, token[:-4], ""):
            with self.subTest(token=bad):
                self.assertErrorPage(self.get("/latest/meta-data/placement/region", token=bad), 401, "Unauthorized")
        # a bad token is refused even where a tokenless request would get 404
        self.assertErrorPage(self.get("/latest/nope", token="nonsense"), 401, "Unauthorized")
        # a token of 2 s works at once and not after; on a loaded machine "at once" may come too late
        t0 = time.monotonic()
        short = self.token("2")
        r = self.get("/latest/meta-data/placement/region", token=short)
        if time.monotonic() - t0 < 1.5:
            self.assertText(r, REGION_HERE)
        time.sleep(max(0.0, t0 + 2.3 - time.monotonic()))
        self.assertErrorPage(self.get("/latest/meta-data/placement/region", token=short), 401, "Unauthorized")

    def test_methods(self):
        r = self.get("/latest/api/token")
        self.assertErrorPage(r, 405, "Method Not Allowed")
        self.assertEqual(r.header("Allow"), "OPTIONS, PUT")
        # a token request relayed by a proxy is refused
        self.assertErrorPage(self.put_token("60", **{"X-Forwarded-For": "10.0.0.1"}), 403, "Forbidden")
        # tokens come from /latest/ only
        r = raw_request(self.port, "PUT", "/2021-03-23/api/token", headers={TTL: "60"}, timeout=10)
        self.assertErrorPage(r, 403, "Forbidden")
        r = raw_request(self.port, "PUT", "/latest/meta-data/placement/region", headers={TTL: "60"}, timeout=10)
        self.assertErrorPage(r, 405, "Method Not Allowed")
        r = raw_request(self.port, "HEAD", "/latest/meta-data/placement/region", timeout=10)
        self.assertEqual((r.status, r.body), (200, b""))

    def test_not_found(self):
        for path in ("/latest/meta-data/nope", "/latest/meta-data/iam/security-credentials/other-role",
                     "/latest/meta-data/placement/region/x", "/latest/user-data",
                     "/latest/meta-data/instance-idx", "/nope"):
            with self.subTest(path=path):
                self.assertErrorPage(self.get(path), 404, "Not Found")

    def test_bad_option_value(self):
        r = subprocess.run([tidepool_bin(), "serve", "--in-memory", "--port", "0", "--imds-port", "70000"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid value '70000' for --imds-port", r.stderr)


class BotocoreTest(ImdsCase):
    """botocore's own IMDS clients, as the credential and region chains use them."""

    def fetcher_kw(self):
        # env={}: the harness sets AWS_EC2_METADATA_DISABLED=true for every other test
        return {"timeout": 5, "num_attempts": 1, "env": {}, "config": {"ec2_metadata_service_endpoint": self.url}}

    def test_region_fetcher(self):
        from botocore.utils import InstanceMetadataRegionFetcher

        self.assertEqual(InstanceMetadataRegionFetcher(**self.fetcher_kw()).retrieve_region(), REGION_HERE)
        kw = self.fetcher_kw()
        del kw["config"]
        self.assertEqual(InstanceMetadataRegionFetcher(base_url=self.url, **kw).retrieve_region(), REGION_HERE)

    def test_region_fetcher_imdsv2_only(self):
        from botocore.utils import InstanceMetadataRegionFetcher

        kw = self.fetcher_kw()
        kw["config"]["ec2_metadata_v1_disabled"] = True  # fails unless the token path works
        self.assertEqual(InstanceMetadataRegionFetcher(**kw).retrieve_region(), REGION_HERE)

    def test_role_credentials(self):
        from botocore.utils import InstanceMetadataFetcher

        creds = InstanceMetadataFetcher(**self.fetcher_kw()).retrieve_iam_role_credentials()
        doc = self.get("/latest/meta-data/iam/security-credentials/tidepool").json()
        self.assertEqual(creds, {"role_name": "tidepool", "access_key": doc["AccessKeyId"],
                                 "secret_key": doc["SecretAccessKey"], "token": doc["Token"],
                                 "expiry_time": doc["Expiration"]})

    CHAIN_SCRIPT = r"""
import json, sys
import boto3, botocore.session
from botocore.config import Config
from botocore.utils import IMDSRegionProvider

core = botocore.session.get_session()
region = IMDSRegionProvider(core).provide()
session = boto3.session.Session(botocore_session=core, region_name=region)
creds = session.get_credentials()
kinesis = session.client("kinesis", endpoint_url=sys.argv[1],
                         config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
kinesis.create_stream(StreamName="imds-chain", ShardCount=1)
summary = kinesis.describe_stream_summary(StreamName="imds-chain")["StreamDescriptionSummary"]
print(json.dumps({"region": region, "method": creds.method, "access_key": creds.access_key,
                  "token": creds.token, "streams": kinesis.list_streams()["StreamNames"],
                  "arn": summary["StreamARN"]}))
"""

    def test_default_chain_reaches_imds(self):
        """Nothing but AWS_EC2_METADATA_SERVICE_ENDPOINT: region and credentials both come from the
        IMDS, and tidepool takes the requests they sign."""
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "BOTO_CONFIG"}
            env.update({"HOME": home, "AWS_CONFIG_FILE": os.path.join(home, "config"),
                        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url})
            r = subprocess.run([sys.executable, "-c", self.CHAIN_SCRIPT, self.server.endpoint],
                               env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        doc = self.get("/latest/meta-data/iam/security-credentials/tidepool").json()
        self.assertEqual(out["region"], REGION_HERE)
        self.assertEqual(out["method"], "iam-role")
        self.assertEqual((out["access_key"], out["token"]), (doc["AccessKeyId"], doc["Token"]))
        self.assertIn("imds-chain", out["streams"])
        self.assertEqual(out["arn"], f"arn:aws:kinesis:{REGION_HERE}:{ACCOUNT_HERE}:stream/imds-chain")


class RestartTest(ImdsCase):
    def test_instance_id_survives_restart_tokens_do_not(self):
        instance = self.get("/latest/meta-data/instance-id").body.decode()
        token = self.token()
        self.server.restart()
        type(self).kinesis = self.server.client()
        self.assertText(self.get("/latest/meta-data/instance-id"), instance)
        self.assertErrorPage(self.get("/latest/meta-data/instance-id", token=token), 401, "Unauthorized")


if __name__ == "__main__":
    harness.main()
