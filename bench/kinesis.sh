#!/usr/bin/env bash
# Kinesis data-plane benchmark: tidepool against kinesalite 3.3.3, same load,
# same machine, one run. See bench/README.md.
#
# usage: bench/kinesis.sh [--duration SECONDS] [--single-bytes N] [--perf]
#                         [--no-kinesalite] [--in-memory] [--tidepool PATH]
#
#   --duration S       length of each wrk phase (default 10)
#   --single-bytes N   PutRecord record size (default 1024; peers.md §6 used 75)
#   --perf             also `perf record` tidepool during each of its phases
#                      and print the top functions (perturbs the numbers a bit)
#   --no-kinesalite    tidepool only
#   --in-memory        run tidepool with --in-memory (SQLite on /dev/shm,
#                      synchronous=OFF) instead of a fresh --data dir on disk
#   --tidepool PATH    binary to test (default build/tidepool, built if missing)
#
# Phases per server (each started fresh on a free port with a temp data dir):
#   1. PutRecords: 500 records x 1 KiB random data, varied partition keys
#      (all 4 shards), 8 connections, wrk
#   2. PutRecord: one record per request, 8 connections, wrk
#   3. GetRecords: 4 readers (one per shard) read everything back from
#      TRIM_HORIZON with Limit 10000 following NextShardIterator (bench/kload.c)
#   4. startup time (exec -> ready) and idle RSS (VmRSS) after start and after
#      the benchmark
set -euo pipefail

SCRIPT=kinesis.sh
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMDLINE="bench/$SCRIPT${*:+ $*}"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

SINGLE_BYTES=1024
KINESALITE=1
while [ $# -gt 0 ]; do
    case "$1" in
    --single-bytes) SINGLE_BYTES=$2; shift 2 ;;
    --no-kinesalite) KINESALITE=0; shift ;;
    *) common_option "$@"; shift "$NSHIFT" ;;
    esac
done

STREAM=bench
SHARDS=4
BATCH=500
BATCH_BYTES=1024
CONNS=8
WRK_THREADS=2
WRK_REQ_FMT=%.1f
WRK_LAT_FMT=%.1f
READERS=4
READ_LIMIT=10000
AUTH='AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'

bench_setup tidepool-bench

# ---- prerequisites ----
need_tools "Debian: apt-get install wrk gcc python3 curl" wrk gcc python3 curl
prepare_binaries
KL_CLI="$BENCH/node_modules/kinesalite/cli.js"
if [ "$KINESALITE" = 1 ]; then
    install_peer kinesalite "$KINESALITE_VERSION" "s3rver@$S3RVER_VERSION"
fi

log "generating request bodies"
python3 "$BENCH/mkbodies.py" "$TMP/bodies" "$STREAM" "$BATCH" "$BATCH_BYTES" 8 "$SINGLE_BYTES" 64

# api OP JSON: one request with curl; body in $TMP/resp, prints the status.
api() {
    curl -s -o "$TMP/resp" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$PORT/" \
        -H "X-Amz-Target: Kinesis_20131202.$1" -H 'Content-Type: application/x-amz-json-1.1' \
        -H "Authorization: $AUTH" -H 'X-Amz-Date: 20260101T000000Z' --data-binary "$2" || echo 000
}

create_stream() {
    local code i
    code=$(api CreateStream "{\"StreamName\":\"$STREAM\",\"ShardCount\":$SHARDS}")
    [ "$code" = 200 ] || fail "CreateStream: HTTP $code $(cat "$TMP/resp")"
    for i in $(seq 100); do
        code=$(api DescribeStreamSummary "{\"StreamName\":\"$STREAM\"}")
        [ "$code" = 200 ] && grep -q '"StreamStatus":"ACTIVE"' "$TMP/resp" && return 0
        sleep 0.1
    done
    fail "stream $STREAM never became ACTIVE: HTTP $code $(cat "$TMP/resp")"
}

# wrk_probe TARGET FILE_PREFIX: after wrk saw errors, what one request answers now
wrk_probe() {
    local code
    code=$(api "$1" "$(cat "$TMP/bodies/${2}0.json")")
    NOTES+=("  sample $1 now answers HTTP $code: $(head -c 300 "$TMP/resp")")
}

# run_wrk SERVER PHASE TARGET FILE_PREFIX COUNT RECORDS_PER_REQUEST
run_wrk() {
    local srv=$1 phase=$2 target=$3 prefix=$4 count=$5 per=$6
    BENCH_TARGET=$target BENCH_FILES="$TMP/bodies/$prefix" BENCH_COUNT=$count \
        wrk_phase "$srv" "$phase" put.lua "BENCH_TARGET=$target BENCH_FILES=\$TMP/bodies/$prefix BENCH_COUNT=$count" \
        wrk_probe "$target" "$prefix"
    R[$srv.$phase.rec]=$(awk -v r="${R[$srv.$phase.requests]}" -v d="${R[$srv.$phase.duration_us]}" -v p="$per" \
        'BEGIN {printf "%.0f", r * p / (d / 1e6)}')
}

bench_server() { # NAME: the server is already running (SERVER_PID, PORT)
    local srv=$1
    server_begin "$srv"
    create_stream
    run_wrk "$srv" putrecords PutRecords putrecords- 8 "$BATCH"
    run_wrk "$srv" putrecord PutRecord putrecord- 64 1
    log "$srv: GetRecords read-back ($READERS readers, Limit $READ_LIMIT)"
    CMDS+=("\$TMP/kload getrecords PORT $STREAM $SHARDS $READERS $READ_LIMIT 60")
    phase_run "$srv" get "$KLOAD" getrecords "$PORT" "$STREAM" "$SHARDS" "$READERS" "$READ_LIMIT" 60 \
        >"$TMP/$srv.kload.out" 2>"$TMP/$srv.kload.err"
    [ "$PHASE_RC" = 0 ] ||
        NOTES+=("$srv GetRecords: $(cat "$TMP/$srv.kload.err") [$(cat "$TMP/$srv.kload.out")]")
    local records=0 requests=0 non200=0 errors=0 seconds=0 records_per_s=0 MB_per_s=0 shards=
    eval "$(cat "$TMP/$srv.kload.out")"
    R[$srv.get.rec]=$records_per_s
    R[$srv.get.req]=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.1f", r / s}')
    R[$srv.get.mbs]=$MB_per_s
    R[$srv.get.records]=$records
    R[$srv.get.shards]=$shards
    R[$srv.get.non200]=$((non200 + errors))
    local acked=$(( R[$srv.putrecords.requests] * BATCH + R[$srv.putrecord.requests] ))
    R[$srv.acked]=$acked
    [ "$records" -ge "$acked" ] ||
        NOTES+=("$srv: read back $records records but wrk saw $acked acknowledged: records lost?")
    case ",$shards," in *,0,*) NOTES+=("$srv: a shard got no records ($shards)") ;; esac
    [ "$srv" = tidepool ] && [ -d "$TMP/tidepool-data" ] && R[$srv.data_mb]=$(du -sm "$TMP/tidepool-data" | cut -f1)
    server_end "$srv"
}

# ---- run ----
check_busy

log "tidepool: startup time"
R[tidepool.start_mem]=$("$KLOAD" startup 10 "tidepool ready on" -- "$TIDEPOOL" serve --port 0 --in-memory) ||
    fail "tidepool --in-memory did not start"
R[tidepool.start_data]=$("$KLOAD" startup 10 "tidepool ready on" -- "$TIDEPOOL" serve --port 0 \
    --data "$TMP/start-%RUN%") || fail "tidepool --data did not start"

start_tidepool
bench_server tidepool

if [ "$KINESALITE" = 1 ]; then
    log "kinesalite: startup time"
    KPORT=$(free_port)
    R[kinesalite.start_mem]=$("$KLOAD" startup 3 "Listening at" -- node "$KL_CLI" --port "$KPORT") ||
        fail "kinesalite did not start"
    KPORT=$(free_port)
    log "kinesalite: starting (node $KL_CLI --port $KPORT, in memory: memdown)"
    start_server kinesalite "Listening at" node "$KL_CLI" --port "$KPORT"
    [ "$PORT" = "$KPORT" ] || fail "kinesalite listens on $PORT, not $KPORT"
    bench_server kinesalite
fi

# ---- report ----
median() { sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }

tp_mem=$(median "$(v tidepool.start_mem)")
tp_data=$(median "$(v tidepool.start_data)")
kl_start=$(median "$(v kinesalite.start_mem)")
if [ "${TP_STORE[0]}" = --in-memory ]; then
    store="tidepool: --in-memory (SQLite on /dev/shm, synchronous=OFF); kinesalite: default in-memory store (memdown)."
else
    store="tidepool: --data on $(data_disk) (SQLite WAL, synchronous=NORMAL); kinesalite: default in-memory store (memdown)."
fi
report_header Kinesis "kinesalite $KINESALITE_VERSION on node $(node_version)" "$store" \
    "load: wrk $WRK_THREADS threads / $CONNS connections / ${DURATION}s per phase; GetRecords by bench/kload.c, $READERS readers."
table_begin 44 kinesalite
row "PutRecords x$BATCH (1 KiB) requests/s" "$(v tidepool.putrecords.req)" "$(v kinesalite.putrecords.req)"
row "PutRecords records/s" "$(v tidepool.putrecords.rec)" "$(v kinesalite.putrecords.rec)"
row "PutRecords p50 latency ms" "$(v tidepool.putrecords.p50)" "$(v kinesalite.putrecords.p50)"
row "PutRecords p99 latency ms" "$(v tidepool.putrecords.p99)" "$(v kinesalite.putrecords.p99)"
row "PutRecord ($SINGLE_BYTES B) requests/s" "$(v tidepool.putrecord.req)" "$(v kinesalite.putrecord.req)"
row "PutRecord p50 latency ms" "$(v tidepool.putrecord.p50)" "$(v kinesalite.putrecord.p50)"
row "PutRecord p99 latency ms" "$(v tidepool.putrecord.p99)" "$(v kinesalite.putrecord.p99)"
row "GetRecords read-back records/s" "$(v tidepool.get.rec)" "$(v kinesalite.get.rec)"
row "GetRecords requests/s" "$(v tidepool.get.req)" "$(v kinesalite.get.req)"
row "GetRecords response MB/s" "$(v tidepool.get.mbs)" "$(v kinesalite.get.mbs)"
row "records read back (acked by wrk)" "$(v tidepool.get.records) ($(v tidepool.acked))" \
    "$(v kinesalite.get.records) ($(v kinesalite.acked))"
row "startup to ready ms, in memory (median)" "${tp_mem:-n/a}" "${kl_start:-n/a}"
row "startup to ready ms, fresh --data dir" "${tp_data:-n/a}" "n/a"
row "idle RSS after start kB" "$(v tidepool.rss_start)" "$(v kinesalite.rss_start)"
row "idle RSS after benchmark kB" "$(v tidepool.rss_end)" "$(v kinesalite.rss_end)"
row "non-2xx / socket errors (all phases)" \
    "$(( ${R[tidepool.putrecords.non2xx]:-0} + ${R[tidepool.putrecord.non2xx]:-0} + ${R[tidepool.get.non200]:-0} ))/$(( ${R[tidepool.putrecords.errors]:-0} + ${R[tidepool.putrecord.errors]:-0} ))" \
    "$(( ${R[kinesalite.putrecords.non2xx]:-0} + ${R[kinesalite.putrecord.non2xx]:-0} + ${R[kinesalite.get.non200]:-0} ))/$(( ${R[kinesalite.putrecords.errors]:-0} + ${R[kinesalite.putrecord.errors]:-0} ))"
cpu_table 12 26 kinesalite putrecords putrecord get
echo "(whole machine minus server minus load generator = other processes on the machine)"
echo
echo "ratio = tidepool / kinesalite (higher is better for rates, lower for latency, time and RSS)."
echo "startup: tidepool $(v tidepool.start_mem) (--in-memory), $(v tidepool.start_data) (--data);" \
     "kinesalite $(v kinesalite.start_mem) (until 'Listening at')"
echo "tidepool data dir after the run: $(v tidepool.data_mb) MB"
echo "records per shard read back: tidepool $(v tidepool.get.shards); kinesalite $(v kinesalite.get.shards)"
echo

echo "targets (tidepool):"
target "PutRecords records/s" "$(v tidepool.putrecords.rec)" ">=" 150000
target "PutRecords vs kinesalite (x)" "$(times_x "$(v tidepool.putrecords.rec)" "$(v kinesalite.putrecords.rec)")" ">=" 25
target "PutRecord requests/s" "$(v tidepool.putrecord.req)" ">=" 20000
target "GetRecords records/s" "$(v tidepool.get.rec)" ">=" 300000
target "ready, --in-memory (ms)" "${tp_mem:-n/a}" "<" 50
target "ready, fresh --data (ms)" "${tp_data:-n/a}" "<" 50
target "idle RSS after start (kB)" "$(v tidepool.rss_start)" "<" 15360
echo
echo "exact load commands (\$TMP = the run's temp dir, PORT = the server's):"
print_cmds "${CMDS[@]}" \
    "\$TMP/kload startup 10 'tidepool ready on' -- \$TMP/tidepool serve --port 0 --in-memory   (and --data \$TMP/start-N)"
print_notes
if [ "$PERF" = 1 ]; then
    for ph in putrecords putrecord get; do
        perf_report "$ph" || true
    done
fi
[ ${#NOTES[@]} -eq 0 ]
