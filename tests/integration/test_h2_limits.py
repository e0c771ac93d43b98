#!/usr/bin/env python3
"""HTTP/2 must not buffer without bounds (issue 10, item 5): once, 20 unfinished 30 MiB bodies on
one connection took the server to 637 MB, because nghttp2 refreshed every window as data arrived.
Now a stream's window comes back only as its bytes are consumed, within a per-connection and a
per-process budget, while large bodies that do finish still flow and oversized ones get 413.

A raw HTTP/2 client (h2_raw.py) plays the peer, since no SDK leaves bodies unfinished on purpose.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_h2_limits.py
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from h2_raw import H2Connection  # noqa: E402
from harness import ServerTestCase  # noqa: E402

MiB = 1024 * 1024
KINESIS = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "Kinesis_20131202.PutRecords"),
           ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                             "SignedHeaders=host, Signature=00"), ("x-amz-date", "20260101T000000Z")]
# What one connection may make the server hold: the 64 MiB connection budget, one leader body
# (32 MiB), and 1 MiB of window per stream. Before the fix a peer could send all it wanted.
BOUND = 64 * MiB + 32 * MiB + 20 * MiB + 2 * MiB


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class H2LimitsTest(ServerTestCase):
    in_memory = True

    def connect(self):
        c = H2Connection(self.server.port)
        self.addCleanup(c.close)
        c.poll(1.0)  # the server's SETTINGS (stream window) and connection WINDOW_UPDATE
        return c

    def test_unfinished_bodies_are_bounded_per_connection(self):
        before = rss_bytes(self.server.proc.pid)
        c = self.connect()
        streams = [c.request("POST", "/", KINESIS + [("content-length", str(30 * MiB))]) for _ in range(20)]
        chunk = b"x" * (256 * 1024)
        per_stream = dict.fromkeys(streams, 0)
        last_progress = time.monotonic()
        # Send wherever the windows allow, never a body's last byte, until the server stops
        # opening windows for 3 s.
        while time.monotonic() - last_progress < 3:
            moved = 0
            for sid in streams:
                room = 30 * MiB - 1 - per_stream[sid]
                if room > 0 and sid not in c.closed:
                    n = c.send_data(sid, chunk[:room])
                    per_stream[sid] += n
                    moved += n
            if moved:
                last_progress = time.monotonic()
            elif not c.poll(0.2):
                break
        self.assertEqual(c.closed, {}, "no stream may be answered or reset: every body is still unfinished")
        sent = sum(per_stream.values())
        grown = rss_bytes(self.server.proc.pid) - before
        print(f"  the peer could send {sent / MiB:.1f} MiB of unfinished bodies; server RSS +{grown / MiB:.1f} MiB",
              file=sys.stderr)
        # What was sent is what the server holds (every byte went into a body); RSS is printed
        # only, as an ASan build's quarantine inflates it.
        self.assertLess(sent, BOUND, "the server kept opening windows for bodies that never end")
        # Other connections are served meanwhile, and the server survives the peer leaving.
        r = self.server.raw("GET", "/_tidepool/health")
        self.assertEqual(r.status, 200)
        c.close()
        self.assertServerAlive()

    def test_large_bodies_that_finish_still_flow(self):
        c = self.connect()
        sid = c.request("POST", "/", KINESIS)
        body = b"{" + b" " * (20 * MiB)  # 20 MiB of broken JSON: the window must keep reopening
        self.assertEqual(c.send_all(sid, body), len(body))
        self.assertEqual(c.wait_closed(sid), "end")
        self.assertEqual(c.status(sid), 400)

    def test_oversized_body_gets_413(self):
        c = self.connect()
        sid = c.request("POST", "/", KINESIS)
        c.send_all(sid, b" " * (33 * MiB))
        c.wait_closed(sid)
        self.assertEqual(c.status(sid), 413)
        self.assertServerAlive()


if __name__ == "__main__":
    harness.main()
