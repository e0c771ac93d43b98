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

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
CMDLINE="bench/kinesis.sh${*:+ $*}"

DURATION=10
SINGLE_BYTES=1024
PERF=0
KINESALITE=1
TIDEPOOL="$ROOT/build/tidepool"
TP_STORE=()
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --single-bytes) SINGLE_BYTES=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    --no-kinesalite) KINESALITE=0; shift ;;
    --in-memory) TP_STORE=(--in-memory); shift ;;
    --tidepool) TIDEPOOL=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "kinesis.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

STREAM=bench
SHARDS=4
BATCH=500
BATCH_BYTES=1024
CONNS=8
WRK_THREADS=2
READERS=4
READ_LIMIT=10000
KINESALITE_VERSION=3.3.3
AUTH='AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'

TMP=$(mktemp -d /tmp/tidepool-bench.XXXXXX)
SERVER_PID=
PERF_PID=
CHILD_PID=
CUR_SRV=

fail() { echo "kinesis.sh: FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

stop_pid() { # pid: SIGTERM, wait up to 5 s, then SIGKILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "kinesis.sh: pid $pid ignored SIGTERM for 5 s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    [ -n "$CHILD_PID" ] && { kill -TERM "$CHILD_PID" 2>/dev/null || true; wait "$CHILD_PID" 2>/dev/null || true; }
    [ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; }
    [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_child CMD...: runs a load generator in the background and waits for it,
# so that SIGINT/SIGTERM reach the trap at once (bash defers traps while a
# foreground child runs) and cleanup can stop it.
run_child() {
    "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    return $rc
}

# ---- prerequisites ----
for t in wrk gcc python3 curl; do
    command -v "$t" >/dev/null || fail "$t not found (Debian: apt-get install wrk gcc python3 curl)"
done
if [ ! -x "$TIDEPOOL" ]; then
    log "building tidepool"
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build" -j2 --target tidepool >/dev/null
fi
[ -x "$TIDEPOOL" ] || fail "no tidepool binary at $TIDEPOOL"
# run a private copy: others may rebuild build/tidepool while this runs
TIDEPOOL_SRC=$TIDEPOOL
cp "$TIDEPOOL" "$TMP/tidepool"
TIDEPOOL="$TMP/tidepool"
gcc -O2 -Wall -pthread -o "$TMP/kload" "$BENCH/kload.c" || fail "cannot build bench/kload.c"
KLOAD="$TMP/kload"
KL_CLI="$BENCH/node_modules/kinesalite/cli.js"
if [ "$KINESALITE" = 1 ]; then
    command -v node >/dev/null || fail "node not found (kinesalite needs Node.js)"
    if ! grep -qs "\"version\": \"$KINESALITE_VERSION\"" "$BENCH/node_modules/kinesalite/package.json"; then
        log "installing kinesalite@$KINESALITE_VERSION into bench/node_modules"
        npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$BENCH" \
            "kinesalite@$KINESALITE_VERSION" >&2 || fail "npm install kinesalite@$KINESALITE_VERSION failed"
    fi
fi

log "generating request bodies"
python3 "$BENCH/mkbodies.py" "$TMP/bodies" "$STREAM" "$BATCH" "$BATCH_BYTES" 8 "$SINGLE_BYTES" 64

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME READY_PATTERN CMD...: runs CMD in the background, waits
# for READY_PATTERN on its stdout; sets SERVER_PID and PORT.
start_server() {
    local name=$1 pattern=$2 i
    shift 2
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    for i in $(seq 300); do
        if grep -q "$pattern" "$TMP/$name.out" 2>/dev/null; then
            PORT=$(grep -m1 "$pattern" "$TMP/$name.out" | grep -o '[0-9]*$')
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "--- $name stdout:" >&2; cat "$TMP/$name.out" >&2
    echo "--- $name stderr:" >&2; tail -20 "$TMP/$name.err" >&2
    fail "$name did not start (command: $*)"
}

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

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# cpu_busy SECONDS: percentage of all CPUs busy (anything else running).
cpu_busy() {
    local a b
    a=($(head -1 /proc/stat)); sleep "$1"; b=($(head -1 /proc/stat))
    local tot=0 idle i
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}

declare -A R       # R[server.metric] = value
TCK=$(getconf CLK_TCK)

# CPU accounting for a phase: server (utime+stime of SERVER_PID), client (the
# children this shell waited for: wrk, kload), whole machine (/proc/stat).
# cpu_snap: SNAP=(wall_s machine_total machine_idle server_ticks client_s). Must
# run in this shell, not in $(...): `times` only sees this shell's children.
SNAP=()
cpu_snap() {
    local st a f cli
    read -r -a a </proc/stat
    st=$(cat "/proc/$SERVER_PID/stat" 2>/dev/null || echo "x) x 0 0 0 0 0 0 0 0 0 0 0 0 0")
    st=${st##*) }
    f=($st)
    times >"$TMP/times"
    cli=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, x, /[ms]/); t += x[1] * 60 + x[2] }
                         printf "%.3f", t }' "$TMP/times")
    SNAP=("$(date +%s.%N)" $((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8])) $((a[4] + a[5]))
          $((f[11] + f[12])) "$cli")
}
PHASE_SNAP=()
phase_begin() { cpu_snap; PHASE_SNAP=("${SNAP[@]}"); }
phase_end() { # SERVER PHASE: R[srv.phase.cpu_srv|cpu_cli|cpu_all] in % of one core
    local b e
    cpu_snap
    b=("${PHASE_SNAP[@]}")
    e=("${SNAP[@]}")
    local vals
    vals=$(awk -v w0="${b[0]}" -v w1="${e[0]}" -v t0="${b[1]}" -v t1="${e[1]}" -v i0="${b[2]}" -v i1="${e[2]}" \
        -v s0="${b[3]}" -v s1="${e[3]}" -v c0="${b[4]}" -v c1="${e[4]}" -v tck="$TCK" -v n="$(nproc)" 'BEGIN {
        w = w1 - w0; if (w <= 0) w = 1
        printf "%.0f %.0f %.0f", 100 * (s1 - s0) / tck / w, 100 * (c1 - c0) / w,
               (t1 > t0) ? n * 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 0 }')
    read -r R[$1.$2.cpu_srv] R[$1.$2.cpu_cli] R[$1.$2.cpu_all] <<<"$vals"
}
perf_begin() { # PHASE: with --perf, record tidepool's stacks during the phase
    if [ "$PERF" = 1 ] && [ "$CUR_SRV" = tidepool ]; then
        perf record -F 499 -g -o "$TMP/perf.$1.data" -p "$SERVER_PID" >"$TMP/perf.$1.log" 2>&1 &
        PERF_PID=$!
        sleep 0.2
    fi
}
perf_end() {
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=
    fi
}
WRK_CMDS=()

# run_wrk SERVER PHASE TARGET FILE_PREFIX COUNT RECORDS_PER_REQUEST
run_wrk() {
    local srv=$1 phase=$2 target=$3 prefix=$4 count=$5 per=$6
    local cmd=(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$BENCH/put.lua"
               "http://127.0.0.1:$PORT/")
    WRK_CMDS+=("BENCH_TARGET=$target BENCH_FILES=\$TMP/bodies/$prefix BENCH_COUNT=$count ${cmd[*]}")
    log "$srv: $phase (${DURATION}s, $CONNS connections)"
    perf_begin "$phase"
    phase_begin
    BENCH_TARGET=$target BENCH_FILES="$TMP/bodies/$prefix" BENCH_COUNT=$count run_child "${cmd[@]}" \
        >"$TMP/$srv.$phase.wrk" 2>&1 || fail "wrk failed: $(cat "$TMP/$srv.$phase.wrk")"
    phase_end "$srv" "$phase"
    perf_end
    local line
    line=$(grep '^WRKRESULT' "$TMP/$srv.$phase.wrk") || fail "no wrk result: $(cat "$TMP/$srv.$phase.wrk")"
    local requests duration_us non2xx connect_err read_err write_err timeouts p50_us p90_us p99_us max_us
    eval "${line#WRKRESULT }"
    local errs=$((connect_err + read_err + write_err + timeouts))
    R[$srv.$phase.req]=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.1f", r / (d / 1e6)}')
    R[$srv.$phase.rec]=$(awk -v r="$requests" -v d="$duration_us" -v p="$per" 'BEGIN {printf "%.0f", r * p / (d / 1e6)}')
    R[$srv.$phase.p50]=$(awk -v v="$p50_us" 'BEGIN {printf "%.1f", v / 1000}')
    R[$srv.$phase.p99]=$(awk -v v="$p99_us" 'BEGIN {printf "%.1f", v / 1000}')
    R[$srv.$phase.requests]=$requests
    R[$srv.$phase.non2xx]=$non2xx
    R[$srv.$phase.errors]=$errs
    if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
        NOTES+=("$srv $phase: $non2xx non-2xx responses and $errs socket errors/timeouts out of $requests requests")
        local code
        code=$(api "$target" "$(cat "$TMP/bodies/${prefix}0.json")")
        NOTES+=("  sample $target now answers HTTP $code: $(head -c 300 "$TMP/resp")")
    fi
}

NOTES=()

bench_server() { # NAME: the server is already running (SERVER_PID, PORT)
    local srv=$1
    CUR_SRV=$srv
    sleep 0.3
    R[$srv.rss_start]=$(rss_kb "$SERVER_PID")
    create_stream
    run_wrk "$srv" putrecords PutRecords putrecords- 8 "$BATCH"
    run_wrk "$srv" putrecord PutRecord putrecord- 64 1
    log "$srv: GetRecords read-back ($READERS readers, Limit $READ_LIMIT)"
    local line
    KLOAD_CMD="\$TMP/kload getrecords PORT $STREAM $SHARDS $READERS $READ_LIMIT 60"
    perf_begin get
    phase_begin
    run_child "$KLOAD" getrecords "$PORT" "$STREAM" "$SHARDS" "$READERS" "$READ_LIMIT" 60 \
        >"$TMP/$srv.kload.out" 2>"$TMP/$srv.kload.err" ||
        NOTES+=("$srv GetRecords: $(cat "$TMP/$srv.kload.err") [$(cat "$TMP/$srv.kload.out")]")
    phase_end "$srv" get
    perf_end
    line=$(cat "$TMP/$srv.kload.out")
    local records=0 requests=0 non200=0 errors=0 seconds=0 records_per_s=0 MB_per_s=0 shards=
    eval "$line"
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
    sleep 1
    R[$srv.rss_end]=$(rss_kb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    SERVER_PID=
}

# ---- run ----
BUSY=$(cpu_busy 1)
log "CPU busy before start (other processes): ${BUSY}%"
WARNINGS=()
[ "$BUSY" -gt 15 ] && WARNINGS+=("the machine was ${BUSY}% busy before the run: other processes skew the numbers")

log "tidepool: startup time"
R[tidepool.start_mem]=$("$KLOAD" startup 10 "tidepool ready on" -- "$TIDEPOOL" serve --port 0 --in-memory) ||
    fail "tidepool --in-memory did not start"
R[tidepool.start_data]=$("$KLOAD" startup 10 "tidepool ready on" -- "$TIDEPOOL" serve --port 0 \
    --data "$TMP/start-%RUN%") || fail "tidepool --data did not start"

[ ${#TP_STORE[@]} -eq 0 ] && TP_STORE=(--data "$TMP/tidepool-data")
log "tidepool: starting ($TIDEPOOL serve --port 0 ${TP_STORE[*]})"
start_server tidepool "tidepool ready on" "$TIDEPOOL" serve --port 0 "${TP_STORE[@]}"
R[tidepool.data_mb]=n/a
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
v() { echo "${R[$1]:-n/a}"; }
ratio() { # a b -> a/b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "n/a" }'
}
row() { # metric tidepool kinesalite [higher|lower]
    local r
    r=$(ratio "$2" "$3")
    printf "| %-44s | %12s | %12s | %8s |\n" "$1" "$2" "$3" "$r"
}

tp_mem=$(median "$(v tidepool.start_mem)")
tp_data=$(median "$(v tidepool.start_data)")
kl_start=$(median "$(v kinesalite.start_mem)")
echo
echo "tidepool Kinesis benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo "command: $CMDLINE   (tidepool $("$TIDEPOOL" --version | awk '{print $2}') = copy of $TIDEPOOL_SRC, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty'); kinesalite $KINESALITE_VERSION on node $(node --version 2>/dev/null || echo '?'))"
echo "load: wrk $WRK_THREADS threads / $CONNS connections / ${DURATION}s per phase; GetRecords by bench/kload.c, $READERS readers."
echo "NOTE: the load generator runs on the same $(nproc) cores as the server; the server gets at most what the client leaves."
if [ "${TP_STORE[0]}" = --in-memory ]; then
    echo "tidepool: --in-memory (SQLite on /dev/shm, synchronous=OFF); kinesalite: default in-memory store (memdown)."
else
    echo "tidepool: --data on $(df -P "$TMP" | awk 'NR==2 {print $1}') (SQLite WAL, synchronous=NORMAL); kinesalite: default in-memory store (memdown)."
fi
echo "CPU busy before the run (other processes): ${BUSY}%"
echo
printf "| %-44s | %12s | %12s | %8s |\n" metric tidepool kinesalite ratio
printf "|%s|%s|%s|%s|\n" "----------------------------------------------" "--------------" "--------------" "----------"
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
echo
echo "CPU during each phase, % of one core ($(nproc) cores = $(( $(nproc) * 100 ))%): server / load generator / whole machine"
printf "| %-12s | %-26s | %-26s |\n" phase tidepool kinesalite
printf "|%s|%s|%s|\n" "--------------" "----------------------------" "----------------------------"
for ph in putrecords putrecord get; do
    printf "| %-12s | %-26s | %-26s |\n" "$ph" \
        "$(v tidepool.$ph.cpu_srv) / $(v tidepool.$ph.cpu_cli) / $(v tidepool.$ph.cpu_all)" \
        "$(v kinesalite.$ph.cpu_srv) / $(v kinesalite.$ph.cpu_cli) / $(v kinesalite.$ph.cpu_all)"
done
echo "(whole machine minus server minus load generator = other processes on the machine)"
echo
echo "ratio = tidepool / kinesalite (higher is better for rates, lower for latency, time and RSS)."
echo "startup: tidepool $(v tidepool.start_mem) (--in-memory), $(v tidepool.start_data) (--data);" \
     "kinesalite $(v kinesalite.start_mem) (until 'Listening at')"
echo "tidepool data dir after the run: $(v tidepool.data_mb) MB"
echo "records per shard read back: tidepool $(v tidepool.get.shards); kinesalite $(v kinesalite.get.shards)"
echo

target() { # name value op threshold
    local met
    met=$(awk -v x="$2" -v t="$4" -v op="$3" 'BEGIN { if (x == "" || x == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (x + 0 >= t) : (x + 0 < t); print ok ? "met" : "NOT met" }')
    printf "  %-46s %-12s %s %-10s %s\n" "$1" "$2" "$3" "$4" "$met"
}
kl_x=$(awk -v a="$(v tidepool.putrecords.rec)" -v b="$(v kinesalite.putrecords.rec)" \
    'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "n/a" }')
echo "targets (tidepool):"
target "PutRecords records/s" "$(v tidepool.putrecords.rec)" ">=" 150000
target "PutRecords vs kinesalite (x)" "$kl_x" ">=" 25
target "PutRecord requests/s" "$(v tidepool.putrecord.req)" ">=" 20000
target "GetRecords records/s" "$(v tidepool.get.rec)" ">=" 300000
target "ready, --in-memory (ms)" "${tp_mem:-n/a}" "<" 50
target "ready, fresh --data (ms)" "${tp_data:-n/a}" "<" 50
target "idle RSS after start (kB)" "$(v tidepool.rss_start)" "<" 15360
echo
echo "exact load commands (\$TMP = the run's temp dir, PORT = the server's):"
for c in "${WRK_CMDS[@]}"; do echo "  $c"; done | sed "s/127.0.0.1:[0-9]*/127.0.0.1:PORT/" | awk '!seen[$0]++'
echo "  $KLOAD_CMD"
echo "  \$TMP/kload startup 10 'tidepool ready on' -- \$TMP/tidepool serve --port 0 --in-memory   (and --data \$TMP/start-N)"
if [ ${#WARNINGS[@]} -gt 0 ]; then
    echo
    echo "warnings:"
    for n in "${WARNINGS[@]}"; do echo "  - $n"; done
fi
if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    echo "PROBLEMS (the numbers above are not valid):"
    for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
if [ "$PERF" = 1 ]; then
    for ph in putrecords putrecord get; do
        [ -s "$TMP/perf.$ph.data" ] || continue
        echo
        echo "perf: tidepool during $ph, top functions by self time (with perf attached, so that phase ran slower):"
        perf report -i "$TMP/perf.$ph.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
            awk '/^ +[0-9.]+%/ && n++ < 20 { sub(/ +- +- *$/, ""); print }' || true
    done
fi
[ ${#NOTES[@]} -eq 0 ]
