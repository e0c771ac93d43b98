#!/usr/bin/env bash
# bench/wal.sh: WAL size and latency under sustained mixed writes.
#
#   bench/wal.sh [--duration 90] [--conns 8] [--tidepool build/tidepool]
#
# Starts tidepool on a free port with a fresh --data dir, creates a 4-shard
# stream, a bucket and a DirectPut delivery stream into a second bucket, then
# runs `kload mixed` (Kinesis PutRecords, S3 PUT and GET, Firehose
# PutRecordBatch; see kload.c) for the duration while sampling the size of
# DATA/tidepool.db-wal. Prints kload's line: requests/s, latency p50/p99/max,
# the WAL's largest and last size. Needs gcc and curl.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
DURATION=90
CONNS=8
TIDEPOOL="$BENCH/../build/tidepool"
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --tidepool) TIDEPOOL=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--conns N] [--tidepool BIN]" >&2; exit 2 ;;
    esac
done
TMP=$(mktemp -d /tmp/tidepool-wal-XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
gcc -O2 -pthread -o "$TMP/kload" "$BENCH/kload.c"
"$TIDEPOOL" serve --port 0 --data "$TMP/data" >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "ready on" "$TMP/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^tidepool ready on http:\/\/[^:]*:\([0-9]*\)$/\1/p' "$TMP/out")
[ -n "$PORT" ] || { cat "$TMP/err" >&2; exit 1; }
AUTH="Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=00"
call() { # service target body
    curl -sS --fail-with-body -o /dev/stderr "http://127.0.0.1:$PORT/" -H "$(printf "$AUTH" "$1")" -H "X-Amz-Date: 20260101T000000Z" -H "X-Amz-Target: $2" \
        -H "Content-Type: application/x-amz-json-1.1" -d "$3"
}
call kinesis Kinesis_20131202.CreateStream '{"StreamName":"wal","ShardCount":4}'
for b in wal walfh; do
    curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$PORT/$b" -H "$(printf "$AUTH" s3)" -H "X-Amz-Date: 20260101T000000Z"
done
call firehose Firehose_20150804.CreateDeliveryStream '{"DeliveryStreamName":"wal","DeliveryStreamType":"DirectPut",
  "ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::walfh","RoleARN":"arn:aws:iam::000000000000:role/r",
  "BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":60}}}'
sleep 1 # the stream leaves CREATING within a tick
echo "== $TIDEPOOL: kload mixed $PORT wal wal wal $CONNS $DURATION DATA/tidepool.db-wal" >&2
"$TMP/kload" mixed "$PORT" wal wal wal "$CONNS" "$DURATION" "$TMP/data/tidepool.db-wal" || { tail -5 "$TMP/err" >&2; exit 1; }
