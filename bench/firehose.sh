#!/usr/bin/env bash
# Firehose benchmark: sustained Kinesis-source → GZIP → S3 delivery of 1 KiB
# records, and delivery lag against the buffer interval. tidepool only (no
# peer emulator runs Firehose delivery). See bench/README.md.
#
# usage: bench/firehose.sh [--duration SECONDS] [--size-mb N] [--interval S]
#                          [--lag-intervals LIST] [--lag-60] [--lag-seconds S]
#                          [--no-lag] [--rate N] [--perf] [--in-memory]
#                          [--tidepool PATH]
#
#   --duration S         length of the PutRecords load (default 10)
#   --rate N             put N records/s (kload putrate, paced) instead of as
#                        many as wrk can: does delivery keep up with N?
#   --size-mb N          BufferingHints.SizeInMBs of the throughput delivery
#                        stream, 1..128 (default 64; 128 is Firehose's maximum)
#   --interval S         its IntervalInSeconds (default 60, so that size
#                        triggers every delivery but the last)
#   --lag-intervals L    comma-separated IntervalInSeconds of the lag phase
#                        (default 1,5; each gets its own source stream and
#                        delivery stream, all measured at once)
#   --lag-60             adds 60 to the lag intervals (the run takes a minute
#                        longer)
#   --lag-seconds S      how long the lag phase trickles records (default 10)
#   --no-lag             skip the lag phase
#   --perf               also `perf record` tidepool during the put and drain
#                        phases and print the top functions, for the whole
#                        process and for the delivery worker thread alone
#   --in-memory          run tidepool with --in-memory instead of a fresh --data dir
#   --tidepool PATH      binary to test (default build/tidepool, built if missing)
#
# Phases (one tidepool, started fresh on a free port with a temp data dir):
#   1. setup: a 4-shard Kinesis stream, a bucket, and a delivery stream
#      (KinesisStreamAsSource → ExtendedS3, GZIP, --size-mb, --interval)
#   2. put: wrk PutRecords x500, 1 KiB JSON-like text records, 8 connections,
#      --duration seconds (or --rate records/s, paced by bench/kload.c),
#      while the engine delivers; /_tidepool/firehose is sampled every 50 ms
#      throughout
#   3. drain: after the puts, until the engine has read every record (the
#      records delivered plus buffered stop growing for 0.6 s)
#   4. the records the stream holds are counted (kload getrecords), then the
#      last partial buffer is waited for (it goes out at --interval)
#   5. verify: every object is fetched, gunzipped and cut into records, each
#      looked up among the records put (bench/firehose_check.py verify)
#   6. lag: per lag interval a fresh stream and delivery stream (SizeInMBs 1),
#      one PutRecord every 100 ms for --lag-seconds, and ListObjectsV2 every
#      50 ms: per object, first listed minus the send time of its oldest record
set -euo pipefail

SCRIPT=firehose.sh
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMDLINE="bench/$SCRIPT${*:+ $*}"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

SIZE_MB=64
INTERVAL=60
LAG_INTERVALS=1,5
LAG_SECONDS=10
LAG_PERIOD_MS=100
LAG=1
RATE=0
while [ $# -gt 0 ]; do
    case "$1" in
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --lag-intervals) LAG_INTERVALS=$2; shift 2 ;;
    --lag-60) LAG_INTERVALS="$LAG_INTERVALS,60"; shift ;;
    --lag-seconds) LAG_SECONDS=$2; shift 2 ;;
    --no-lag) LAG=0; shift ;;
    --rate) RATE=$2; shift 2 ;;
    *) common_option "$@"; shift "$NSHIFT" ;;
    esac
done
case "$SIZE_MB" in ''|*[!0-9]*) fail "--size-mb takes 1..128" ;; esac
if [ "$SIZE_MB" -lt 1 ] || [ "$SIZE_MB" -gt 128 ]; then fail "--size-mb takes 1..128"; fi
case "$INTERVAL" in ''|*[!0-9]*) fail "--interval takes 0..900" ;; esac
case "$RATE" in ''|*[!0-9]*) fail "--rate takes records per second" ;; esac

STREAM=bench
FH=bench-fh
BUCKET=bench
PREFIX=tp/
SHARDS=4
BATCH=500
RECORD_BYTES=1024
NBODIES=8
CONNS=8
WRK_THREADS=2
WRK_REQ_FMT=%.1f
WRK_LAT_FMT=%.1f
POLL_MS=50
STABLE_S=0.6                     # drain ends when delivered+buffered is still this long
SIZE_BYTES=$((SIZE_MB * 1024 * 1024))
DELIVERY_TIMEOUT=$((INTERVAL + 60)) # after the engine caught up: the last buffer goes out at the interval
CHECK="$BENCH/firehose_check.py"
ACCOUNT=000000000000
ROLE="arn:aws:iam::$ACCOUNT:role/x"
AUTH='AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'

bench_setup tidepool-fhbench

# ---- prerequisites ----
need_tools "Debian: apt-get install wrk gcc python3 curl" wrk gcc python3 curl
[ "$PERF" = 1 ] && need_tools "Debian: apt-get install linux-perf" perf
prepare_binaries

log "generating request bodies ($NBODIES x $BATCH records of $RECORD_BYTES bytes of JSON-like text)"
python3 "$CHECK" bodies "$TMP/bodies" "$STREAM" "$BATCH" "$NBODIES" "$RECORD_BYTES"
GZIP_RATIO=$(python3 -c '
import base64, json, sys, zlib
raw = b"".join(base64.b64decode(r["Data"]) for r in json.load(open(sys.argv[1]))["Records"])
c = zlib.compressobj(1, zlib.DEFLATED, 31)
print("%.2f" % (len(raw) / len(c.compress(raw) + c.flush())))' "$TMP/bodies/putrecords-0.json")

# api SERVICE.OP JSON: one JSON 1.1 request with curl; body in $TMP/resp, prints the status.
api() {
    curl -s -o "$TMP/resp" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$PORT/" \
        -H "X-Amz-Target: $1" -H 'Content-Type: application/x-amz-json-1.1' \
        -H "Authorization: $AUTH" -H 'X-Amz-Date: 20260101T000000Z' --data-binary "$2" || echo 000
}

create_stream() { # NAME
    local code i
    code=$(api Kinesis_20131202.CreateStream "{\"StreamName\":\"$1\",\"ShardCount\":$SHARDS}")
    [ "$code" = 200 ] || fail "CreateStream $1: HTTP $code $(cat "$TMP/resp")"
    for i in $(seq 100); do
        code=$(api Kinesis_20131202.DescribeStreamSummary "{\"StreamName\":\"$1\"}")
        [ "$code" = 200 ] && grep -q '"StreamStatus":"ACTIVE"' "$TMP/resp" && return 0
        sleep 0.1
    done
    fail "stream $1 never became ACTIVE: HTTP $code $(cat "$TMP/resp")"
}

create_bucket() { # NAME
    local code
    code=$(curl -s -o "$TMP/resp" -w '%{http_code}' --max-time 30 -X PUT "http://127.0.0.1:$PORT/$1" || echo 000)
    [ "$code" = 200 ] || fail "CreateBucket $1: HTTP $code $(cat "$TMP/resp")"
}

# create_fh NAME STREAM BUCKET PREFIX SIZE_MB INTERVAL_S: a Kinesis-source
# delivery stream to S3 with GZIP; waits until the engine runs it.
create_fh() {
    local code i body
    body="{\"DeliveryStreamName\":\"$1\",\"DeliveryStreamType\":\"KinesisStreamAsSource\",
        \"KinesisStreamSourceConfiguration\":{\"KinesisStreamARN\":\"arn:aws:kinesis:us-east-1:$ACCOUNT:stream/$2\",
        \"RoleARN\":\"$ROLE\"},
        \"ExtendedS3DestinationConfiguration\":{\"RoleARN\":\"$ROLE\",\"BucketARN\":\"arn:aws:s3:::$3\",
        \"Prefix\":\"$4\",\"CompressionFormat\":\"GZIP\",
        \"BufferingHints\":{\"SizeInMBs\":$5,\"IntervalInSeconds\":$6}}}"
    code=$(api Firehose_20150804.CreateDeliveryStream "$body")
    [ "$code" = 200 ] || fail "CreateDeliveryStream $1: HTTP $code $(cat "$TMP/resp")"
    for i in $(seq 100); do
        curl -s --max-time 5 "http://127.0.0.1:$PORT/_tidepool/firehose" >"$TMP/fhstatus" || true
        grep -q "\"DeliveryStreamName\":\"$1\"" "$TMP/fhstatus" && return 0
        sleep 0.05
    done
    fail "the delivery engine never picked up $1: $(cat "$TMP/fhstatus")"
}

tasks() { find "/proc/$SERVER_PID/task" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort; }
thread_ticks() { # TID...: utime+stime of these threads of SERVER_PID, in clock ticks
    local t sum=0 st f
    for t in "$@"; do
        st=$(cat "/proc/$SERVER_PID/task/$t/stat" 2>/dev/null) || continue
        st=${st##*) }
        read -r -a f <<<"$st"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

# the last sample of the poller: "t objects records buffered_records ..."
last_sample() { tail -n 1 "$TMP/samples" 2>/dev/null || true; }

wrk_probe() { # after wrk saw errors, what one request answers now
    local code
    code=$(api Kinesis_20131202.PutRecords "$(cat "$TMP/bodies/putrecords-0.json")")
    NOTES+=("  sample PutRecords now answers HTTP $code: $(head -c 300 "$TMP/resp")")
}

# ---- run ----
check_busy
start_tidepool
server_begin tidepool
srv=tidepool

create_stream "$STREAM"
create_bucket "$BUCKET"
before=$(tasks)
create_fh "$FH" "$STREAM" "$BUCKET" "$PREFIX" "$SIZE_MB" "$INTERVAL"
sleep 0.2
mapfile -t WORKER_TIDS < <(comm -13 <(echo "$before") <(tasks))
[ ${#WORKER_TIDS[@]} -ge 1 ] || WARNINGS+=("could not tell the delivery worker thread: no worker CPU figures")
log "delivery worker thread(s): ${WORKER_TIDS[*]:-?}"

: >"$TMP/samples"
python3 "$CHECK" poll "$PORT" "$FH" "$TMP/samples" "$POLL_MS" &
POLL_PID=$!
sleep 0.3

# 2. put
w0=$(thread_ticks "${WORKER_TIDS[@]}")
if [ "$RATE" = 0 ]; then
    BENCH_TARGET=PutRecords BENCH_FILES="$TMP/bodies/putrecords-" BENCH_COUNT=$NBODIES \
        wrk_phase "$srv" put put.lua "BENCH_TARGET=PutRecords BENCH_FILES=\$TMP/bodies/putrecords- BENCH_COUNT=$NBODIES" \
        wrk_probe
    ACKED=$(( R[$srv.put.requests] * BATCH ))
    R[$srv.put.rec]=$(awk -v a="$ACKED" -v d="${R[$srv.put.duration_us]}" 'BEGIN {printf "%.0f", a / (d / 1e6)}')
else
    CMDS+=("\$TMP/kload putrate PORT \$TMP/bodies/putrecords- $NBODIES $BATCH $CONNS $RATE $DURATION")
    log "$srv: put ($RATE records/s for ${DURATION}s, $CONNS connections)"
    phase_run "$srv" put "$KLOAD" putrate "$PORT" "$TMP/bodies/putrecords-" "$NBODIES" "$BATCH" "$CONNS" \
        "$RATE" "$DURATION" >"$TMP/putrate.out" 2>"$TMP/putrate.err"
    [ "$PHASE_RC" = 0 ] || NOTES+=("kload putrate: $(head -c 600 "$TMP/putrate.err") [$(cat "$TMP/putrate.out")]")
    requests=0 non2xx=0 errors=0 failed_records=0 acked=0 records_per_s=0 behind_ms=0
    # shellcheck disable=SC2034 # seconds: not reported
    seconds=0
    eval "$(head -1 "$TMP/putrate.out")"
    ACKED=$acked
    R[$srv.put.rec]=$records_per_s
    R[$srv.put.non2xx]=$non2xx
    R[$srv.put.errors]=$((errors + failed_records))
    R[$srv.put.behind_ms]=$behind_ms
    [ "$behind_ms" -le 1000 ] ||
        WARNINGS+=("the puts fell up to $behind_ms ms behind the $RATE records/s schedule: the server could not take them that fast")
fi
T0=${PHASE_SNAP[0]}
T_PUT_END=${SNAP[0]}
w1=$(thread_ticks "${WORKER_TIDS[@]}")

# 3. drain: until delivered + buffered stops growing
log "$srv: drain (until the engine has read every record)"
perf_begin drain
phase_begin
# (few forks in this loop: they count as the load generator's CPU)
last_val=-1
last_change=${EPOCHREALTIME/./}
stable_us=$(awk -v s="$STABLE_S" 'BEGIN { printf "%d", s * 1e6 }')
drain_deadline=$(( ${EPOCHREALTIME%.*} + DELIVERY_TIMEOUT + 60 ))
DRAIN_CAPPED=0
while :; do
    read -r _ _ d b _ <<<"$(last_sample)" || true
    val=$(( ${d:-0} + ${b:-0} ))
    now=${EPOCHREALTIME/./}
    if [ "$val" != "$last_val" ]; then
        last_val=$val
        last_change=$now
    elif [ "$val" -ge "$ACKED" ] && [ "$val" -gt 0 ] && [ $((now - last_change)) -ge "$stable_us" ]; then
        break
    fi
    if [ "${EPOCHREALTIME%.*}" -ge "$drain_deadline" ]; then
        DRAIN_CAPPED=1
        break
    fi
    sleep 0.1
done
phase_end "$srv" drain
perf_end
w2=$(thread_ticks "${WORKER_TIDS[@]}")
[ "$DRAIN_CAPPED" = 0 ] ||
    NOTES+=("the engine read only $last_val records (delivered + buffered) of the $ACKED acknowledged within $((DELIVERY_TIMEOUT + 60)) s")

# 4. what the stream holds, then the last buffer
log "$srv: counting the records in the stream (kload getrecords)"
CMDS+=("\$TMP/kload getrecords PORT $STREAM $SHARDS $SHARDS 10000 120")
run_child "$KLOAD" getrecords "$PORT" "$STREAM" "$SHARDS" "$SHARDS" 10000 120 \
    >"$TMP/kload.out" 2>"$TMP/kload.err" || NOTES+=("kload getrecords: $(cat "$TMP/kload.err")")
records=0 shards=
# shellcheck disable=SC2034 # the other fields of kload's line
eval "$(head -1 "$TMP/kload.out")"
STORED=$records
R[$srv.stored_shards]=$shards
# wrk does not count the requests in flight when it stops, but the server
# stores them: at most CONNS requests more
[ "$STORED" -ge "$ACKED" ] || NOTES+=("the stream holds $STORED records but wrk saw $ACKED acknowledged: records lost at put")
[ "$STORED" -le $((ACKED + CONNS * BATCH)) ] ||
    NOTES+=("the stream holds $STORED records, more than the $ACKED acknowledged plus $CONNS requests in flight")

log "$srv: waiting for the last buffer (IntervalInSeconds $INTERVAL; up to $DELIVERY_TIMEOUT s)"
deadline=$(( $(date +%s) + DELIVERY_TIMEOUT ))
while :; do
    read -r _ _ d _ <<<"$(last_sample)" || true
    [ "${d:-0}" -ge "$STORED" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        NOTES+=("after $DELIVERY_TIMEOUT s only ${d:-0} of the $STORED records in the stream were delivered")
        break
    fi
    sleep 0.1
done
sleep 0.3
stop_bg "$POLL_PID" TERM
POLL_PID=
read -r _ FINAL_OBJECTS FINAL_DELIVERED _ _ _ FINAL_ERROR <<<"$(last_sample)"
[ "$FINAL_ERROR" = - ] || NOTES+=("LastError of $FH: $FINAL_ERROR")
errs=$(awk '{ $1 = $2 = $3 = $4 = $5 = $6 = ""; sub(/^ +/, "") } $0 != "-" && !seen[$0]++' "$TMP/samples" | head -3)
[ -z "$errs" ] || [ "$errs" = "$FINAL_ERROR" ] || NOTES+=("LastError of $FH during the run: $errs")
[ "$FINAL_DELIVERED" = "$STORED" ] ||
    NOTES+=("$FH delivered $FINAL_DELIVERED records but the stream holds $STORED")

python3 "$CHECK" analyze "$TMP/samples" "$SIZE_BYTES" "$RECORD_BYTES" "$T0" "$T_PUT_END" "$STORED" >"$TMP/analyze.out"
# shellcheck disable=SC2034 # not all are reported
samples=0 deliveries=0 full_deliveries=0 full_records=0 records_to_last_full=0 last_full_s=n/a caught_up_s=n/a
# shellcheck disable=SC2034
delivered_at_put_end=0 read_at_put_end=0 last_delivery_s=n/a delivery_sizes=- delivery_times=- max_gap_s=0
eval "$(cat "$TMP/analyze.out")"
awk -v g="$max_gap_s" 'BEGIN { exit !(g > 0.5) }' &&
    WARNINGS+=("the /_tidepool/firehose sampler had a gap of $max_gap_s s: the times below are that coarse")

# 5. verify
log "$srv: fetching and checking every object"
CMDS+=("python3 bench/firehose_check.py verify PORT $BUCKET $PREFIX \$TMP/bodies $NBODIES $RECORD_BYTES")
python3 "$CHECK" verify "$PORT" "$BUCKET" "$PREFIX" "$TMP/bodies" "$NBODIES" "$RECORD_BYTES" >"$TMP/verify.out" ||
    NOTES+=("verify failed: $(tail -3 "$TMP/verify.out")")
# shellcheck disable=SC2034 # the checks' counts: their problems come as "problem:" lines
objects=0 stored_bytes=0 raw_bytes=0 unknown=0 ragged=0 badkey=0 badetag=0 badgzip=0 gzip_members=0 uneven_bodies=0
# shellcheck disable=SC2034
content_encoding=n/a per_object=- seconds=0
records=0
eval "$(grep -v '^problem:' "$TMP/verify.out" | head -1)"
V_RECORDS=$records V_OBJECTS=$objects V_MEMBERS=$gzip_members
while IFS= read -r p; do NOTES+=("verify: ${p#problem: }"); done < <(grep '^problem:' "$TMP/verify.out" || true)
[ "$V_OBJECTS" = "$FINAL_OBJECTS" ] || NOTES+=("the bucket holds $V_OBJECTS objects but $FH counted $FINAL_OBJECTS deliveries")
[ "$V_RECORDS" = "$STORED" ] ||
    NOTES+=("the objects hold $V_RECORDS records but the stream holds $STORED: $(( V_RECORDS - STORED )) records lost (<0) or duplicated (>0)")
[ "$raw_bytes" = "$((STORED * RECORD_BYTES))" ] ||
    NOTES+=("the objects hold $raw_bytes bytes gunzipped, not $STORED x $RECORD_BYTES = $((STORED * RECORD_BYTES))")
[ "$uneven_bodies" = 0 ] ||
    NOTES+=("$uneven_bodies request bodies have records delivered a different number of times: records lost or duplicated")
[ "$content_encoding" = gzip ] || WARNINGS+=("objects carry Content-Encoding: $content_encoding, not gzip")

# 6. lag
LAG_OUT=
if [ "$LAG" = 1 ]; then
    specs=()
    max_iv=0
    IFS=, read -r -a ivs <<<"$LAG_INTERVALS"
    for iv in "${ivs[@]}"; do
        create_stream "lag$iv"
        create_fh "lag$iv-fh" "lag$iv" "$BUCKET" "lag$iv/" 1 "$iv"
        specs+=("lag$iv:$BUCKET:lag$iv/:$iv")
        [ "$iv" -gt "$max_iv" ] && max_iv=$iv
    done
    sleep 0.5
    log "$srv: lag (IntervalInSeconds $LAG_INTERVALS; one PutRecord every $LAG_PERIOD_MS ms for $LAG_SECONDS s)"
    CMDS+=("python3 bench/firehose_check.py lag PORT $RECORD_BYTES $LAG_SECONDS $LAG_PERIOD_MS $((max_iv + 30)) ${specs[*]}")
    phase_begin
    run_child python3 "$CHECK" lag "$PORT" "$RECORD_BYTES" "$LAG_SECONDS" "$LAG_PERIOD_MS" $((max_iv + 30)) \
        "${specs[@]}" >"$TMP/lag.out" 2>&1 || NOTES+=("lag phase failed: $(tail -3 "$TMP/lag.out")")
    phase_end "$srv" lag
    LAG_OUT=$(grep '^interval=' "$TMP/lag.out" || true)
    while IFS= read -r p; do NOTES+=("lag: ${p#problem: }"); done < <(grep '^problem:' "$TMP/lag.out" || true)
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        # shellcheck disable=SC2034 # some are only for the report
        interval='' put=0 seen=0 missing=0 duplicates=0 unacked_seen=0 objects=0 errors=0
        eval "$line"
        [ "$missing" = 0 ] && [ "$duplicates" = 0 ] && [ "$seen" = "$put" ] ||
            NOTES+=("lag IntervalInSeconds $interval: $put records put, $seen seen, $missing missing, $duplicates duplicated, $unacked_seen unacknowledged")
    done <<<"$LAG_OUT"
    curl -s --max-time 5 "http://127.0.0.1:$PORT/_tidepool/firehose" >"$TMP/fhstatus" || true
    python3 - "$TMP/fhstatus" >"$TMP/lagerrs" <<'EOF' || true
import json, sys
for d in json.load(open(sys.argv[1]))["DeliveryStreams"]:
    if d.get("LastError"):
        print("LastError of %s: %s" % (d["DeliveryStreamName"], d["LastError"]))
EOF
    while IFS= read -r p; do NOTES+=("$p"); done <"$TMP/lagerrs"
fi

# the server's log: any line but info and debug ones (warn, error, or not a
# log line at all: a crash, a sanitizer report)
badlog=$(grep -vhE '^[0-9-]+T[0-9:]+Z (info|debug) ' "$TMP/tidepool.err" | cut -c1-200 | sort | uniq -c |
    sort -rn | head -5 | tr '\n' ';' || true)
[ -z "$badlog" ] || NOTES+=("the server logged: $badlog")
[ -d "$TMP/tidepool-data" ] && R[$srv.data_mb]=$(du -sm "$TMP/tidepool-data" | cut -f1)
server_end "$srv"

# ---- report ----
tck_s() { awk -v t="$1" -v k="$TCK" 'BEGIN { printf "%.2f", t / k }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN { if (b + 0 > 0 && a != "n/a") printf f, a / b; else print "n/a" }'; }
sub_() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf f, a - b }'; }

PUT_S=$(sub_ "$T_PUT_END" "$T0" %.3f)
SUSTAINED=$(div "$records_to_last_full" "$last_full_s")
CAUGHT_RATE=$(div "$STORED" "$caught_up_s")
BACKLOG=$(( STORED - read_at_put_end ))
DRAIN_S=$(sub_ "$caught_up_s" "$PUT_S" %.3f)
if [ "$BACKLOG" -gt $((2 * BATCH * CONNS)) ]; then
    DRAIN_RATE=$(div "$BACKLOG" "$DRAIN_S")
else
    DRAIN_RATE="n/a (no backlog)"
fi
W_PUT=$(tck_s $((w1 - w0)))
W_DRAIN=$(tck_s $((w2 - w1)))
W_ALL=$(tck_s $((w2 - w0)))
PER_CPU=$(div "$STORED" "$W_ALL")
W_PCT_PUT=$(div "$(awk -v s="$W_PUT" 'BEGIN {print s * 100}')" "$PUT_S")
W_PCT_DRAIN=$(div "$(awk -v s="$W_DRAIN" 'BEGIN {print s * 100}')" "${R[$srv.drain.wall]}")
GZ=$(div "$raw_bytes" "$stored_bytes" %.2f)

if [ "${TP_STORE[0]}" = --in-memory ]; then
    store="tidepool: --in-memory (SQLite on /dev/shm, synchronous=OFF)."
else
    store="tidepool: --data on $(data_disk) (SQLite WAL, synchronous=NORMAL)."
fi
if [ "$RATE" = 0 ]; then
    load="wrk $WRK_THREADS threads / $CONNS connections / ${DURATION}s"
else
    load="kload putrate, $RATE records/s paced over $CONNS connections for ${DURATION}s"
fi
report_header Firehose "no peer: Firehose delivery is tidepool's own" "$store" \
    "load: $load of PutRecords x$BATCH into a $SHARDS-shard stream; records are $RECORD_BYTES B of JSON-like text (random words and numbers; zlib level 1 shrinks them ${GZIP_RATIO}x)." \
    "delivery stream: KinesisStreamAsSource → ExtendedS3, GZIP, SizeInMBs $SIZE_MB, IntervalInSeconds $INTERVAL; /_tidepool/firehose sampled every $POLL_MS ms."
W=62
mrow() { printf "| %-${W}s | %18s |\n" "$1" "$2"; }
printf "| %-${W}s | %18s |\n" metric tidepool
printf "|%s|%s|\n" "$(dashes $((W + 2)))" "$(dashes 20)"
mrow "PutRecords records/s acknowledged (during the puts)" "$(v $srv.put.rec)"
if [ "$RATE" = 0 ]; then
    mrow "PutRecords p50 / p99 latency ms" "$(v $srv.put.p50) / $(v $srv.put.p99)"
else
    mrow "puts behind the $RATE records/s schedule, worst ms" "$(v $srv.put.behind_ms)"
fi
mrow "records acknowledged / in the stream" "$ACKED / $STORED"
mrow "sustained delivery records/s (first put to last full object)" "$SUSTAINED"
mrow "records/s, first put to engine read everything" "$CAUGHT_RATE"
mrow "puts lasted / engine caught up / last full object (s)" "$PUT_S / $caught_up_s / $last_full_s"
mrow "engine backlog when the puts ended (records)" "$BACKLOG"
mrow "delivery-only records/s (draining that backlog alone)" "$DRAIN_RATE"
mrow "records per CPU-second of the delivery worker thread" "$PER_CPU"
mrow "delivery worker CPU s (put / drain)" "$W_PUT / $W_DRAIN"
mrow "objects delivered (full ones; gzip members)" "$V_OBJECTS ($full_deliveries; $V_MEMBERS)"
mrow "records delivered (status / counted in the objects)" "$FINAL_DELIVERED / $V_RECORDS"
mrow "gunzipped bytes (= records in the stream x $RECORD_BYTES?)" "$raw_bytes ($([ "$raw_bytes" = "$((STORED * RECORD_BYTES))" ] && echo equal || echo DIFFER))"
mrow "S3 bytes stored (gzip ratio)" "$stored_bytes (${GZ}x)"
mrow "last (partial) object after first put (s)" "$last_delivery_s"
mrow "non-2xx / socket errors (puts)" "$(v $srv.put.non2xx)/$(v $srv.put.errors)"
mrow "idle RSS after start / after the run kB" "$(v $srv.rss_start) / $(v $srv.rss_end)"
echo
echo "CPU, % of one core ($(nproc) cores = $(( $(nproc) * 100 ))%): server / load generator / whole machine; and the delivery worker thread"
printf "| %-34s | %-22s | %-14s |\n" phase "server / load / machine" "worker thread"
printf "|%s|%s|%s|\n" "$(dashes 36)" "$(dashes 24)" "$(dashes 16)"
printf "| %-34s | %-22s | %-14s |\n" "put (${PUT_S} s)" \
    "$(v $srv.put.cpu_srv) / $(v $srv.put.cpu_cli) / $(v $srv.put.cpu_all)" "$W_PCT_PUT"
printf "| %-34s | %-22s | %-14s |\n" "drain ($(v $srv.drain.wall) s, incl. ${STABLE_S} s idle)" \
    "$(v $srv.drain.cpu_srv) / $(v $srv.drain.cpu_cli) / $(v $srv.drain.cpu_all)" "$W_PCT_DRAIN"
[ "$LAG" = 1 ] && printf "| %-34s | %-22s | %-14s |\n" "lag ($(v $srv.lag.wall) s)" \
    "$(v $srv.lag.cpu_srv) / $(v $srv.lag.cpu_cli) / $(v $srv.lag.cpu_all)" "n/a"
echo "(load generator: wrk or kload in put, the script's polling loop in drain, firehose_check.py in lag; the 50 ms sampler is not counted)"
echo
echo "deliveries (records per object; seconds after the first put):"
echo "  records: $delivery_sizes"
echo "  at:      $delivery_times"
echo "records per shard in the stream: $(v $srv.stored_shards)"
echo "tidepool data dir after the run: $(v $srv.data_mb) MB"

if [ "$LAG" = 1 ] && [ -n "$LAG_OUT" ]; then
    echo
    echo "delivery lag: one $RECORD_BYTES B PutRecord every $LAG_PERIOD_MS ms for $LAG_SECONDS s per delivery stream (SizeInMBs 1, GZIP);"
    echo "object lag = first seen in ListObjectsV2 (polled every 50 ms) - send time of its oldest record; record lag = first seen - its own send time"
    printf "| %8s | %9s | %7s | %16s | %16s | %16s | %14s |\n" "interval" "put/seen" objects "obj lag med/max" \
        "rec lag med/max" "med - interval" "records/object"
    printf "|%s|%s|%s|%s|%s|%s|%s|\n" "$(dashes 10)" "$(dashes 11)" "$(dashes 9)" "$(dashes 18)" "$(dashes 18)" \
        "$(dashes 18)" "$(dashes 16)"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        interval='' put=0 seen=0 objects=0 obj_lag_med=n/a obj_lag_max=n/a rec_lag_med=n/a rec_lag_max=n/a per_object=-
        eval "$line"
        po=$per_object
        [ ${#po} -gt 14 ] && po="${po:0:11}..."
        printf "| %8s | %9s | %7s | %16s | %16s | %16s | %14s |\n" "${interval} s" "$put/$seen" "$objects" \
            "$obj_lag_med / $obj_lag_max" "$rec_lag_med / $rec_lag_max" "$(sub_ "$obj_lag_med" "$interval")" "$po"
    done <<<"$LAG_OUT"
fi

echo
echo "targets (tidepool):"
target "sustained delivery records/s" "$SUSTAINED" ">=" 100000
[ "$RATE" -gt 0 ] && [ "$RATE" -lt 100000 ] && echo "  (with --rate $RATE the sustained rate cannot exceed $RATE: the question is whether delivery keeps up)"
target "|gunzipped bytes - stream records x $RECORD_BYTES|" \
    "$(awk -v a="$raw_bytes" -v b="$((STORED * RECORD_BYTES))" 'BEGIN { d = a - b; print d < 0 ? -d : d }')" "<" 1
target "|records delivered - records in the stream|" "$(( V_RECORDS > STORED ? V_RECORDS - STORED : STORED - V_RECORDS ))" "<" 1
echo
echo "exact load commands (\$TMP = the run's temp dir, PORT = the server's):"
print_cmds "${CMDS[@]}"
print_notes
if [ "$PERF" = 1 ]; then
    perf_report put || true
    perf_report drain || true
    for ph in put drain; do
        [ -s "$TMP/perf.$ph.data" ] || continue
        echo
        echo "perf: tidepool during $ph by thread and library (the delivery worker is thread ${WORKER_TIDS[*]:-?};"
        echo "      storage's writer and checkpointer are the next two TIDs after the process id $SERVER_PID):"
        perf report -i "$TMP/perf.$ph.data" --no-children --sort pid,dso --stdio -g none 2>/dev/null |
            awk '/^ +[0-9.]+%/ && n++ < 15 { sub(/ +$/, ""); print }' || true
    done
fi
[ ${#NOTES[@]} -eq 0 ]
