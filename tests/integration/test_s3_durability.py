#!/usr/bin/env python3
"""S3 durability: acknowledged objects survive kill -9 byte-identical; a PUT cut off by kill -9
leaves no object and no stray bytes (the blob sweep at open); multipart parts acknowledged
before a kill -9 are still listed afterwards and the upload can be completed.

Every test starts its own server on its own fresh data directory.  The byte accounting reads
DATA/tidepool.db with Python's sqlite3 (read-only) — while the server runs only to see that a
cut-off upload had really reached the database, and after a graceful stop for the totals.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_s3_durability.py
"""

import hashlib
import http.client
import os
import random
import socket
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import ONE_MIB, Server, main  # noqa: E402

MIB = ONE_MIB


def rnd(n, seed):
    return random.Random(seed).randbytes(n)


def etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


class S3DurabilityBase(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.s3 = self.server.client("s3")

    def restart(self, graceful=True):
        rc = self.server.restart(graceful=graceful)
        self.s3 = self.server.client("s3")
        return rc

    @property
    def db_path(self):
        return os.path.join(self.server.data_dir, "tidepool.db")

    def query(self, sql):
        """One value from the data dir's database, opened read-only."""
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()

    def assertNoKey(self, bucket, key):
        with self.assertRaises(ClientError, msg=f"{bucket}/{key} exists") as e:
            self.s3.head_object(Bucket=bucket, Key=key)
        self.assertEqual(e.exception.response["Error"]["Code"], "404")

    def assertObject(self, bucket, key, data, want_etag=None):
        got = self.s3.get_object(Bucket=bucket, Key=key)
        body = got["Body"].read()
        self.assertEqual(len(body), len(data), f"{bucket}/{key}: length")
        self.assertTrue(body == data, f"{bucket}/{key}: bytes differ")
        self.assertEqual(got["ETag"], want_etag or etag(data), f"{bucket}/{key}: ETag")

    def assertOnlyLiveBytesStored(self, live_sizes):
        """After a graceful stop: the chunk rows hold exactly the bytes of the live objects (and of
        live multipart parts, passed in too) — nothing of cut-off uploads."""
        stored = self.query("SELECT coalesce(sum(length(data)), 0) FROM chunks")
        self.assertEqual(stored, sum(live_sizes),
                         f"chunks hold {stored} bytes, live objects {sum(live_sizes)}: partial bytes kept")
        orphans = self.query("SELECT count(*) FROM blobs WHERE refs <= 0")
        self.assertEqual(orphans, 0, "unlinked blobs left after the sweep")


class AckedObjectsTest(S3DurabilityBase):
    def test_acknowledged_objects_survive_kill9(self):
        s3 = self.s3
        s3.create_bucket(Bucket="durable")
        s3.create_bucket(Bucket="durable-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        objects = {
            ("durable", "empty"): b"",
            ("durable", "one"): b"1",
            ("durable", "dir/small.txt"): b"hello tidepool\n" * 100,
            ("durable", "dir/exact-mib"): rnd(MIB, 1),
            ("durable", "big.bin"): rnd(9 * MIB + 123, 2),
            ("durable-eu", "unicodé ключ"): rnd(4096, 3),
        }
        for (b, k), data in objects.items():
            put = s3.put_object(Bucket=b, Key=k, Body=data, Metadata={"n": str(len(data))})
            self.assertEqual(put["ETag"], etag(data))
        # an overwrite and a delete, both acknowledged
        s3.put_object(Bucket="durable", Key="one", Body=b"overwritten")
        objects[("durable", "one")] = b"overwritten"
        s3.put_object(Bucket="durable", Key="gone", Body=b"x" * 1000)
        s3.delete_object(Bucket="durable", Key="gone")
        # a multipart object
        parts = [rnd(5 * MIB, 4), rnd(5 * MIB, 5), rnd(777, 6)]
        uid = s3.create_multipart_upload(Bucket="durable", Key="mpu")["UploadId"]
        done = [{"PartNumber": i + 1, "ETag": s3.upload_part(Bucket="durable", Key="mpu", UploadId=uid,
                                                              PartNumber=i + 1, Body=p)["ETag"]}
                for i, p in enumerate(parts)]
        s3.complete_multipart_upload(Bucket="durable", Key="mpu", UploadId=uid, MultipartUpload={"Parts": done})
        # the last acknowledgement, then SIGKILL at once
        last = rnd(3 * MIB + 1, 7)
        s3.put_object(Bucket="durable", Key="last", Body=last, Metadata={"n": str(len(last))})
        objects[("durable", "last")] = last

        self.restart(graceful=False)
        s3 = self.s3
        self.assertEqual(sorted(b["Name"] for b in s3.list_buckets()["Buckets"]), ["durable", "durable-eu"])
        self.assertEqual(s3.get_bucket_location(Bucket="durable-eu")["LocationConstraint"], "eu-west-1")
        for (b, k), data in objects.items():
            with self.subTest(key=k):
                self.assertObject(b, k, data)
                if k != "one":
                    self.assertEqual(s3.head_object(Bucket=b, Key=k)["Metadata"], {"n": str(len(data))})
        self.assertObject("durable", "mpu", b"".join(parts), multipart_etag(parts))
        self.assertNoKey("durable", "gone")
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="durable").get("Contents", [])]
        self.assertEqual(listed, sorted(["empty", "one", "dir/small.txt", "dir/exact-mib", "big.bin", "mpu", "last"]))
        self.assertEqual(s3.list_multipart_uploads(Bucket="durable").get("Uploads", []), [])

        # and a second kill -9 right after more writes on the recovered store
        s3.put_object(Bucket="durable", Key="after", Body=b"after restart")
        self.restart(graceful=False)
        self.assertObject("durable", "after", b"after restart")
        self.assertObject("durable", "big.bin", objects[("durable", "big.bin")])

        self.assertEqual(self.server.stop(), 0)
        sizes = [len(d) for d in objects.values()] + [len(b"".join(parts)), len(b"after restart")]
        self.assertOnlyLiveBytesStored(sizes)


class InterruptedPutTest(S3DurabilityBase):
    TOTAL = 200 * MIB
    SEND_BEFORE_KILL = 96 * MIB

    def start_big_put(self, path, extra_headers=None):
        """Open a PUT of TOTAL bytes with Content-Length, send SEND_BEFORE_KILL of them, return the
        connection (the caller kills the server) and the block sent repeatedly."""
        block = rnd(MIB, 42)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        conn.putrequest("PUT", path)
        conn.putheader("Authorization", harness.S3_AUTH["Authorization"])
        conn.putheader("Content-Length", str(self.TOTAL))
        conn.putheader("Content-Type", "application/octet-stream")
        for k, v in (extra_headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        for _ in range(self.SEND_BEFORE_KILL // MIB):
            conn.send(block)
        return conn

    def wait_for_partial_bytes(self, at_least):
        """Wait until the server has committed at_least bytes of the unfinished upload."""
        deadline = time.monotonic() + 30
        stored = 0
        while time.monotonic() < deadline:
            try:
                stored = self.query("SELECT coalesce(sum(length(data)), 0) FROM chunks")
            except sqlite3.OperationalError:
                stored = 0
            if stored >= at_least:
                return stored
            time.sleep(0.05)
        self.fail(f"the upload in progress committed only {stored} bytes in 30 s "
                  f"(expected >= {at_least}); the kill would not test the sweep")

    def test_put_cut_off_by_kill9_leaves_nothing(self):
        s3 = self.s3
        s3.create_bucket(Bucket="cut")
        keep = rnd(2 * MIB + 5, 8)
        s3.put_object(Bucket="cut", Key="keep", Body=keep)
        base = len(keep)

        conn = self.start_big_put("/cut/huge.bin")
        try:
            stored = self.wait_for_partial_bytes(base + 32 * MIB)
            self.server.kill9()
        finally:
            conn.close()
        self.assertGreater(stored, base)

        self.server.start()
        self.s3 = s3 = self.server.client("s3")
        self.assertNoKey("cut", "huge.bin")
        self.assertEqual([o["Key"] for o in s3.list_objects_v2(Bucket="cut").get("Contents", [])], ["keep"])
        self.assertObject("cut", "keep", keep)
        # the store works on: a small PUT/GET, and a new object under the cut-off key
        s3.put_object(Bucket="cut", Key="small", Body=b"small after crash")
        self.assertObject("cut", "small", b"small after crash")
        again = rnd(3 * MIB, 9)
        s3.put_object(Bucket="cut", Key="huge.bin", Body=again)
        self.assertObject("cut", "huge.bin", again)

        self.assertEqual(self.server.stop(), 0)
        self.assertOnlyLiveBytesStored([len(keep), len(b"small after crash"), len(again)])

    def test_aws_chunked_put_cut_off_by_kill9_leaves_nothing(self):
        # The same through an aws-chunked body (what JS v3 sends for streams): one huge chunk.
        self.s3.create_bucket(Bucket="cut-chunked")
        head = b"%x\r\n" % (self.TOTAL - 64)
        block = rnd(MIB, 43)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.putrequest("PUT", "/cut-chunked/huge.bin")
            conn.putheader("Authorization", harness.S3_AUTH["Authorization"])
            for k, v in {
                "Content-Length": str(len(head) + self.TOTAL - 64 + 2 + 3 + 2),
                "Content-Encoding": "aws-chunked",
                "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                "x-amz-decoded-content-length": str(self.TOTAL - 64),
            }.items():
                conn.putheader(k, v)
            conn.endheaders()
            conn.send(head)
            for _ in range(self.SEND_BEFORE_KILL // MIB):
                conn.send(block)
            self.wait_for_partial_bytes(32 * MIB)
            self.server.kill9()
        finally:
            conn.close()
        self.server.start()
        self.s3 = self.server.client("s3")
        self.assertNoKey("cut-chunked", "huge.bin")
        self.s3.put_object(Bucket="cut-chunked", Key="ok", Body=b"ok")
        self.assertObject("cut-chunked", "ok", b"ok")
        self.assertEqual(self.server.stop(), 0)
        self.assertOnlyLiveBytesStored([2])


class MultipartKill9Test(S3DurabilityBase):
    def test_completed_parts_survive_kill9_and_upload_completes(self):
        s3 = self.s3
        s3.create_bucket(Bucket="mpu")
        parts = [rnd(5 * MIB, 10), rnd(5 * MIB + 3, 11)]
        uid = s3.create_multipart_upload(Bucket="mpu", Key="obj", ContentType="application/x-parts",
                                         Metadata={"stage": "before"})["UploadId"]
        etags = [s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"]
                 for i, p in enumerate(parts)]
        self.assertEqual(etags, [etag(p) for p in parts])

        self.restart(graceful=False)
        s3 = self.s3
        listed = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"], p["ETag"]) for p in listed],
                         [(1, len(parts[0]), etags[0]), (2, len(parts[1]), etags[1])])
        self.assertEqual([u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu").get("Uploads", [])], [uid])
        self.assertNoKey("mpu", "obj")

        tail = rnd(1234, 12)
        e3 = s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=3, Body=tail)["ETag"]
        done = s3.complete_multipart_upload(Bucket="mpu", Key="obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]},
                      {"PartNumber": 3, "ETag": e3}]})
        want = multipart_etag(parts + [tail])
        self.assertEqual(done["ETag"], want)
        self.assertObject("mpu", "obj", b"".join(parts) + tail, want)
        head = s3.head_object(Bucket="mpu", Key="obj")
        self.assertEqual(head["ContentType"], "application/x-parts")
        self.assertEqual(head["Metadata"], {"stage": "before"})

        # completion itself is durable
        self.restart(graceful=False)
        self.assertObject("mpu", "obj", b"".join(parts) + tail, want)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []), [])
        self.assertEqual(self.server.stop(), 0)
        self.assertOnlyLiveBytesStored([len(parts[0]) + len(parts[1]) + len(tail)])

    def test_part_cut_off_by_kill9_is_not_listed(self):
        s3 = self.s3
        s3.create_bucket(Bucket="mpu-cut")
        p1, p2 = rnd(5 * MIB, 20), rnd(5 * MIB, 21)
        uid = s3.create_multipart_upload(Bucket="mpu-cut", Key="obj")["UploadId"]
        e1 = s3.upload_part(Bucket="mpu-cut", Key="obj", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
        e2 = s3.upload_part(Bucket="mpu-cut", Key="obj", UploadId=uid, PartNumber=2, Body=p2)["ETag"]

        # part 3 (64 MiB announced) is cut off half way
        total, sent = 64 * MIB, 40 * MIB
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.putrequest("PUT", f"/mpu-cut/obj?partNumber=3&uploadId={uid}")
            conn.putheader("Authorization", harness.S3_AUTH["Authorization"])
            conn.putheader("Content-Length", str(total))
            conn.endheaders()
            block = rnd(MIB, 22)
            for _ in range(sent // MIB):
                conn.send(block)
            deadline = time.monotonic() + 30
            while self.query("SELECT coalesce(sum(length(data)), 0) FROM chunks") < len(p1) + len(p2) + 16 * MIB:
                if time.monotonic() > deadline:
                    self.fail("part 3 in progress never reached the database")
                time.sleep(0.05)
            self.server.kill9()
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
            self.fail(f"sending part 3 failed before the kill: {exc!r}")
        finally:
            conn.close()
        self.server.start()
        self.s3 = s3 = self.server.client("s3")
        listed = s3.list_parts(Bucket="mpu-cut", Key="obj", UploadId=uid)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in listed], [(1, len(p1)), (2, len(p2))])
        done = s3.complete_multipart_upload(Bucket="mpu-cut", Key="obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        self.assertEqual(done["ETag"], multipart_etag([p1, p2]))
        self.assertObject("mpu-cut", "obj", p1 + p2, multipart_etag([p1, p2]))
        self.assertEqual(self.server.stop(), 0)
        self.assertOnlyLiveBytesStored([len(p1) + len(p2)])


if __name__ == "__main__":
    main()
