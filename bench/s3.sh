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

SCRIPT=s3.sh
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMDLINE="bench/$SCRIPT${*:+ $*}"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

PEER=1
BIG_MIB=1024
PEER_CAP=20
while [ $# -gt 0 ]; do
    case "$1" in
    --no-s3rver) PEER=0; shift ;;
    --big-mib) BIG_MIB=$2; shift 2 ;;
    --peer-cap) PEER_CAP=$2; shift 2 ;;
    *) common_option "$@"; shift "$NSHIFT" ;;
    esac
done

BUCKET=bench
OBJ_BYTES=1024
CONNS=8
WRK_THREADS=2
WRK_REQ_FMT=%.0f
WRK_LAT_FMT=%.2f
LIST_KEYS=100000
MAX_KEYS=1000
BIG_BYTES=$((BIG_MIB * 1024 * 1024))
LIST_TIMEOUT=60              # s3rver caps (tidepool finishes far sooner)
UPLOAD_TIMEOUT=120
DOWNLOAD_TIMEOUT=90

bench_setup tidepool-s3bench

# ---- prerequisites ----
need_tools "Debian: apt-get install wrk gcc python3 curl awscli" wrk gcc python3 curl aws md5sum
prepare_binaries
S3RVER_CLI="$BENCH/node_modules/s3rver/bin/s3rver.js"
if [ "$PEER" = 1 ]; then
    # also kinesalite (kinesis.sh): npm would remove it otherwise
    install_peer s3rver "$S3RVER_VERSION" "kinesalite@$KINESALITE_VERSION"
fi

# Servers refuse anonymous S3 requests; tidepool without --auth takes any credentials, so this
# well-formed, unverified one will do (s3rver ignores it).
S3_AUTH='Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000'
export S3_AUTH

# s3 METHOD PATH [curl args...]: one request with curl; body in $TMP/resp, prints the status.
s3() {
    local m=$1 p=$2
    shift 2
    curl -s -o "$TMP/resp" -w '%{http_code}' --max-time 30 -X "$m" "http://127.0.0.1:$PORT$p" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "$S3_AUTH" "$@" || echo 000
}

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo n/a; }

# rss_poll PID FILE: reads VmRSS (kB) every 50 ms and appends each new
# maximum to FILE (appends, so that stopping it never leaves FILE empty).
# Runs in the background; bash builtins only but sleep, so it costs next to nothing.
rss_poll() {
    local pid=$1 out=$2 max=0 k v _
    while [ -e "/proc/$pid/status" ]; do
        while read -r k v _; do
            [ "$k" = VmRSS: ] && { [ "$v" -gt "$max" ] && { max=$v; echo "$max" >>"$out"; }; break; }
        done <"/proc/$pid/status" 2>/dev/null || true
        sleep 0.05
    done
}

declare -A CAPS   # CAPS[server] = what was capped

# wrk_probe MODE PHASE: after wrk saw errors, what one request answers now
wrk_probe() {
    local code
    if [ "$1" = put ]; then
        code=$(s3 PUT "/$BUCKET/probe-$2" --data-binary "probe")
    else
        code=$(s3 GET "/$BUCKET/w1-1")
    fi
    NOTES+=("  a sample $1 now answers HTTP $code: $(head -c 300 "$TMP/resp")")
}

# run_wrk SERVER PHASE MODE: phase 1 (put) or 2 (get) with bench/s3.lua
run_wrk() {
    local srv=$1 phase=$2 mode=$3
    S3_MODE=$mode S3_BUCKET=$BUCKET S3_BYTES=$OBJ_BYTES S3_KEYS="$TMP/keys.$srv" \
        wrk_phase "$srv" "$phase" s3.lua "S3_MODE=$mode S3_BUCKET=$BUCKET S3_BYTES=$OBJ_BYTES S3_KEYS=\$TMP/keys.SERVER" \
        wrk_probe "$mode" "$phase"
}

bench_server() { # NAME: the server is already running (SERVER_PID, PORT)
    local srv=$1
    server_begin "$srv"
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
        # not phase_run: no perf here, the top-up only prepares the listing
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
    phase_run "$srv" list "$KLOAD" s3list "$PORT" "$BUCKET" "$MAX_KEYS" "$LIST_TIMEOUT" \
        >"$TMP/$srv.list.out" 2>"$TMP/$srv.list.err"
    [ "$PHASE_RC" = 0 ] ||
        NOTES+=("$srv list: $(head -c 600 "$TMP/$srv.list.err") [$(cat "$TMP/$srv.list.out")]")
    # shellcheck disable=SC2034 # order_errors, MB_per_s: set by the eval, not used
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
    phase_run "$srv" upload "${env[@]}" timeout "$tmo" "${aws[@]}" "$TMP/big.bin" "s3://$BUCKET/big.bin" \
        >"$TMP/$srv.up.out" 2>&1
    local rc=$PHASE_RC
    R[$srv.up.hwm]=$(hwm_kb "$SERVER_PID")
    stop_bg "$POLL_PID" TERM
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
        phase_run "$srv" download "${env[@]}" timeout "$tmo" "${aws[@]}" "s3://$BUCKET/big.bin" "$TMP/big.down" \
            >"$TMP/$srv.down.out" 2>&1
        rc=$PHASE_RC
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
    server_end "$srv"
    rm -rf "$TMP/$srv-data"
}

# ---- run ----
check_busy

log "writing a $BIG_MIB MiB file of random bytes for the multipart phase"
head -c "$BIG_BYTES" /dev/urandom >"$TMP/big.bin"
BIG_MD5=$(md5sum <"$TMP/big.bin" | cut -d' ' -f1)

start_tidepool
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
sum() { local t=0 x; for x in "$@"; do [[ "$x" =~ ^[0-9]+$ ]] && t=$((t + x)); done; echo $t; }

if [ "${TP_STORE[0]}" = --in-memory ]; then
    store="tidepool: --in-memory; s3rver: its filesystem store in a temp dir."
else
    store="tidepool: --data on $(data_disk); s3rver: its filesystem store in a temp dir on the same disk."
fi
report_header S3 "s3rver $S3RVER_VERSION on node $(node_version); $(aws --version 2>&1 | cut -d' ' -f1)" "$store" \
    "load: wrk $WRK_THREADS threads / $CONNS connections / ${DURATION}s for PUT and GET ($OBJ_BYTES-byte objects, path-style, no signature);" \
    "      listing and top-up by bench/kload.c; multipart by the AWS CLI (8 MiB parts, 10 threads). MB = 10^6 bytes."
table_begin 46 s3rver
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
cpu_table 10 24 s3rver put get fill list upload download
echo "(fill = the listing top-up; load generator = wrk, kload or the aws CLI; whole machine minus both = other processes)"
echo
echo "ratio = tidepool / s3rver (higher is better for rates, lower for latency, time and RSS)."
echo "keys: PUT acknowledged then listed: tidepool $(v tidepool.list.acked) -> $(v tidepool.list.keys); s3rver $(v s3rver.list.acked) -> $(v s3rver.list.keys)"
echo "tidepool data dir after the run: $(v tidepool.data_mb) MB; s3rver: $(v s3rver.data_mb) MB"
for s in tidepool s3rver; do
    [ -n "${CAPS[$s]:-}" ] && echo "capped ($s): ${CAPS[$s]}"
done
echo

echo "targets (tidepool):"
target "PUT requests/s" "$(v tidepool.put.req)" ">=" 20000
target "PUT vs s3rver (x)" "$(times_x "$(v tidepool.put.req)" "$(v s3rver.put.req)")" ">=" 20
target "GET requests/s" "$(v tidepool.get.req)" ">=" 30000
target "$BIG_MIB MiB upload MB/s" "$(v tidepool.up.mbs)" ">=" 300
target "peak RSS during the upload (kB)" "$(v tidepool.up.hwm)" "<" 65536
echo
echo "exact commands (\$TMP = the run's temp dir, PORT = the server's, SERVER = tidepool or s3rver):"
print_cmds "\$TMP/tidepool serve --port 0 ${TP_STORE[*]}" \
    "node --openssl-legacy-provider bench/node_modules/s3rver/bin/s3rver.js -d \$TMP/s3rver-data -a 127.0.0.1 -p 0 --silent" \
    "curl -X PUT -H \"\$S3_AUTH\" http://127.0.0.1:PORT/$BUCKET   (create the bucket)" "${CMDS[@]}"
print_notes
if [ "$PERF" = 1 ]; then
    for ph in put get list upload download; do
        perf_report "$ph" || continue
        if [ "$ph" = put ]; then
            echo
            echo "perf: tidepool during put, top functions including callees (children):"
            perf report -i "$TMP/perf.$ph.data" --children --sort symbol --stdio 2>/dev/null |
                awk '/^ +[0-9.]+% +[0-9.]+%/ && n++ < 30 { sub(/ +- +- *$/, ""); print }' || true
        fi
    done
fi
[ ${#NOTES[@]} -eq 0 ]
