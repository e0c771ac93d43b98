#!/usr/bin/env python3
"""Writes the request bodies bench/kinesis.sh replays with wrk (bench/put.lua).

usage: mkbodies.py OUTDIR STREAM BATCH BATCH_RECORD_BYTES NBATCH SINGLE_RECORD_BYTES NSINGLE

  OUTDIR/putrecords-<i>.json  i < NBATCH: PutRecords, BATCH records of random
                               bytes each, partition keys all different
                               (MD5 routing spreads them over every shard)
  OUTDIR/putrecord-<i>.json   i < NSINGLE: PutRecord, one random record,
                               partition key "k-<i>"
"""
import base64
import json
import os
import sys


def main():
    out, stream = sys.argv[1], sys.argv[2]
    batch, batch_bytes, nbatch, single_bytes, nsingle = map(int, sys.argv[3:8])
    os.makedirs(out, exist_ok=True)
    for b in range(nbatch):
        recs = [{"Data": base64.b64encode(os.urandom(batch_bytes)).decode(),
                 "PartitionKey": "pk-%d-%d" % (b, i)} for i in range(batch)]
        with open(os.path.join(out, "putrecords-%d.json" % b), "w") as f:
            json.dump({"StreamName": stream, "Records": recs}, f, separators=(",", ":"))
    for i in range(nsingle):
        body = {"StreamName": stream, "Data": base64.b64encode(os.urandom(single_bytes)).decode(),
                "PartitionKey": "k-%d" % i}
        with open(os.path.join(out, "putrecord-%d.json" % i), "w") as f:
            json.dump(body, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
