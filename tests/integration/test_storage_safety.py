"""Storage and files safety: the WAL stays bounded under sustained writes, and what tidepool
creates in its data directory is private to its user (directories 0700, files 0600).

Run alone: TIDEPOOL_BIN=build/tidepool python3 tests/integration/test_storage_safety.py
"""

import http.client
import os
import shutil
import stat
import tempfile
import threading
import time
import unittest

from harness import ONE_MIB, Server, main

# Sustained S3 PUTs of this much data in total. Before the WAL was reset under load, it grew by
# as much as was written (1034 MiB here; 4 GB in 30 s of bench/wal.sh); now it is reset past
# 64 MiB once the checkpoints catch up, and at 256 MiB whatever the tail (storage/db.c): about
# 290 MiB at most.
LOAD_BYTES = 1024 * ONE_MIB
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


class FileModesTest(unittest.TestCase):
    """Modes under umask 022 (the usual one), so that 0600 cannot come from the umask."""

    def setUp(self):
        self.old_umask = os.umask(0o022)
        self.servers = []

    def tearDown(self):
        os.umask(self.old_umask)
        for s in self.servers:
            s.cleanup()

    def start(self, data_dir):
        s = Server(data_dir=data_dir, extra_args=["--tls-port", "0"])
        self.servers.append(s)
        return s.start()

    def test_fresh_data_dir_is_private(self):
        root = tempfile.mkdtemp(prefix="tidepool-modes-")
        self.addCleanup(shutil.rmtree, root, True)
        data = os.path.join(root, "parent", "data")
        s = self.start(data)
        s.client("kinesis").create_stream(StreamName="modes", ShardCount=1)  # a write: the WAL exists
        db = os.path.join(data, "tidepool.db")
        want = {
            data: 0o700,
            db: 0o600,
            db + "-wal": 0o600,
            db + "-shm": 0o600,
            os.path.join(data, "tls"): 0o700,
            os.path.join(data, "tls", "ca-key.pem"): 0o600,
            os.path.join(data, "tls", "ca.pem"): 0o644,  # public: what clients are told to trust
            os.path.join(root, "parent"): 0o755,  # a parent made on the way, as mkdir -p makes it
        }
        self.assertEqual({p: oct(mode_of(p)) for p in want}, {p: oct(m) for p, m in want.items()})

    def test_existing_dir_keeps_its_mode_and_old_files_are_tightened(self):
        root = tempfile.mkdtemp(prefix="tidepool-modes-")
        self.addCleanup(shutil.rmtree, root, True)
        data = os.path.join(root, "data")
        os.mkdir(data, 0o755)
        s = self.start(data)
        s.stop()
        db = os.path.join(data, "tidepool.db")
        tls = os.path.join(data, "tls")
        # what an older tidepool left: a 0644 database, a 0755 tls directory
        os.chmod(db, 0o644)
        os.chmod(tls, 0o755)
        s.start()
        self.assertEqual(oct(mode_of(data)), oct(0o755), "the user's own directory is left as it is")
        self.assertEqual(oct(mode_of(db)), oct(0o600))
        self.assertEqual(oct(mode_of(tls)), oct(0o700))


if __name__ == "__main__":
    main()
