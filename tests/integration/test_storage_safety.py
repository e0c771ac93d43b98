"""Storage and files safety: the WAL stays bounded under sustained writes, and what tidepool
creates in its data directory is private to its user (directories 0700, files 0600).

Run alone: TIDEPOOL_BIN=build/tidepool python3 tests/integration/test_storage_safety.py
"""

import http.client
import os
import stat
import threading
import time
import unittest

from harness import ONE_MIB, Server, main

# Sustained S3 PUTs of this much data in total. Before the WAL was reset under load, the WAL
# grew by about as much as was written (4 GB in 30 s of bench/wal.sh); now it is reset past
# 64 MiB once the checkpoints catch up, and at 256 MiB whatever the tail (storage/db.c).
LOAD_BYTES = 1536 * ONE_MIB
OBJECT_BYTES = 4 * ONE_MIB
WRITERS = 6
WAL_BOUND = 640 * ONE_MIB


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class WalBoundTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.cleanup()

    def put(self, conn, path, body):
        conn.request("PUT", path, body=body, headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=00",
            "X-Amz-Date": "20260101T000000Z",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "Content-Length": str(len(body)),
        })
        r = conn.getresponse()
        r.read()
        return r.status

    def test_wal_stays_bounded_under_sustained_writes(self):
        wal = os.path.join(self.server.data_dir, "tidepool.db-wal")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        self.assertEqual(self.put(conn, "/wal", b""), 200, "CreateBucket")
        conn.close()
        body = os.urandom(OBJECT_BYTES)
        per_writer = LOAD_BYTES // OBJECT_BYTES // WRITERS
        failures, largest = [], [0]
        done = threading.Event()

        def writer(no):
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
            try:
                for i in range(per_writer):
                    # a few keys overwritten again and again: the database file stays small,
                    # the WAL still sees every byte
                    status = self.put(c, f"/wal/w{no}-{i % 4}", body)
                    if status != 200:
                        failures.append((no, i, status))
                        return
            except OSError as e:
                failures.append((no, repr(e)))
            finally:
                c.close()

        def sampler():
            while not done.is_set():
                try:
                    largest[0] = max(largest[0], os.stat(wal).st_size)
                except FileNotFoundError:
                    pass
                done.wait(0.02)

        s = threading.Thread(target=sampler)
        s.start()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        s.join()
        print(f"largest WAL {largest[0] / ONE_MIB:.0f} MiB after {LOAD_BYTES // ONE_MIB} MiB written")
        self.assertEqual(failures, [], "every PUT succeeded")
        self.assertTrue(self.server.alive())
        self.assertGreater(largest[0], 0, "the WAL was sampled")
        self.assertLess(largest[0], WAL_BOUND,
                        f"largest WAL {largest[0] / ONE_MIB:.0f} MiB after {LOAD_BYTES // ONE_MIB} MiB written")


if __name__ == "__main__":
    main()
