#!/usr/bin/env bash
# S3 benchmark: tidepool against s3rver 3.7.1, same load, same machine, one
# run. See bench/README.md.
#
# usage: bench/s3.sh [--duration SECONDS] [--perf] [--no-s3rver] [--in-memory]
#                    [--big-mib N] [--peer-cap SECONDS] [--tidepool PATH]
#
#   --duration S       length of the PUT and GET wrk phases (default 10)
#   --perf             also `perf record` tidepool during each of its phases
#                      and print the top functions (perturbs the numbers a bit)
#   --no-s3rver        tidepool only
#   --in-memory        run tidepool with --in-memory instead of a fresh --data dir
#   --big-mib N        size of the multipart upload file (default 1024 = 1 GiB)
#   --peer-cap S       s3rver is slow: cap its listing top-up PUTs at S seconds
#                      (default 20); its list, upload and download are capped
#                      at 60, 120 and 90 s
#   --tidepool PATH    binary to test (default build/tidepool, built if missing)
#
# Phases per server (each started fresh on a free port with a temp data dir):
#   1. PUT 1 KiB objects under unique keys (w<thread>-<n>), 8 connections, wrk
#      (bench/s3.lua)
#   2. GET random objects among those put in phase 1, 8 connections, wrk
#   3. ListObjectsV2: the phase-1 bucket is topped up to 100,000 keys by
#      `kload s3put` (s3rver: for at most --peer-cap seconds), then
#      `kload s3list` pages through all of it with max-keys=1000
#   4. a multipart upload of a --big-mib file with `aws s3 cp` (CLI v1,
#      default 8 MiB parts, 10 threads), the server's peak RSS during it
#      (VmHWM, reset before the upload, and VmRSS polled every 50 ms), then
#      the download back to a file, checked by size and MD5
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
CMDLINE="bench/s3.sh${*:+ $*}"

DURATION=10
PERF=0
PEER=1
TIDEPOOL="$ROOT/build/tidepool"
TP_STORE=()
BIG_MIB=1024
PEER_CAP=20
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    --no-s3rver) PEER=0; shift ;;
    --in-memory) TP_STORE=(--in-memory); shift ;;
    --big-mib) BIG_MIB=$2; shift 2 ;;
    --peer-cap) PEER_CAP=$2; shift 2 ;;
    --tidepool) TIDEPOOL=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "s3.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

BUCKET=bench
OBJ_BYTES=1024
CONNS=8
WRK_THREADS=2
LIST_KEYS=100000
MAX_KEYS=1000
S3RVER_VERSION=3.7.1
KINESALITE_VERSION=3.3.3     # kept installed next to s3rver (see install below)
BIG_BYTES=$((BIG_MIB * 1024 * 1024))
LIST_TIMEOUT=60              # s3rver caps (tidepool finishes far sooner)
UPLOAD_TIMEOUT=120
DOWNLOAD_TIMEOUT=90

TMP=$(mktemp -d /tmp/tidepool-s3bench.XXXXXX)
SERVER_PID=
PERF_PID=
CHILD_PID=
POLL_PID=
CUR_SRV=

fail() { echo "s3.sh: FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

stop_pid() { # pid: SIGTERM, wait up to 5 s, then SIGKILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "s3.sh: pid $pid ignored SIGTERM for 5 s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    [ -n "$CHILD_PID" ] && { kill -TERM "$CHILD_PID" 2>/dev/null || true; wait "$CHILD_PID" 2>/dev/null || true; }
    [ -n "$POLL_PID" ] && { kill -TERM "$POLL_PID" 2>/dev/null || true; wait "$POLL_PID" 2>/dev/null || true; }
    [ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; }
    [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_child CMD...: runs a load generator in the background and waits for it,
# so that SIGINT/SIGTERM reach the trap at once and cleanup can stop it.
run_child() {
    "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    return $rc
}

# ---- prerequisites ----
for t in wrk gcc python3 curl aws md5sum; do
    command -v "$t" >/dev/null || fail "$t not found (Debian: apt-get install wrk gcc python3 curl awscli)"
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
S3RVER_CLI="$BENCH/node_modules/s3rver/bin/s3rver.js"
if [ "$PEER" = 1 ]; then
    command -v node >/dev/null || fail "node not found (s3rver needs Node.js)"
    if ! grep -qs "\"version\": \"$S3RVER_VERSION\"" "$BENCH/node_modules/s3rver/package.json"; then
        # npm prunes what it was not asked for: install kinesalite (kinesis.sh)
        # in the same command so that neither script removes the other's peer
        log "installing s3rver@$S3RVER_VERSION (and kinesalite@$KINESALITE_VERSION) into bench/node_modules"
        npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$BENCH" \
            "s3rver@$S3RVER_VERSION" "kinesalite@$KINESALITE_VERSION" >&2 ||
            fail "npm install s3rver@$S3RVER_VERSION failed"
    fi
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME READY_PATTERN CMD...: runs CMD in the background, waits
# for READY_PATTERN on its stdout; sets SERVER_PID and PORT (the line's last number).
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

# s3 METHOD PATH [curl args...]: one request with curl; body in $TMP/resp, prints the status.
s3() {
    local m=$1 p=$2
    shift 2
    curl -s -o "$TMP/resp" -w '%{http_code}' --max-time 30 -X "$m" "http://127.0.0.1:$PORT$p" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" || echo 000
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo n/a; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo n/a; }

# rss_poll PID FILE: reads VmRSS (kB) every 50 ms and appends each new
# maximum to FILE (appends, so that stopping it never leaves FILE empty).
# Runs in the background; bash builtins only but sleep, so it costs next to nothing.
rss_poll() {
    local pid=$1 out=$2 max=0 k v u
    while [ -e "/proc/$pid/status" ]; do
        while read -r k v u; do
            [ "$k" = VmRSS: ] && { [ "$v" -gt "$max" ] && { max=$v; echo "$max" >>"$out"; }; break; }
        done <"/proc/$pid/status" 2>/dev/null || true
        sleep 0.05
    done
}

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

# CPU accounting for a phase, as in kinesis.sh: server (utime+stime of
# SERVER_PID), client (the children this shell waited for: wrk, kload, aws),
# whole machine (/proc/stat). Must run in this shell, not in $(...).
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
phase_end() { # SERVER PHASE: R[srv.phase.cpu_srv|cpu_cli|cpu_all] in % of one core, R[srv.phase.wall] in s
    local b e
    cpu_snap
    b=("${PHASE_SNAP[@]}")
    e=("${SNAP[@]}")
    local vals
    vals=$(awk -v w0="${b[0]}" -v w1="${e[0]}" -v t0="${b[1]}" -v t1="${e[1]}" -v i0="${b[2]}" -v i1="${e[2]}" \
        -v s0="${b[3]}" -v s1="${e[3]}" -v c0="${b[4]}" -v c1="${e[4]}" -v tck="$TCK" -v n="$(nproc)" 'BEGIN {
        w = w1 - w0; if (w <= 0) w = 1
        printf "%.0f %.0f %.0f %.3f", 100 * (s1 - s0) / tck / w, 100 * (c1 - c0) / w,
               (t1 > t0) ? n * 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 0, w }')
    read -r R[$1.$2.cpu_srv] R[$1.$2.cpu_cli] R[$1.$2.cpu_all] R[$1.$2.wall] <<<"$vals"
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
CMDS=()
NOTES=()
WARNINGS=()
declare -A CAPS   # CAPS[server] = what was capped

# run_wrk SERVER PHASE MODE: phase 1 (put) or 2 (get) with bench/s3.lua
run_wrk() {
    local srv=$1 phase=$2 mode=$3
    local cmd=(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$BENCH/s3.lua"
               "http://127.0.0.1:$PORT/")
    CMDS+=("S3_MODE=$mode S3_BUCKET=$BUCKET S3_BYTES=$OBJ_BYTES S3_KEYS=\$TMP/keys.SERVER ${cmd[*]}")
    log "$srv: $phase (${DURATION}s, $CONNS connections)"
    perf_begin "$phase"
    phase_begin
    S3_MODE=$mode S3_BUCKET=$BUCKET S3_BYTES=$OBJ_BYTES S3_KEYS="$TMP/keys.$srv" run_child "${cmd[@]}" \
        >"$TMP/$srv.$phase.wrk" 2>&1 || fail "wrk failed: $(cat "$TMP/$srv.$phase.wrk")"
    phase_end "$srv" "$phase"
    perf_end
    local line
    line=$(grep '^WRKRESULT' "$TMP/$srv.$phase.wrk") || fail "no wrk result: $(cat "$TMP/$srv.$phase.wrk")"
    local requests duration_us non2xx connect_err read_err write_err timeouts p50_us p90_us p99_us max_us
    eval "${line#WRKRESULT }"
    local errs=$((connect_err + read_err + write_err + timeouts))
    R[$srv.$phase.req]=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
    R[$srv.$phase.p50]=$(awk -v v="$p50_us" 'BEGIN {printf "%.2f", v / 1000}')
    R[$srv.$phase.p99]=$(awk -v v="$p99_us" 'BEGIN {printf "%.2f", v / 1000}')
    R[$srv.$phase.requests]=$requests
    R[$srv.$phase.non2xx]=$non2xx
    R[$srv.$phase.errors]=$errs
    if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
        NOTES+=("$srv $phase: $non2xx non-2xx responses and $errs socket errors/timeouts out of $requests requests")
        local code
        if [ "$mode" = put ]; then
            code=$(s3 PUT "/$BUCKET/probe-$phase" --data-binary "probe")
        else
            code=$(s3 GET "/$BUCKET/w1-1")
        fi
        NOTES+=("  a sample $mode now answers HTTP $code: $(head -c 300 "$TMP/resp")")
    fi
}

bench_server() { # NAME: the server is already running (SERVER_PID, PORT)
    local srv=$1 line
    CUR_SRV=$srv
    sleep 0.3
    R[$srv.rss_start]=$(rss_kb "$SERVER_PID")
    local code
    code=$(s3 PUT "/$BUCKET")
    [ "$code" = 200 ] || fail "$srv: CreateBucket $BUCKET: HTTP $code $(cat "$TMP/resp")"

    # 1-2. PUT, GET
    run_wrk "$srv" put put
    run_wrk "$srv" get get

    # 3. ListObjectsV2: top the bucket up to LIST_KEYS keys, then page through it
    local have=$(( R[$srv.put.requests] - R[$srv.put.non2xx] ))
    local need=$(( LIST_KEYS - have )) cap=600
    [ "$srv" = s3rver ] && cap=$PEER_CAP
    R[$srv.fill.puts]=0
    if [ "$need" -gt 0 ]; then
        log "$srv: topping the bucket up with $need keys for the listing (kload s3put, cap ${cap}s)"
        CMDS+=("\$TMP/kload s3put PORT $BUCKET k NEED $CONNS $OBJ_BYTES CAP   (NEED = $LIST_KEYS - phase-1 PUTs; CAP = 600 s tidepool, $PEER_CAP s s3rver)")
        phase_begin
        run_child "$KLOAD" s3put "$PORT" "$BUCKET" k "$need" "$CONNS" "$OBJ_BYTES" "$cap" \
            >"$TMP/$srv.fill.out" 2>"$TMP/$srv.fill.err" ||
            NOTES+=("$srv list top-up: $(head -c 600 "$TMP/$srv.fill.err") [$(cat "$TMP/$srv.fill.out")]")
        phase_end "$srv" fill
        local puts=0 requests=0 non2xx=0 errors=0 seconds=0 puts_per_s=0 capped=0
        eval "$(cat "$TMP/$srv.fill.out")"
        R[$srv.fill.puts]=$puts
        R[$srv.fill.rate]=$puts_per_s
        R[$srv.fill.non2xx]=$((non2xx + errors))
        [ "$capped" = 1 ] && CAPS[$srv]+="listing top-up stopped after ${cap}s ($puts of $need keys); "
    fi
    log "$srv: ListObjectsV2, max-keys=$MAX_KEYS"
    CMDS+=("\$TMP/kload s3list PORT $BUCKET $MAX_KEYS $LIST_TIMEOUT")
    perf_begin list
    phase_begin
    run_child "$KLOAD" s3list "$PORT" "$BUCKET" "$MAX_KEYS" "$LIST_TIMEOUT" \
        >"$TMP/$srv.list.out" 2>"$TMP/$srv.list.err" ||
        NOTES+=("$srv list: $(head -c 600 "$TMP/$srv.list.err") [$(cat "$TMP/$srv.list.out")]")
    phase_end "$srv" list
    perf_end
    local keys=0 pages=0 non200=0 errors=0 order_errors=0 complete=0 seconds=0 keys_per_s=0 MB_per_s=0 slowest_page_ms=0
    eval "$(cat "$TMP/$srv.list.out")"
    R[$srv.list.keys]=$keys
    R[$srv.list.seconds]=$seconds
    R[$srv.list.rate]=$keys_per_s
    R[$srv.list.pages]=$pages
    R[$srv.list.slowest]=$slowest_page_ms
    R[$srv.list.non2xx]=$((non200 + errors))
    [ "$complete" = 1 ] || CAPS[$srv]+="listing stopped after ${LIST_TIMEOUT}s ($keys keys); "
    local acked=$(( have + R[$srv.fill.puts] ))
    R[$srv.list.acked]=$acked
    if [ "$complete" = 1 ] && [ "$keys" -lt "$acked" ]; then
        NOTES+=("$srv: the listing has $keys keys but $acked PUTs were acknowledged: objects lost?")
    fi

    # 4. multipart upload of BIG, then the download back
    local env=(env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1)
    # s3rver checks the access key: it knows only S3RVER/S3RVER
    [ "$srv" = s3rver ] && env=(env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1)
    local aws=(aws --endpoint-url "http://127.0.0.1:$PORT" s3 cp --only-show-errors)
    local tmo=600
    [ "$srv" = s3rver ] && tmo=$UPLOAD_TIMEOUT
    CMDS+=("${env[*]} timeout $tmo ${aws[*]} \$TMP/big.bin s3://$BUCKET/big.bin")
    log "$srv: aws s3 cp upload of $BIG_MIB MiB (multipart)"
    echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || WARNINGS+=("cannot reset VmHWM of $srv; its peak RSS is since start")
    R[$srv.up.rss_before]=$(rss_kb "$SERVER_PID")
    rss_poll "$SERVER_PID" "$TMP/$srv.rsspoll" &
    POLL_PID=$!
    perf_begin upload
    phase_begin
    local rc=0
    run_child "${env[@]}" timeout "$tmo" "${aws[@]}" "$TMP/big.bin" "s3://$BUCKET/big.bin" \
        >"$TMP/$srv.up.out" 2>&1 || rc=$?
    phase_end "$srv" upload
    perf_end
    R[$srv.up.hwm]=$(hwm_kb "$SERVER_PID")
    kill -TERM "$POLL_PID" 2>/dev/null || true
    wait "$POLL_PID" 2>/dev/null || true
    POLL_PID=
    R[$srv.up.rsspoll]=$(tail -1 "$TMP/$srv.rsspoll" 2>/dev/null || echo n/a)
    local up_ok=0
    if [ "$rc" = 124 ]; then
        CAPS[$srv]+="upload stopped after ${tmo}s; "
    elif [ "$rc" != 0 ]; then
        NOTES+=("$srv upload: aws exited $rc: $(head -c 600 "$TMP/$srv.up.out")")
    else
        up_ok=1
        R[$srv.up.mbs]=$(awk -v b="$BIG_BYTES" -v s="${R[$srv.upload.wall]}" 'BEGIN {printf "%.0f", b / 1e6 / s}')
        R[$srv.up.s]=${R[$srv.upload.wall]}
    fi
    if [ "$up_ok" = 1 ]; then
        [ "$srv" = s3rver ] && tmo=$DOWNLOAD_TIMEOUT
        CMDS+=("${env[*]} timeout $tmo ${aws[*]} s3://$BUCKET/big.bin \$TMP/big.down")
        log "$srv: aws s3 cp download of $BIG_MIB MiB"
        perf_begin download
        phase_begin
        rc=0
        run_child "${env[@]}" timeout "$tmo" "${aws[@]}" "s3://$BUCKET/big.bin" "$TMP/big.down" \
            >"$TMP/$srv.down.out" 2>&1 || rc=$?
        phase_end "$srv" download
        perf_end
        if [ "$rc" = 124 ]; then
            CAPS[$srv]+="download stopped after ${tmo}s; "
        elif [ "$rc" != 0 ]; then
            NOTES+=("$srv download: aws exited $rc: $(head -c 600 "$TMP/$srv.down.out")")
        else
            local size md5
            size=$(stat -c %s "$TMP/big.down")
            md5=$(md5sum <"$TMP/big.down" | cut -d' ' -f1)
            if [ "$size" != "$BIG_BYTES" ] || [ "$md5" != "$BIG_MD5" ]; then
                NOTES+=("$srv download: got $size bytes md5 $md5, uploaded $BIG_BYTES bytes md5 $BIG_MD5")
            else
                R[$srv.down.ok]=yes
                R[$srv.down.mbs]=$(awk -v b="$BIG_BYTES" -v s="${R[$srv.download.wall]}" 'BEGIN {printf "%.0f", b / 1e6 / s}')
                R[$srv.down.s]=${R[$srv.download.wall]}
            fi
        fi
        rm -f "$TMP/big.down"
    fi
    [ -d "$TMP/$srv-data" ] && R[$srv.data_mb]=$(du -sm "$TMP/$srv-data" | cut -f1)
    sleep 1
    R[$srv.rss_end]=$(rss_kb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    SERVER_PID=
    rm -rf "$TMP/$srv-data"
}

# ---- run ----
BUSY=$(cpu_busy 1)
log "CPU busy before start (other processes): ${BUSY}%"
[ "$BUSY" -gt 15 ] && WARNINGS+=("the machine was ${BUSY}% busy before the run: other processes skew the numbers")

log "writing a $BIG_MIB MiB file of random bytes for the multipart phase"
head -c "$BIG_BYTES" /dev/urandom >"$TMP/big.bin"
BIG_MD5=$(md5sum <"$TMP/big.bin" | cut -d' ' -f1)

[ ${#TP_STORE[@]} -eq 0 ] && TP_STORE=(--data "$TMP/tidepool-data")
log "tidepool: starting ($TIDEPOOL serve --port 0 ${TP_STORE[*]})"
start_server tidepool "tidepool ready on" "$TIDEPOOL" serve --port 0 "${TP_STORE[@]}"
R[tidepool.data_mb]=n/a
bench_server tidepool

if [ "$PEER" = 1 ]; then
    mkdir -p "$TMP/s3rver-data"
    # --openssl-legacy-provider: s3rver 3.7.1 makes ListObjectsV2 continuation
    # tokens with DES, which OpenSSL 3 (node >= 17) only has in its legacy
    # provider; without it every truncated listing is HTTP 500
    # (ERR_OSSL_EVP_UNSUPPORTED)
    log "s3rver: starting (node --openssl-legacy-provider $S3RVER_CLI -d \$TMP/s3rver-data -a 127.0.0.1 -p 0 --silent)"
    start_server s3rver "S3rver listening on" node --openssl-legacy-provider "$S3RVER_CLI" -d "$TMP/s3rver-data" \
        -a 127.0.0.1 -p 0 --silent
    bench_server s3rver
fi

# ---- report ----
v() { echo "${R[$1]:-n/a}"; }
ratio() { # a b -> a/b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "n/a" }'
}
row() { # metric tidepool s3rver
    printf "| %-46s | %12s | %12s | %8s |\n" "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
sum() { local t=0 x; for x in "$@"; do [[ "$x" =~ ^[0-9]+$ ]] && t=$((t + x)); done; echo $t; }

echo
echo "tidepool S3 benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo "command: $CMDLINE   (tidepool $("$TIDEPOOL" --version | awk '{print $2}') = copy of $TIDEPOOL_SRC, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty'); s3rver $S3RVER_VERSION on node $(node --version 2>/dev/null || echo '?'); $(aws --version 2>&1 | cut -d' ' -f1))"
echo "load: wrk $WRK_THREADS threads / $CONNS connections / ${DURATION}s for PUT and GET ($OBJ_BYTES-byte objects, path-style, no signature);"
echo "      listing and top-up by bench/kload.c; multipart by the AWS CLI (8 MiB parts, 10 threads). MB = 10^6 bytes."
echo "NOTE: the load generator runs on the same $(nproc) cores as the server; the server gets at most what the client leaves."
if [ "${TP_STORE[0]}" = --in-memory ]; then
    echo "tidepool: --in-memory; s3rver: its filesystem store in a temp dir."
else
    echo "tidepool: --data on $(df -P "$TMP" | awk 'NR==2 {print $1}'); s3rver: its filesystem store in a temp dir on the same disk."
fi
echo "CPU busy before the run (other processes): ${BUSY}%"
echo
printf "| %-46s | %12s | %12s | %8s |\n" metric tidepool s3rver ratio
printf "|%s|%s|%s|%s|\n" "------------------------------------------------" "--------------" "--------------" "----------"
row "PUT 1 KiB, unique keys, requests/s" "$(v tidepool.put.req)" "$(v s3rver.put.req)"
row "PUT p50 latency ms" "$(v tidepool.put.p50)" "$(v s3rver.put.p50)"
row "PUT p99 latency ms" "$(v tidepool.put.p99)" "$(v s3rver.put.p99)"
row "GET 1 KiB (random phase-1 keys) requests/s" "$(v tidepool.get.req)" "$(v s3rver.get.req)"
row "GET p50 latency ms" "$(v tidepool.get.p50)" "$(v s3rver.get.p50)"
row "GET p99 latency ms" "$(v tidepool.get.p99)" "$(v s3rver.get.p99)"
row "listing top-up PUT/s (kload, 8 conns)" "$(v tidepool.fill.rate)" "$(v s3rver.fill.rate)"
row "ListObjectsV2 keys listed" "$(v tidepool.list.keys)" "$(v s3rver.list.keys)"
row "ListObjectsV2 seconds for all of them" "$(v tidepool.list.seconds)" "$(v s3rver.list.seconds)"
row "ListObjectsV2 keys/s (max-keys=$MAX_KEYS)" "$(v tidepool.list.rate)" "$(v s3rver.list.rate)"
row "ListObjectsV2 slowest page ms" "$(v tidepool.list.slowest)" "$(v s3rver.list.slowest)"
row "$BIG_MIB MiB multipart upload MB/s (aws s3 cp)" "$(v tidepool.up.mbs)" "$(v s3rver.up.mbs)"
row "  upload seconds" "$(v tidepool.up.s)" "$(v s3rver.up.s)"
row "  server peak RSS during upload kB (VmHWM)" "$(v tidepool.up.hwm)" "$(v s3rver.up.hwm)"
row "  server max VmRSS polled every 50 ms kB" "$(v tidepool.up.rsspoll)" "$(v s3rver.up.rsspoll)"
row "$BIG_MIB MiB download MB/s (md5 checked after)" "$(v tidepool.down.mbs)" "$(v s3rver.down.mbs)"
row "  download seconds" "$(v tidepool.down.s)" "$(v s3rver.down.s)"
row "idle RSS after start kB" "$(v tidepool.rss_start)" "$(v s3rver.rss_start)"
row "RSS after the run kB" "$(v tidepool.rss_end)" "$(v s3rver.rss_end)"
row "non-2xx / socket errors (all phases)" \
    "$(sum "$(v tidepool.put.non2xx)" "$(v tidepool.get.non2xx)" "$(v tidepool.fill.non2xx)" "$(v tidepool.list.non2xx)")/$(sum "$(v tidepool.put.errors)" "$(v tidepool.get.errors)")" \
    "$(sum "$(v s3rver.put.non2xx)" "$(v s3rver.get.non2xx)" "$(v s3rver.fill.non2xx)" "$(v s3rver.list.non2xx)")/$(sum "$(v s3rver.put.errors)" "$(v s3rver.get.errors)")"
echo
echo "CPU during each phase, % of one core ($(nproc) cores = $(( $(nproc) * 100 ))%): server / load generator / whole machine"
printf "| %-10s | %-24s | %-24s |\n" phase tidepool s3rver
printf "|%s|%s|%s|\n" "------------" "--------------------------" "--------------------------"
for ph in put get fill list upload download; do
    printf "| %-10s | %-24s | %-24s |\n" "$ph" \
        "$(v tidepool.$ph.cpu_srv) / $(v tidepool.$ph.cpu_cli) / $(v tidepool.$ph.cpu_all)" \
        "$(v s3rver.$ph.cpu_srv) / $(v s3rver.$ph.cpu_cli) / $(v s3rver.$ph.cpu_all)"
done
echo "(fill = the listing top-up; load generator = wrk, kload or the aws CLI; whole machine minus both = other processes)"
echo
echo "ratio = tidepool / s3rver (higher is better for rates, lower for latency, time and RSS)."
echo "keys: PUT acknowledged then listed: tidepool $(v tidepool.list.acked) -> $(v tidepool.list.keys); s3rver $(v s3rver.list.acked) -> $(v s3rver.list.keys)"
echo "tidepool data dir after the run: $(v tidepool.data_mb) MB; s3rver: $(v s3rver.data_mb) MB"
for s in tidepool s3rver; do
    [ -n "${CAPS[$s]:-}" ] && echo "capped ($s): ${CAPS[$s]}"
done
echo

target() { # name value op threshold
    local met
    met=$(awk -v x="$2" -v t="$4" -v op="$3" 'BEGIN { if (x == "" || x == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (x + 0 >= t) : (x + 0 < t); print ok ? "met" : "NOT met" }')
    printf "  %-46s %-12s %s %-10s %s\n" "$1" "$2" "$3" "$4" "$met"
}
put_x=$(awk -v a="$(v tidepool.put.req)" -v b="$(v s3rver.put.req)" \
    'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "n/a" }')
echo "targets (tidepool):"
target "PUT requests/s" "$(v tidepool.put.req)" ">=" 20000
target "PUT vs s3rver (x)" "$put_x" ">=" 20
target "GET requests/s" "$(v tidepool.get.req)" ">=" 30000
target "$BIG_MIB MiB upload MB/s" "$(v tidepool.up.mbs)" ">=" 300
target "peak RSS during the upload (kB)" "$(v tidepool.up.hwm)" "<" 65536
echo
echo "exact commands (\$TMP = the run's temp dir, PORT = the server's, SERVER = tidepool or s3rver):"
for c in "\$TMP/tidepool serve --port 0 ${TP_STORE[*]}" \
         "node --openssl-legacy-provider bench/node_modules/s3rver/bin/s3rver.js -d \$TMP/s3rver-data -a 127.0.0.1 -p 0 --silent" \
         "curl -X PUT http://127.0.0.1:PORT/$BUCKET   (create the bucket)" "${CMDS[@]}"; do
    echo "  $c"
done | sed -e "s/127.0.0.1:[0-9][0-9]*/127.0.0.1:PORT/" -e "s#$TMP#\$TMP#g" | awk '!seen[$0]++'
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
    for ph in put get list upload download; do
        [ -s "$TMP/perf.$ph.data" ] || continue
        echo
        echo "perf: tidepool during $ph, top functions by self time (with perf attached, so that phase ran slower):"
        perf report -i "$TMP/perf.$ph.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
            awk '/^ +[0-9.]+%/ && n++ < 20 { sub(/ +- +- *$/, ""); print }' || true
        if [ "$ph" = put ]; then
            echo
            echo "perf: tidepool during put, top functions including callees (children):"
            perf report -i "$TMP/perf.$ph.data" --children --sort symbol --stdio 2>/dev/null |
                awk '/^ +[0-9.]+% +[0-9.]+%/ && n++ < 30 { sub(/ +- +- *$/, ""); print }' || true
        fi
    done
fi
[ ${#NOTES[@]} -eq 0 ]
