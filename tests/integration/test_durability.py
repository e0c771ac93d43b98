#!/usr/bin/env python3
"""Durability: acknowledged writes survive a graceful restart and a kill -9, including with
concurrent writers; sequence numbers are stable and never reused.

Every test starts its own server on its own fresh data directory.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_durability.py
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import (  # noqa: E402
    Server,
    all_shards,
    create_stream,
    read_shard,
    shard_id,
    stream_arn,
    wait_active,
)


class Acked:
    """What the server acknowledged: (stream, shard, seq) -> (partition key, data)."""

    def __init__(self):
        self.records = {}
        self.lock = threading.Lock()

    def add(self, stream, shard, seq, pk, data):
        with self.lock:
            key = (stream, shard, seq)
            if key in self.records:
                raise AssertionError(f"sequence number {seq} acknowledged twice in {stream}/{shard}")
            self.records[key] = (pk, data)

    def wait_for_more(self, n, timeout=120):
        """Until n more writes than now are acknowledged (a loaded machine is slow to start
        the writers: a fixed sleep would kill the server before anything was written)."""
        with self.lock:
            want = len(self.records) + n
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.records) >= want:
                    return
            time.sleep(0.02)
        raise AssertionError(f"fewer than {n} writes acknowledged within {timeout} s")

    def put_record(self, client, stream, pk, data, **kw):
        r = client.put_record(StreamName=stream, PartitionKey=pk, Data=data, **kw)
        self.add(stream, r["ShardId"], r["SequenceNumber"], pk, data)
        return r

    def put_records(self, client, stream, entries):
        r = client.put_records(StreamName=stream, Records=[{"PartitionKey": pk, "Data": d} for pk, d in entries])
        for (pk, d), rec in zip(entries, r["Records"]):
            if "SequenceNumber" in rec:
                self.add(stream, rec["ShardId"], rec["SequenceNumber"], pk, d)
        return r


def read_everything(client, streams):
    """{(stream, shard, seq): (pk, data, arrival)} for every record of every shard."""
    out = {}
    for s in streams:
        for sh in all_shards(client, s):
            recs = read_shard(client, s, sh["ShardId"])
            seqs = [int(r["SequenceNumber"]) for r in recs]
            if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
                raise AssertionError(f"{s}/{sh['ShardId']}: sequence numbers not strictly increasing after restart")
            for r in recs:
                out[(s, sh["ShardId"], r["SequenceNumber"])] = (
                    r["PartitionKey"], r["Data"], r["ApproximateArrivalTimestamp"])
    return out


class DurabilityBase(unittest.TestCase):
    in_memory = False

    def setUp(self):
        self.server = Server(in_memory=self.in_memory)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.k = self.server.client()

    def restart(self, graceful=True):
        rc = self.server.restart(graceful=graceful)
        self.k = self.server.client()
        return rc

    def assertAllAckedPresent(self, acked, found):
        missing = [key for key in acked.records if key not in found]
        self.assertEqual(missing[:5], [], f"{len(missing)} of {len(acked.records)} acknowledged records lost")
        for key, (pk, data) in acked.records.items():
            fpk, fdata, _ = found[key]
            self.assertEqual(fpk, pk, f"partition key changed for {key}")
            self.assertEqual(fdata, data, f"data changed for {key}")

    def assertNewSequenceNumbersAreHigher(self, acked, stream):
        max_by_shard = {}
        for (s, sh, seq) in acked.records:
            if s == stream:
                max_by_shard[sh] = max(max_by_shard.get(sh, 0), int(seq))
        for sh, top in max_by_shard.items():
            shards = all_shards(self.k, stream)
            sh_obj = next(x for x in shards if x["ShardId"] == sh)
            r = self.k.put_record(StreamName=stream, PartitionKey="after", Data=b"after-restart",
                                  ExplicitHashKey=sh_obj["HashKeyRange"]["StartingHashKey"])
            self.assertEqual(r["ShardId"], sh)
            self.assertGreater(int(r["SequenceNumber"]), top,
                               f"{stream}/{sh}: sequence number reused or went backwards after restart")


class GracefulRestartTest(DurabilityBase):
    def test_graceful_restart_keeps_records_and_metadata(self):
        k = self.k
        acked = Acked()
        create_stream(k, "d4", 4, Tags={"team": "tide"})
        create_stream(k, "d1", 1)
        create_stream(k, "doomed", 1)
        k.increase_stream_retention_period(StreamName="d4", RetentionPeriodHours=48)
        k.enable_enhanced_monitoring(StreamName="d4", ShardLevelMetrics=["IncomingBytes"])
        k.start_stream_encryption(StreamName="d1", EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active(k, "d1")
        k.update_max_record_size(StreamARN=stream_arn("d1"), MaxRecordSizeInKiB=3072)
        wait_active(k, "d1")
        rng = random.Random(1)
        acked.put_records(k, "d4", [(f"pk{i}", rng.randbytes(rng.randint(0, 3000))) for i in range(300)])
        for i in range(20):
            acked.put_record(k, "d1", f"one{i}", rng.randbytes(i * 50))
        acked.put_record(k, "d4", "empty", b"")
        k.delete_stream(StreamName="doomed")
        harness.wait_gone(k, "doomed")
        before = read_everything(k, ["d4", "d1"])
        summary_before = {s: k.describe_stream_summary(StreamName=s)["StreamDescriptionSummary"] for s in ("d4", "d1")}
        shards_before = all_shards(k, "d4")

        rc = self.restart(graceful=True)
        self.assertEqual(rc, 0, "SIGTERM must exit with code 0\n" + self.server.log_tail())
        k = self.k

        self.assertEqual(k.list_streams()["StreamNames"], ["d1", "d4"], "streams after restart")
        after = read_everything(k, ["d4", "d1"])
        self.assertAllAckedPresent(acked, after)
        self.assertEqual(len(after), len(acked.records), "records appeared that were never acknowledged")
        self.assertEqual(after, before, "records (incl. ApproximateArrivalTimestamp) changed across restart")
        self.assertEqual(all_shards(k, "d4"), shards_before)
        for s in ("d4", "d1"):
            now = k.describe_stream_summary(StreamName=s)["StreamDescriptionSummary"]
            for field in ("StreamARN", "RetentionPeriodHours", "StreamCreationTimestamp", "EncryptionType",
                          "KeyId", "EnhancedMonitoring", "OpenShardCount", "StreamModeDetails",
                          "MaxRecordSizeInKiB"):
                self.assertEqual(now.get(field), summary_before[s].get(field), f"{s}.{field} after restart")
        self.assertEqual(summary_before["d1"].get("MaxRecordSizeInKiB"), 3072)
        tags = {t["Key"]: t.get("Value") for t in k.list_tags_for_stream(StreamName="d4")["Tags"]}
        self.assertEqual(tags, {"team": "tide"})
        self.assertNewSequenceNumbersAreHigher(acked, "d4")
        self.assertNewSequenceNumbersAreHigher(acked, "d1")

    def test_sigint_is_graceful_too(self):
        create_stream(self.k, "si", 1)
        r = self.k.put_record(StreamName="si", PartitionKey="p", Data=b"sigint")
        self.server.proc.send_signal(signal.SIGINT)
        rc = self.server.proc.wait(timeout=10)
        self.server._reap()
        self.assertEqual(rc, 0, "SIGINT must exit with code 0")
        self.server.start()
        self.k = self.server.client()
        recs = read_shard(self.k, "si", shard_id(0))
        self.assertEqual([(x["SequenceNumber"], x["Data"]) for x in recs], [(r["SequenceNumber"], b"sigint")])

    def test_stdout_is_only_the_ready_line(self):
        create_stream(self.k, "quiet", 1)
        self.k.put_record(StreamName="quiet", PartitionKey="p", Data=b"x")
        self.server.raw("GET", "/_tidepool/health")
        port = self.server.port
        self.assertEqual(self.server.stop(), 0)
        self.assertEqual(self.server.stdout_lines, [f"tidepool ready on http://127.0.0.1:{port}"])


class Kill9Test(DurabilityBase):
    def test_kill9_right_after_acknowledgement(self):
        acked = Acked()
        create_stream(self.k, "k9", 4)
        rng = random.Random(9)
        acked.put_records(self.k, "k9", [(f"a{i}", rng.randbytes(rng.randint(1, 2000))) for i in range(100)])
        self.restart(graceful=True)
        for round_ in range(3):
            # Put, and SIGKILL the moment the acknowledgement arrives.
            if round_ == 0:
                acked.put_record(self.k, "k9", f"r{round_}", rng.randbytes(100))
            else:
                acked.put_records(self.k, "k9", [(f"r{round_}-{i}", rng.randbytes(300)) for i in range(50)])
            self.restart(graceful=False)
            found = read_everything(self.k, ["k9"])
            self.assertAllAckedPresent(acked, found)
            self.assertEqual(len(found), len(acked.records))
        self.assertNewSequenceNumbersAreHigher(acked, "k9")

    def test_kill9_keeps_acknowledged_control_plane_changes(self):
        k = self.k
        create_stream(k, "cp", 2)
        k.add_tags_to_stream(StreamName="cp", Tags={"k": "v"})
        k.increase_stream_retention_period(StreamName="cp", RetentionPeriodHours=72)
        k.create_stream(StreamName="fresh", ShardCount=3)
        self.restart(graceful=False)
        k = self.k
        self.assertEqual(wait_active(k, "fresh")["OpenShardCount"], 3)
        s = wait_active(k, "cp")
        self.assertEqual(s["RetentionPeriodHours"], 72)
        self.assertEqual(s["StreamARN"], stream_arn("cp"))
        self.assertEqual({t["Key"]: t["Value"] for t in k.list_tags_for_stream(StreamName="cp")["Tags"]}, {"k": "v"})
        k.delete_stream(StreamName="cp")
        harness.wait_gone(k, "cp")
        self.restart(graceful=False)
        self.assertEqual(self.k.list_streams()["StreamNames"], ["fresh"])

    def test_concurrent_writers_during_kill9(self):
        """Three cycles of: 4 writer threads (PutRecord and 10-record PutRecords) on two streams,
        SIGKILL once 20 more writes are acknowledged plus a random 0-1.2 s, restart on the same
        data directory, check."""
        create_stream(self.k, "conc", 4)
        create_stream(self.k, "conc1", 1)
        acked, attempted = Acked(), {}
        rng = random.Random(42)
        for cycle in range(3):
            w = Writers(self.server, ["conc", "conc1"], acked, attempted, seed=cycle)
            w.start()
            acked.wait_for_more(20)
            time.sleep(rng.uniform(0, 1.2))
            w.stop.set()  # set first: errors after this point are the kill's, not the server's
            self.server.kill9()
            w.join()
            self.assertEqual(w.errors, [], f"cycle {cycle}: writers got error responses while the server was up")
            self.server.start()
            self.k = self.server.client()
            self.check_after_crash(acked, attempted, ["conc", "conc1"])
        self.assertGreater(len(acked.records), 60, "too few acknowledged writes for the test to mean anything")
        sys.stderr.write(f"[3 kill cycles: {len(acked.records)} acknowledged records all present] ")
        self.assertNewSequenceNumbersAreHigher(acked, "conc")
        self.assertNewSequenceNumbersAreHigher(acked, "conc1")

    def check_after_crash(self, acked, attempted, streams):
        snapshot = Acked()
        snapshot.records = dict(acked.records)
        found = read_everything(self.k, streams)
        self.assertAllAckedPresent(snapshot, found)
        for key, (pk, data, _) in found.items():
            self.assertIn(pk, attempted, f"record {key} has a partition key no writer sent")
            self.assertEqual(data, attempted[pk], f"record {key} data is not what was sent (torn write?)")
        pks = [v[0] for v in found.values()]
        self.assertEqual(len(pks), len(set(pks)), "a record was stored twice")

    def test_sigterm_under_concurrent_writes(self):
        create_stream(self.k, "term", 2)
        acked, attempted = Acked(), {}
        w = Writers(self.server, ["term"], acked, attempted, seed=7)
        w.start()
        acked.wait_for_more(20)
        w.stop.set()
        t0 = time.monotonic()
        rc = self.server.stop()  # one SIGTERM, then waits up to 10 s
        w.join()
        self.assertEqual(rc, 0, "SIGTERM with requests in flight must still exit 0\n" + self.server.log_tail())
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(w.errors, [])
        self.assertGreater(len(acked.records), 10)
        self.server.start()
        self.k = self.server.client()
        self.check_after_crash(acked, attempted, ["term"])


class Writers:
    """Writer threads that record what was attempted and what was acknowledged."""

    def __init__(self, server, streams, acked, attempted, seed, n=4):
        self.server, self.streams, self.acked, self.attempted = server, streams, acked, attempted
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(seed * 100 + i,), daemon=True) for i in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(timeout=30)

    def run(self, wid):
        client = self.server.client(read_timeout=10)
        rng = random.Random(wid)
        n = 0
        while not self.stop.is_set():
            stream = self.streams[wid % len(self.streams)]
            try:
                if n % 3 == 2:
                    batch = [(f"w{wid}-{n}-{j}", rng.randbytes(rng.randint(0, 1500))) for j in range(10)]
                    with self.lock:
                        self.attempted.update(batch)
                    self.acked.put_records(client, stream, batch)
                else:
                    pk, data = f"w{wid}-{n}", rng.randbytes(rng.randint(0, 1500))
                    with self.lock:
                        self.attempted[pk] = data
                    self.acked.put_record(client, stream, pk, data)
            except AssertionError as e:  # duplicate sequence number acknowledged
                self.errors.append(str(e))
                return
            except ClientError as e:
                if not self.stop.is_set():
                    self.errors.append(repr(e))  # an error answer while the server is up is a bug
                return
            except Exception:
                return  # connection refused/reset once the server is gone: expected
            n += 1


class InMemoryTest(DurabilityBase):
    in_memory = True

    def test_in_memory_serves_and_restarts_empty(self):
        create_stream(self.k, "mem", 1)
        r = self.k.put_record(StreamName="mem", PartitionKey="p", Data=b"volatile")
        recs = read_shard(self.k, "mem", shard_id(0))
        self.assertEqual([(x["SequenceNumber"], x["Data"]) for x in recs], [(r["SequenceNumber"], b"volatile")])
        self.assertEqual(self.restart(graceful=True), 0)
        self.assertEqual(self.k.list_streams()["StreamNames"], [], "--in-memory must not persist")


if __name__ == "__main__":
    harness.main()
