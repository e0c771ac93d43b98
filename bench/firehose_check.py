#!/usr/bin/env python3
"""Helpers for bench/firehose.sh (standard library only). Subcommands:

  bodies OUTDIR STREAM BATCH NBATCH RECORD_BYTES
      Writes OUTDIR/putrecords-<b>.json (b < NBATCH): PutRecords bodies of
      BATCH records each. A record is RECORD_BYTES of JSON-like text, one
      JSON object padded with random words and ending in "\\n", and names
      itself ("id":"b<b>-r<i>"), so every record of every body differs.
      Partition keys all differ (every shard gets records).

  poll PORT NAME OUTFILE PERIOD_MS
      Until killed, GETs /_tidepool/firehose every PERIOD_MS and appends one
      line per sample for delivery stream NAME:
      t_s objects records buffered_records buffered_bytes last_delivery_s last_error
      (times in Unix seconds; last_delivery_s 0 when none; last_error "-").

  analyze SAMPLES SIZE_BYTES RECORD_BYTES T0 T_PUT_END STORED
      Reads poll's samples and prints key=value lines: each delivery (from
      the steps of the objects count; its time is LastDeliveryTimestamp),
      which of them were full (raw bytes >= SIZE_BYTES), the last full one,
      when the engine had read every stored record (delivered + buffered
      >= STORED), and what was delivered and buffered when the puts ended.

  verify PORT BUCKET PREFIX BODIES NBATCH RECORD_BYTES
      Lists BUCKET under PREFIX, GETs every object and checks its key
      (<prefix>YYYY/MM/dd/HH/<name>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>.gz),
      ETag (MD5 of the body) and gzip stream (several concatenated members
      are accepted and counted); cuts the gunzipped bytes into
      RECORD_BYTES pieces and looks each up among the records of the bodies.
      Every request carries all the records of its body, so within a body
      every record must have been delivered the same number of times: a
      record lost or delivered twice shows up as a body whose counts
      differ. Prints key=value lines.

  lag PORT RECORD_BYTES SECONDS PERIOD_MS TIMEOUT_S STREAM:BUCKET:PREFIX:INTERVAL...
      For every delivery stream at once: one PutRecord (a RECORD_BYTES
      JSON-like record naming itself) to STREAM every PERIOD_MS for SECONDS,
      noting when each was sent, while another thread lists BUCKET under
      PREFIX every 50 ms. A new object is fetched and gunzipped at once. Its
      lag is the time it was first listed minus the send time of its oldest
      record; a record's lag, first listed minus its own send time. Stops when
      every record was seen, or TIMEOUT_S after the last put. Prints one
      key=value line per interval.
"""
import base64
import gzip
import hashlib
import http.client
import json
import os
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

AUTH = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00")
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu checkout cart product search login "
         "logout session click view scroll order payment shipping refund invoice customer account profile "
         "settings banner campaign email mobile desktop tablet android ios chrome firefox safari edge linux "
         "windows macos berlin paris london tokyo sydney toronto madrid rome vienna oslo warning info debug "
         "error timeout retry latency cache miss hit queue worker batch stream shard record bucket object").split()
EVENTS = ["page_view", "click", "add_to_cart", "purchase", "search", "login", "logout", "scroll"]
COUNTRIES = ["DE", "FR", "GB", "US", "JP", "AU", "CA", "ES", "IT", "AT", "NO", "BR"]


def make_record(rng, rid, size, ts):
    """One JSON object of exactly `size` bytes (including the final newline)."""
    head = {
        "id": rid,
        "ts": ts,
        "user": {"id": rng.randrange(1, 10 ** 6), "country": rng.choice(COUNTRIES)},
        "event": rng.choice(EVENTS),
        "path": "/products/%s/%d" % (rng.choice(WORDS), rng.randrange(10 ** 5)),
        "session": "%032x" % rng.getrandbits(128),
        "ua": "Mozilla/5.0 (%s) %s/%d.0" % (rng.choice(["X11; Linux x86_64", "Windows NT 10.0; Win64; x64",
                                                          "Macintosh; Intel Mac OS X 14_4"]),
                                             rng.choice(["Chrome", "Firefox", "Safari"]), rng.randrange(90, 130)),
        "amount": round(rng.uniform(0, 500), 2),
        "text": "",
    }
    base = len(json.dumps(head, separators=(",", ":"))) + 1  # + "\n"
    if base > size:
        sys.exit("firehose_check.py: records of %d bytes are too small (at least %d)" % (size, base))
    words = []
    n = 0
    while n < size - base:
        w = rng.choice(WORDS)
        words.append(w)
        n += len(w) + 1
    text = " ".join(words)[:size - base]
    head["text"] = text.ljust(size - base)
    out = (json.dumps(head, separators=(",", ":")) + "\n").encode()
    assert len(out) == size, (len(out), size)
    return out


# ---- HTTP ----

class Client:
    def __init__(self, port, timeout=30):
        self.port = port
        self.timeout = timeout
        self.c = None

    def req(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt:
                    raise

    def kinesis(self, op, obj):
        return self.req("POST", "/", json.dumps(obj), {
            "X-Amz-Target": "Kinesis_20131202." + op, "Content-Type": "application/x-amz-json-1.1",
            "Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})

    def list_objects(self, bucket, prefix):
        """(key, size, etag) of every object under prefix."""
        out, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
            if token:
                q["continuation-token"] = token
            st, _, body = self.req("GET", "/%s?%s" % (bucket, urllib.parse.urlencode(q)))
            if st != 200:
                raise RuntimeError("ListObjectsV2 %s: HTTP %d %s" % (bucket, st, body[:300]))
            root = ET.fromstring(body)
            for c in root.findall(S3NS + "Contents"):
                out.append((c.find(S3NS + "Key").text, int(c.find(S3NS + "Size").text),
                            c.find(S3NS + "ETag").text.strip('"')))
            if root.findtext(S3NS + "IsTruncated") != "true":
                return out
            token = root.findtext(S3NS + "NextContinuationToken")

    def get_object(self, bucket, key):
        st, hdr, body = self.req("GET", "/%s/%s" % (bucket, urllib.parse.quote(key)))
        if st != 200:
            raise RuntimeError("GET %s: HTTP %d %s" % (key, st, body[:300]))
        return hdr, body


def kv(**d):
    print(" ".join("%s=%s" % (k, v) for k, v in d.items()))


# ---- bodies ----

def cmd_bodies(outdir, stream, batch, nbatch, size):
    batch, nbatch, size = int(batch), int(nbatch), int(size)
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20260101)
    for b in range(nbatch):
        recs = []
        for i in range(batch):
            ts = "2026-01-01T%02d:%02d:%02d.%03dZ" % (b % 24, i // 60 % 60, i % 60, rng.randrange(1000))
            data = make_record(rng, "b%d-r%d" % (b, i), size, ts)
            recs.append({"Data": base64.b64encode(data).decode(), "PartitionKey": "pk-%d-%d" % (b, i)})
        with open(os.path.join(outdir, "putrecords-%d.json" % b), "w") as f:
            json.dump({"StreamName": stream, "Records": recs}, f, separators=(",", ":"))


# ---- poll ----

def cmd_poll(port, name, outfile, period_ms):
    cl = Client(int(port), timeout=5)
    period = int(period_ms) / 1000
    with open(outfile, "a", buffering=1) as f:
        nxt = time.time()
        while True:
            t = time.time()
            try:
                st, _, body = cl.req("GET", "/_tidepool/firehose")
                for d in json.loads(body)["DeliveryStreams"] if st == 200 else []:
                    if d["DeliveryStreamName"] != name:
                        continue
                    err = d.get("LastError") or "-"
                    f.write("%.3f %d %d %d %d %.3f %s\n" % (
                        t, d["DeliveredObjects"], d["DeliveredRecords"], d["BufferedRecords"], d["BufferedBytes"],
                        d.get("LastDeliveryTimestamp") or 0, err.replace("\n", " ")))
            except (OSError, ValueError, KeyError, http.client.HTTPException):
                pass
            nxt += period
            time.sleep(max(0, nxt - time.time()))


# ---- analyze ----

def cmd_analyze(samples, size_bytes, record_bytes, t0, t_put_end, stored):
    size_bytes, record_bytes, stored = int(size_bytes), int(record_bytes), int(stored)
    t0, t_put_end = float(t0), float(t_put_end)
    rows = []
    with open(samples) as f:
        for line in f:
            p = line.split(" ", 6)
            if len(p) == 7:
                rows.append((float(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4]), float(p[5])))
    deliveries = []  # (time, records, objects in the step)
    prev = (0, 0)
    for t, objs, recs, _, _, last in rows:
        if objs > prev[0]:
            deliveries.append((last, recs - prev[1], objs - prev[0]))
        prev = (objs, recs)
    full_records = size_bytes // record_bytes + (size_bytes % record_bytes > 0)
    full = [d for d in deliveries if d[1] >= full_records * d[2]]
    caught = next((r[0] for r in rows if r[2] + r[3] >= stored), 0)
    at_end = next((r for r in rows if r[0] >= t_put_end), rows[-1] if rows else (0,) * 6)
    last_full_t = full[-1][0] if full else 0
    full_recs = sum(d[1] for d in full)
    # records delivered in full objects up to the last full one
    upto = sum(d[1] for d in deliveries if d[0] <= last_full_t) if full else 0
    kv(samples=len(rows), deliveries=len(deliveries), full_deliveries=len(full), full_records=full_recs,
       records_to_last_full=upto, last_full_s=("%.3f" % (last_full_t - t0)) if full else "n/a",
       caught_up_s=("%.3f" % (caught - t0)) if caught else "n/a",
       delivered_at_put_end=at_end[2], read_at_put_end=at_end[2] + at_end[3],
       last_delivery_s="%.3f" % (deliveries[-1][0] - t0) if deliveries else "n/a",
       delivery_sizes=",".join(str(d[1]) for d in deliveries) or "-",
       delivery_times=",".join("%.2f" % (d[0] - t0) for d in deliveries) or "-",
       max_gap_s="%.2f" % max((b[0] - a[0] for a, b in zip(rows, rows[1:])), default=0))


# ---- verify ----

KEY_RE = re.compile(r"^(?P<prefix>.*?)(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/(?P<h>\d\d)/(?P<name>.+)-(?P<ver>\d+)-"
                    r"(?P=y)-(?P=m)-(?P=d)-(?P=h)-\d\d-\d\d-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{12}\.gz$")


def cmd_verify(port, bucket, prefix, bodies, nbatch, record_bytes):
    nbatch, size = int(nbatch), int(record_bytes)
    known = {}
    per_body = 0
    for b in range(nbatch):
        with open(os.path.join(bodies, "putrecords-%d.json" % b)) as f:
            recs = json.load(f)["Records"]
        per_body = len(recs)
        for i, r in enumerate(recs):
            known[base64.b64decode(r["Data"])] = b * per_body + i
    counts = [0] * (nbatch * per_body)
    cl = Client(int(port), timeout=120)
    objs = cl.list_objects(bucket, prefix)
    t = time.time()
    raw = stored = unknown = ragged = badkey = badetag = badgzip = records = members = 0
    problems = []
    per_object = []
    for key, size_listed, etag in objs:
        hdr, body = cl.get_object(bucket, key)
        stored += len(body)
        if not KEY_RE.match(key) or not key.startswith(prefix):
            badkey += 1
            problems.append("key %s does not look like a Firehose key" % key)
        if hashlib.md5(body).hexdigest() != etag or len(body) != size_listed:
            badetag += 1
            problems.append("%s: ETag/size do not match the body" % key)
        try:
            # one gzip member is what the engine writes; several (concatenated,
            # as gzip allows) are accepted and counted
            parts, rest = [], body
            while True:
                d = zlib.decompressobj(wbits=31)
                parts.append(d.decompress(rest) + d.flush())
                if not d.eof:
                    raise zlib.error("truncated gzip stream")
                members += 1
                rest = d.unused_data
                if not rest:
                    break
            data = b"".join(parts)
        except zlib.error as e:
            badgzip += 1
            problems.append("%s: not one gzip stream (%s)" % (key, e))
            continue
        raw += len(data)
        if len(data) % size:
            ragged += 1
            problems.append("%s: %d bytes is not a whole number of %d-byte records" % (key, len(data), size))
        n = 0
        for off in range(0, len(data) - size + 1, size):
            ix = known.get(data[off:off + size])
            if ix is None:
                unknown += 1
                if unknown <= 3:
                    problems.append("%s: record at offset %d is none of the records put: %r" %
                                    (key, off, data[off:off + 60]))
            else:
                counts[ix] += 1
            n += 1
        records += n
        per_object.append(n)
    bad_bodies = []
    for b in range(nbatch):
        c = counts[b * per_body:(b + 1) * per_body]
        if min(c) != max(c):
            bad_bodies.append("body %d: counts %d..%d" % (b, min(c), max(c)))
    problems += bad_bodies[:3]
    kv(objects=len(objs), stored_bytes=stored, raw_bytes=raw, records=records, unknown=unknown, ragged=ragged,
       badkey=badkey, badetag=badetag, badgzip=badgzip, gzip_members=members, uneven_bodies=len(bad_bodies),
       content_encoding=(hdr.get("content-encoding", "none") if objs else "n/a"),
       per_object=",".join(map(str, per_object)) or "-", seconds="%.1f" % (time.time() - t))
    for p in problems[:8]:
        print("problem: " + p)


# ---- lag ----

class LagRun:
    def __init__(self, port, stream, bucket, prefix, interval, size, seconds, period):
        self.port, self.stream, self.bucket, self.prefix = port, stream, bucket, prefix
        self.interval, self.size, self.seconds, self.period = interval, size, seconds, period
        self.sent = {}       # n -> send time
        self.objects = []    # (first_seen, key, [n...])
        self.seen = {}       # n -> count
        self.errors = []
        self.put_done = None
        self.stop = False

    def putter(self):
        cl = Client(self.port)
        rng = random.Random(self.interval)
        t_start = time.time()
        n = 0
        while True:
            due = t_start + n * self.period
            if due - t_start >= self.seconds:
                break
            time.sleep(max(0, due - time.time()))
            data = make_record(rng, "lag%s-%d" % (self.interval, n), self.size, "%.3f" % time.time())
            t = time.time()
            try:
                st, _, body = cl.kinesis("PutRecord", {"StreamName": self.stream, "PartitionKey": "k-%d" % n,
                                                       "Data": base64.b64encode(data).decode()})
            except OSError as e:
                st, body = 0, str(e).encode()
            if st == 200:
                self.sent[n] = t
            else:
                self.errors.append("PutRecord %d: HTTP %d %s" % (n, st, body[:200]))
            n += 1
        self.put_done = time.time()

    def lister(self, timeout):
        cl = Client(self.port)
        known = set()
        rx = re.compile(rb'"id":"lag[^-"]*-(\d+)"')
        while not self.stop:
            t = time.time()
            try:
                keys = cl.list_objects(self.bucket, self.prefix)
            except (OSError, RuntimeError) as e:
                self.errors.append(str(e))
                keys = []
            for key, _, _ in keys:
                if key in known:
                    continue
                known.add(key)
                try:
                    _, body = cl.get_object(self.bucket, key)
                    data = gzip.decompress(body)
                except (OSError, RuntimeError, zlib.error, EOFError) as e:
                    self.errors.append("%s: %s" % (key, e))
                    continue
                ns = [int(m) for m in rx.findall(data)]
                if len(data) != len(ns) * self.size:
                    self.errors.append("%s: %d bytes for %d records" % (key, len(data), len(ns)))
                for x in ns:
                    self.seen[x] = self.seen.get(x, 0) + 1
                self.objects.append((t, key, ns))
            if self.put_done and (len(self.seen) >= len(self.sent) or time.time() > self.put_done + timeout):
                return
            time.sleep(max(0, t + 0.05 - time.time()))

    def result(self):
        obj_lag = [t - min(self.sent[x] for x in ns) for t, _, ns in self.objects if ns and
                   all(x in self.sent for x in ns)]
        rec_lag = []
        for t, _, ns in self.objects:
            rec_lag += [t - self.sent[x] for x in ns if x in self.sent]
        missing = len([x for x in self.sent if x not in self.seen])
        dup = sum(c - 1 for c in self.seen.values() if c > 1)
        extra = len([x for x in self.seen if x not in self.sent])

        def f(v):
            return "%.2f" % v if v is not None else "n/a"
        med = statistics.median
        return dict(
            interval=self.interval, put=len(self.sent), seen=len(self.seen), missing=missing, duplicates=dup,
            unacked_seen=extra, objects=len(self.objects),
            obj_lag_med=f(med(obj_lag) if obj_lag else None), obj_lag_max=f(max(obj_lag) if obj_lag else None),
            obj_lag_min=f(min(obj_lag) if obj_lag else None),
            rec_lag_med=f(med(rec_lag) if rec_lag else None), rec_lag_max=f(max(rec_lag) if rec_lag else None),
            per_object=",".join(str(len(ns)) for _, _, ns in self.objects) or "-",
            errors=len(self.errors))


def cmd_lag(port, record_bytes, seconds, period_ms, timeout, *specs):
    runs = []
    for s in specs:
        stream, bucket, prefix, interval = s.split(":")
        runs.append(LagRun(int(port), stream, bucket, prefix, interval, int(record_bytes), float(seconds),
                           int(period_ms) / 1000))
    threads = []
    for r in runs:
        threads.append(threading.Thread(target=r.putter))
        threads.append(threading.Thread(target=r.lister, args=(float(timeout),)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in runs:
        kv(**r.result())
        for e in r.errors[:3]:
            print("problem: interval %s: %s" % (r.interval, e))


def main():
    cmds = {"bodies": cmd_bodies, "poll": cmd_poll, "analyze": cmd_analyze, "verify": cmd_verify, "lag": cmd_lag}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
