"""Helpers for the Firehose end-to-end tests (test_firehose.py, test_firehose_engine.py).

  * configuration builders (ARNs, Lambda processors),
  * reading what a delivery stream wrote to S3: every object of a prefix, decoded by its
    Content-Encoding (gzip, zip, snappy-java, hadoop-snappy: a small raw-snappy decoder, so
    no extra Python package is needed),
  * bounded polling (of S3 and of GET /_tidepool/firehose),
  * Lambda hooks: python3 scripts for `exec:` hooks and an http.server for `http:` hooks,
  * KPL aggregation through the npm package aws-kinesis-agg (js/kpl_aggregate.mjs).

Every wait here has a deadline; none sleeps a fixed long time.
"""

import base64
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import ACCOUNT, REGION

HERE = Path(__file__).resolve().parent
JS_DIR = HERE / "js"

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/firehose-delivery"
DESTINATION_ID = "destinationId-000000000001"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The suffix of every delivered key: <name>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>
SUFFIX_TIME_RE = r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})"
DEFAULT_WAIT_S = 40.0


def bucket_arn(bucket):
    return f"arn:aws:s3:::{bucket}"


def firehose_arn(name, region=REGION):
    return f"arn:aws:firehose:{region}:{ACCOUNT}:deliverystream/{name}"


def lambda_arn(function, region=REGION):
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function}"


def s3_dest(bucket, **kw):
    """An ExtendedS3DestinationConfiguration."""
    d = {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket)}
    d.update(kw)
    return d


def hints(interval=1, size=5):
    return {"SizeInMBs": size, "IntervalInSeconds": interval}


def lambda_processing(arn, retries=None, interval=1, size_mb=None, delimiter=False):
    params = [{"ParameterName": "LambdaArn", "ParameterValue": arn}]
    if retries is not None:
        params.append({"ParameterName": "NumberOfRetries", "ParameterValue": str(retries)})
    if size_mb is not None:
        params.append({"ParameterName": "BufferSizeInMBs", "ParameterValue": str(size_mb)})
    if interval is not None:
        params.append({"ParameterName": "BufferIntervalInSeconds", "ParameterValue": str(interval)})
    procs = [{"Type": "Lambda", "Parameters": params}]
    if delimiter:
        procs.append({"Type": "AppendDelimiterToRecord", "Parameters": []})
    return {"Enabled": True, "Processors": procs}


def delimiter_processing():
    return {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": []}]}


def key_regex(prefix_re, name, version, ext_re=""):
    """A compiled regex for a delivered key; groups: the suffix's yyyy, MM, dd, HH, mm, ss."""
    return re.compile(rf"^{prefix_re}{re.escape(name)}-{version}-{SUFFIX_TIME_RE}-{UUID_RE}{ext_re}$")


# --------------------------------------------------------------------------------------------
# Decoding delivered objects
# --------------------------------------------------------------------------------------------
def _varint(buf, pos):
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def snappy_raw_decompress(buf):
    """One raw snappy block (format_description.txt of google/snappy)."""
    n, pos = _varint(buf, 0)
    out = bytearray()
    while pos < len(buf):
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(buf[pos:pos + nb], "little")
                pos += nb
            ln += 1
            if pos + ln > len(buf):
                raise ValueError("snappy literal runs past the block")
            out += buf[pos:pos + ln]
            pos += ln
            continue
        if kind == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif kind == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 2], "little")
            pos += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise ValueError(f"snappy copy offset {off} outside the {len(out)} bytes decoded so far")
        for _ in range(ln):
            out.append(out[-off])
    if len(out) != n:
        raise ValueError(f"snappy block says {n} bytes, decoded {len(out)}")
    return bytes(out)


SNAPPY_JAVA_HEADER = b"\x82SNAPPY\x00" + (1).to_bytes(4, "big") + (1).to_bytes(4, "big")


def snappy_java_decode(body):
    """xerial snappy-java SnappyOutputStream: 16-byte header, then (int32 BE length, block)*."""
    if body[:16] != SNAPPY_JAVA_HEADER:
        raise ValueError(f"not a snappy-java stream: {body[:16]!r}")
    pos, out = 16, bytearray()
    while pos < len(body):
        ln = int.from_bytes(body[pos:pos + 4], "big")
        pos += 4
        out += snappy_raw_decompress(body[pos:pos + ln])
        pos += ln
    return bytes(out)


def hadoop_snappy_decode(body):
    """Hadoop BlockCompressorStream (SnappyCodec): (int32 BE raw length, (int32 BE length, block)+)*."""
    pos, out = 0, bytearray()
    while pos < len(body):
        raw_len = int.from_bytes(body[pos:pos + 4], "big")
        pos += 4
        got = 0
        while got < raw_len:
            ln = int.from_bytes(body[pos:pos + 4], "big")
            pos += 4
            block = snappy_raw_decompress(body[pos:pos + ln])
            pos += ln
            got += len(block)
            out += block
        if got != raw_len:
            raise ValueError(f"hadoop-snappy block says {raw_len} bytes, decoded {got}")
    return bytes(out)


def zip_decode(body):
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = z.namelist()
        if len(names) != 1:
            raise ValueError(f"a Firehose ZIP object holds one entry, this one {names}")
        return z.read(names[0])


DECODERS = {
    None: lambda b: b,
    "gzip": gzip.decompress,
    "zip": zip_decode,
    "snappy-java": snappy_java_decode,
    "hadoop-snappy": hadoop_snappy_decode,
}


class S3Object:
    def __init__(self, key, raw, content_type, content_encoding, size):
        self.key = key
        self.raw = raw
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.size = size
        self.data = DECODERS[content_encoding](raw)

    def __repr__(self):
        return f"<S3Object {self.key} {self.content_encoding} {len(self.data)} bytes>"


def list_keys(s3, bucket, prefix=""):
    keys, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        token = r.get("NextContinuationToken")
        if not token:
            return keys


def read_objects(s3, bucket, prefix="", cache=None):
    """Every object under prefix, decoded, in key order. cache: {key: S3Object} to reuse."""
    out = []
    for key in sorted(list_keys(s3, bucket, prefix)):
        if cache is not None and key in cache:
            out.append(cache[key])
            continue
        r = s3.get_object(Bucket=bucket, Key=key)
        body = r["Body"].read()
        obj = S3Object(key, body, r.get("ContentType"), r.get("ContentEncoding"), r["ContentLength"])
        if cache is not None:
            cache[key] = obj
        out.append(obj)
    return out


def wait_until(pred, timeout=DEFAULT_WAIT_S, interval=0.1, what="condition"):
    """Polls pred() until it returns something truthy; returns that. Fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def firehose_status(server):
    r = server.raw("GET", "/_tidepool/firehose")
    if r.status != 200:
        raise AssertionError(f"GET /_tidepool/firehose: {r}")
    return {d["DeliveryStreamName"]: d for d in r.json()["DeliveryStreams"]}


def wait_objects(server, s3, bucket, prefix, count_records, n_records, stream=None, timeout=DEFAULT_WAIT_S):
    """Waits until the objects under prefix hold at least n_records records (count_records(obj) says
    how many one object holds), then, when stream is given, until that delivery stream has
    nothing buffered, and reads the objects once more: what a late duplicate would add shows."""
    cache = {}
    holder = {}

    def enough():
        objs = read_objects(s3, bucket, prefix, cache)
        holder["objs"] = objs
        return sum(count_records(o) for o in objs) >= n_records

    try:
        wait_until(enough, timeout, 0.1, f"{n_records} records under s3://{bucket}/{prefix}")
    except AssertionError as e:
        objs = holder.get("objs", [])
        status = firehose_status(server)
        raise AssertionError(f"{e}; found {sum(count_records(o) for o in objs)} in {len(objs)} objects; "
                             f"/_tidepool/firehose: {status.get(stream, status)}") from None
    if stream is not None:
        wait_until(lambda: firehose_status(server).get(stream, {}).get("BufferedRecords", 0) == 0,
                   timeout, 0.1, f"{stream} to have nothing buffered")
    return read_objects(s3, bucket, prefix, cache)


def lines_of(obj):
    """Newline-separated records of an object (AppendDelimiterToRecord: LF between records)."""
    return obj.data.split(b"\n") if obj.data else []


def wait_active(fh, name, timeout=DEFAULT_WAIT_S):
    return wait_until(
        lambda: fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] == "ACTIVE", timeout, 0.05, f"{name} ACTIVE")


# --------------------------------------------------------------------------------------------
# Lambda hooks
# --------------------------------------------------------------------------------------------
HOOK_HEADER = """import base64, json, os, sys
event = json.load(sys.stdin)
LOG = os.environ.get("HOOK_LOG") or {log!r}
if LOG:
    with open(LOG, "a") as f:
        f.write(json.dumps(event) + "\\n")
def b64d(s): return base64.b64decode(s)
def b64e(b): return base64.b64encode(b).decode()
"""

# Every record Ok, its data upper-cased.
HOOK_UPPER = HOOK_HEADER + """
out = [{"recordId": r["recordId"], "result": "Ok", "data": b64e(b64d(r["data"]).upper())} for r in event["records"]]
json.dump({"records": out}, sys.stdout)
"""

# Every record Ok, unchanged (the event is logged).
HOOK_ECHO = HOOK_HEADER + """
out = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]
json.dump({"records": out}, sys.stdout)
"""

# Per record by its data: drop-* Dropped, fail-* ProcessingFailed, else Ok as "T:" + data.
HOOK_DECIDE = HOOK_HEADER + """
out = []
for r in event["records"]:
    d = b64d(r["data"])
    if d.startswith(b"drop-"):
        out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
    elif d.startswith(b"fail-"):
        out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
    else:
        out.append({"recordId": r["recordId"], "result": "Ok", "data": b64e(b"T:" + d)})
json.dump({"records": out}, sys.stdout)
"""


def write_hook(directory, name, source, log=None):
    path = os.path.join(directory, f"{name}.py")
    with open(path, "w") as f:
        f.write(source.replace("{log!r}", repr(log)))
    return path


def exec_hook(script):
    return f"exec:{sys.executable} {script}"


def read_events(log_path):
    try:
        with open(log_path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class HookHTTPServer:
    """An http: hook endpoint on 127.0.0.1 in a thread. routes: {path: fn(event) -> (status,
    headers dict, body bytes)}. Every request is logged as (path, headers, event)."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), event))
                fn = outer.routes.get(self.path)
                if fn is None:
                    status, headers, out = 404, {}, b'{"message":"no such route"}'
                else:
                    status, headers, out = fn(event)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_for(self, path):
        with self.lock:
            return [r for r in self.requests if r[0] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok_response(event, transform):
    out = [{"recordId": r["recordId"], "result": "Ok",
            "data": base64.b64encode(transform(base64.b64decode(r["data"]))).decode()} for r in event["records"]]
    return 200, {}, json.dumps({"records": out}).encode()


# --------------------------------------------------------------------------------------------
# KPL aggregation (npm aws-kinesis-agg)
# --------------------------------------------------------------------------------------------
def kpl_available():
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / "aws-kinesis-agg" / "package.json").exists()


def skip_unless_kpl(test):
    """Skips (a failure under TIDEPOOL_NO_SKIP=1, see harness.main) without node or aws-kinesis-agg."""
    if not kpl_available():
        raise unittest.SkipTest("node or tests/integration/js/node_modules/aws-kinesis-agg missing "
                                "(run `npm ci` in tests/integration/js)")


def kpl_aggregate(groups):
    """groups: [[(partition_key, data bytes), ...], ...] -> [(outer partition key, aggregated bytes)]."""
    payload = json.dumps([[{"partitionKey": pk, "data": base64.b64encode(d).decode()} for pk, d in g]
                          for g in groups])
    r = subprocess.run(["node", str(JS_DIR / "kpl_aggregate.mjs")], input=payload.encode(),
                       capture_output=True, timeout=60, cwd=str(JS_DIR))
    if r.returncode != 0:
        raise AssertionError(f"kpl_aggregate.mjs failed ({r.returncode}): {r.stderr.decode()}")
    return [(x["partitionKey"], base64.b64decode(x["data"])) for x in json.loads(r.stdout)]
