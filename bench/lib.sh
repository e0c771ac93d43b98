# shellcheck shell=bash disable=SC2034 # much that is set here is used by the scripts
# What bench/kinesis.sh and bench/s3.sh share: sourced by both, not run.
#
# Before the script sources this file it runs set -euo pipefail and sets
# SCRIPT (its name, for messages), BENCH (this directory) and CMDLINE (its
# command line). After it, the script:
#   - parses its options, passing the ones both take to common_option
#   - sets CONNS and WRK_THREADS (wrk_phase) and WRK_REQ_FMT and WRK_LAT_FMT
#     (printf formats for wrk's requests/s and latency in ms)
#   - calls bench_setup TMP_PREFIX, then need_tools and prepare_binaries
#
# Peer versions live here: s3.sh installs kinesalite next to s3rver (see
# install_peer), so both scripts must agree on them.
KINESALITE_VERSION=3.3.3
S3RVER_VERSION=3.7.1

ROOT=$(dirname "$BENCH")

# defaults of the options common_option parses
DURATION=10
PERF=0
TIDEPOOL="$ROOT/build/tidepool"
TP_STORE=()

TMP=
SERVER_PID=   # the server under test
PERF_PID=     # perf record, with --perf
CHILD_PID=    # the load generator (run_child)
POLL_PID=     # a background sampler (s3.sh's rss_poll)
CUR_SRV=      # the server being benchmarked: tidepool or the peer

declare -A R  # R[server.metric] = value
NOTES=()      # failed checks: printed under PROBLEMS, and the script exits 1
WARNINGS=()   # what makes the numbers less reliable
CMDS=()       # the load commands, for the report (print_cmds)

fail() { echo "$SCRIPT: FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# common_option ARGS...: the options both scripts take (--duration, --perf,
# --in-memory, --tidepool, -h/--help); anything else is unknown. Sets NSHIFT
# to how many of ARGS it used. Called from the script's option loop for what
# the script does not take itself.
NSHIFT=0
common_option() {
    case "$1" in
    --duration) DURATION=$2; NSHIFT=2 ;;
    --perf) PERF=1; NSHIFT=1 ;;
    --in-memory) TP_STORE=(--in-memory); NSHIFT=1 ;;
    --tidepool) TIDEPOOL=$2; NSHIFT=2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "$SCRIPT: unknown option $1" >&2; exit 2 ;;
    esac
}

stop_pid() { # pid: SIGTERM, wait up to 5 s, then SIGKILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "$SCRIPT: pid $pid ignored SIGTERM for 5 s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_bg() { # PID SIGNAL: if PID is set, send it SIGNAL and reap it
    if [ -n "$1" ]; then
        kill -"$2" "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

cleanup() {
    stop_bg "$CHILD_PID" TERM
    stop_bg "$POLL_PID" TERM
    stop_bg "$PERF_PID" INT
    [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
    rm -rf "$TMP"
}

# bench_setup PREFIX: makes the run's temp dir /tmp/PREFIX.XXXXXX (TMP) and
# sets the traps that stop every process and remove it.
bench_setup() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# run_child CMD...: runs a load generator in the background and waits for it,
# so that SIGINT/SIGTERM reach the trap at once (bash defers traps while a
# foreground child runs) and cleanup can stop it.
run_child() {
    "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    return "$rc"
}

# ---- prerequisites ----

need_tools() { # HINT TOOL...: fail unless every TOOL is on PATH
    local hint=$1 t
    shift
    for t in "$@"; do
        command -v "$t" >/dev/null || fail "$t not found ($hint)"
    done
}

# prepare_binaries: builds TIDEPOOL if it is missing, runs a private copy of
# it (TIDEPOOL = the copy, TIDEPOOL_SRC = the original) and builds kload.c
# into the temp dir (KLOAD).
prepare_binaries() {
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
}

# install_peer NAME VERSION [ALSO...]: npm-installs NAME@VERSION into
# bench/node_modules unless that version is there. npm removes the packages
# it was not asked for, so ALSO (more NAME@VERSION) are installed in the
# same command to keep them.
install_peer() {
    local name=$1 version=$2
    shift 2
    command -v node >/dev/null || fail "node not found ($name needs Node.js)"
    grep -qs "\"version\": \"$version\"" "$BENCH/node_modules/$name/package.json" && return 0
    log "installing $name@$version${*:+ (and $*)} into bench/node_modules"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$BENCH" \
        "$name@$version" "$@" >&2 || fail "npm install $name@$version failed"
}

# ---- servers ----

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

# start_tidepool: starts TIDEPOOL with TP_STORE (default: a fresh --data dir
# $TMP/tidepool-data).
start_tidepool() {
    [ ${#TP_STORE[@]} -eq 0 ] && TP_STORE=(--data "$TMP/tidepool-data")
    log "tidepool: starting ($TIDEPOOL serve --port 0 ${TP_STORE[*]})"
    start_server tidepool "tidepool ready on" "$TIDEPOOL" serve --port 0 "${TP_STORE[@]}"
    R[tidepool.data_mb]=n/a
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo n/a; }

server_begin() { # SERVER: the server is running (SERVER_PID, PORT); R[SERVER.rss_start]
    CUR_SRV=$1
    sleep 0.3
    R[$1.rss_start]=$(rss_kb "$SERVER_PID")
}

server_end() { # SERVER: R[SERVER.rss_end], then stops the server
    sleep 1
    R[$1.rss_end]=$(rss_kb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    SERVER_PID=
}

# ---- CPU and perf per phase ----

# cpu_busy SECONDS: percentage of all CPUs busy (anything else running).
cpu_busy() {
    local a b tot=0 idle i
    read -r -a a </proc/stat
    sleep "$1"
    read -r -a b </proc/stat
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}

check_busy() { # BUSY = cpu_busy over 1 s; a warning above 15%
    BUSY=$(cpu_busy 1)
    log "CPU busy before start (other processes): ${BUSY}%"
    if [ "$BUSY" -gt 15 ]; then
        WARNINGS+=("the machine was ${BUSY}% busy before the run: other processes skew the numbers")
    fi
}

TCK=$(getconf CLK_TCK)

# CPU accounting for a phase: server (utime+stime of SERVER_PID), client (the
# children this shell waited for: wrk, kload, aws), whole machine (/proc/stat).
# cpu_snap: SNAP=(wall_s machine_total machine_idle server_ticks client_s). Must
# run in this shell, not in $(...): `times` only sees this shell's children.
SNAP=()
cpu_snap() {
    local st a f cli
    read -r -a a </proc/stat
    st=$(cat "/proc/$SERVER_PID/stat" 2>/dev/null || echo "x) x 0 0 0 0 0 0 0 0 0 0 0 0 0")
    st=${st##*) }
    read -r -a f <<<"$st"
    times >"$TMP/times"
    cli=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, x, /[ms]/); t += x[1] * 60 + x[2] }
                         printf "%.3f", t }' "$TMP/times")
    SNAP=("$(date +%s.%N)" $((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8])) $((a[4] + a[5]))
          $((f[11] + f[12])) "$cli")
}
PHASE_SNAP=()
phase_begin() { cpu_snap; PHASE_SNAP=("${SNAP[@]}"); }
phase_end() { # SERVER PHASE: R[srv.phase.cpu_srv|cpu_cli|cpu_all] in % of one core, R[srv.phase.wall] in s
    local b e vals
    cpu_snap
    b=("${PHASE_SNAP[@]}")
    e=("${SNAP[@]}")
    vals=$(awk -v w0="${b[0]}" -v w1="${e[0]}" -v t0="${b[1]}" -v t1="${e[1]}" -v i0="${b[2]}" -v i1="${e[2]}" \
        -v s0="${b[3]}" -v s1="${e[3]}" -v c0="${b[4]}" -v c1="${e[4]}" -v tck="$TCK" -v n="$(nproc)" 'BEGIN {
        w = w1 - w0; if (w <= 0) w = 1
        printf "%.0f %.0f %.0f %.3f", 100 * (s1 - s0) / tck / w, 100 * (c1 - c0) / w,
               (t1 > t0) ? n * 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 0, w }')
    read -r "R[$1.$2.cpu_srv]" "R[$1.$2.cpu_cli]" "R[$1.$2.cpu_all]" "R[$1.$2.wall]" <<<"$vals"
}
perf_begin() { # PHASE: with --perf, record tidepool's stacks during the phase
    if [ "$PERF" = 1 ] && [ "$CUR_SRV" = tidepool ]; then
        perf record -F 499 -g -o "$TMP/perf.$1.data" -p "$SERVER_PID" >"$TMP/perf.$1.log" 2>&1 &
        PERF_PID=$!
        sleep 0.2
    fi
}
perf_end() {
    stop_bg "$PERF_PID" INT
    PERF_PID=
}

# phase_run SERVER PHASE CMD...: runs the load generator CMD (run_child) as
# PHASE of SERVER, with perf (perf_begin) and CPU accounting (phase_end)
# around it. Leaves CMD's exit status in PHASE_RC and returns 0, so that it
# is not called left of || (bash ignores set -e in a function called there).
PHASE_RC=0
phase_run() {
    local srv=$1 phase=$2
    shift 2
    perf_begin "$phase"
    phase_begin
    PHASE_RC=0
    run_child "$@" || PHASE_RC=$?
    phase_end "$srv" "$phase"
    perf_end
}

# wrk_phase SERVER PHASE LUA ENV_DESC PROBE...: one wrk run against PORT with
# bench/LUA, WRK_THREADS threads, CONNS connections, DURATION seconds. LUA
# takes its settings from the environment: the caller sets them on this call,
# and ENV_DESC shows them in CMDS. Parses LUA's WRKRESULT line into
# R[SERVER.PHASE.req|p50|p99] (formats WRK_REQ_FMT, WRK_LAT_FMT; latency in
# ms) and R[SERVER.PHASE.requests|non2xx|errors|duration_us]. On non-2xx
# responses or socket errors it adds a note and runs PROBE, which adds one on
# what a sample request answers now.
wrk_phase() {
    local srv=$1 phase=$2 lua=$3 env_desc=$4
    shift 4
    local cmd=(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$BENCH/$lua"
               "http://127.0.0.1:$PORT/")
    local out="$TMP/$srv.$phase.wrk"
    CMDS+=("$env_desc ${cmd[*]}")
    log "$srv: $phase (${DURATION}s, $CONNS connections)"
    phase_run "$srv" "$phase" "${cmd[@]}" >"$out" 2>&1
    [ "$PHASE_RC" = 0 ] || fail "wrk failed: $(cat "$out")"
    local line
    line=$(grep '^WRKRESULT' "$out") || fail "no wrk result: $(cat "$out")"
    # shellcheck disable=SC2034 # p90_us, max_us: set by the eval, not used
    local requests duration_us non2xx connect_err read_err write_err timeouts p50_us p90_us p99_us max_us
    eval "${line#WRKRESULT }"
    local errs=$((connect_err + read_err + write_err + timeouts))
    R[$srv.$phase.req]=$(awk -v r="$requests" -v d="$duration_us" -v f="$WRK_REQ_FMT" 'BEGIN {printf f, r / (d / 1e6)}')
    R[$srv.$phase.p50]=$(awk -v v="$p50_us" -v f="$WRK_LAT_FMT" 'BEGIN {printf f, v / 1000}')
    R[$srv.$phase.p99]=$(awk -v v="$p99_us" -v f="$WRK_LAT_FMT" 'BEGIN {printf f, v / 1000}')
    R[$srv.$phase.requests]=$requests
    R[$srv.$phase.duration_us]=$duration_us
    R[$srv.$phase.non2xx]=$non2xx
    R[$srv.$phase.errors]=$errs
    if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
        NOTES+=("$srv $phase: $non2xx non-2xx responses and $errs socket errors/timeouts out of $requests requests")
        "$@"
    fi
}

# ---- report ----

v() { echo "${R[$1]:-n/a}"; }
ratio() { # a b -> a/b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "n/a" }'
}
times_x() { # a b -> a/b as a plain number, for target
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "n/a" }'
}
dashes() { # N: N dashes
    local d
    printf -v d '%*s' "$1" ''
    printf '%s' "${d// /-}"
}

data_disk() { df -P "$TMP" | awk 'NR==2 {print $1}'; }

# report_header KIND PEER_DESC STORE_LINE LOAD_LINE...: the lines above the
# tables. PEER_DESC ends the command line's parenthesis; STORE_LINE says how
# the servers store data.
report_header() {
    local kind=$1 peer=$2 store=$3
    shift 3
    echo
    echo "tidepool $kind benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
    echo "command: $CMDLINE   (tidepool $("$TIDEPOOL" --version | awk '{print $2}') = copy of $TIDEPOOL_SRC, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty'); $peer)"
    printf '%s\n' "$@"
    echo "NOTE: the load generator runs on the same $(nproc) cores as the server; the server gets at most what the client leaves."
    echo "$store"
    echo "CPU busy before the run (other processes): ${BUSY}%"
    echo
}
node_version() { node --version 2>/dev/null || echo '?'; }

# table_begin WIDTH PEER: the header of the metric table, its first column
# WIDTH wide; row then prints its rows.
TABLE_W=44
table_begin() {
    TABLE_W=$1
    printf "| %-${TABLE_W}s | %12s | %12s | %8s |\n" metric tidepool "$2" ratio
    printf "|%s|%s|%s|%s|\n" "$(dashes $((TABLE_W + 2)))" "$(dashes 14)" "$(dashes 14)" "$(dashes 10)"
}
row() { # metric tidepool peer
    printf "| %-${TABLE_W}s | %12s | %12s | %8s |\n" "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

# cpu_table PHASE_WIDTH COLUMN_WIDTH PEER PHASE...: server / load generator /
# whole machine CPU of each PHASE, tidepool and PEER.
cpu_table() {
    local pw=$1 cw=$2 peer=$3 ph
    shift 3
    echo
    echo "CPU during each phase, % of one core ($(nproc) cores = $(( $(nproc) * 100 ))%): server / load generator / whole machine"
    printf "| %-${pw}s | %-${cw}s | %-${cw}s |\n" phase tidepool "$peer"
    printf "|%s|%s|%s|\n" "$(dashes $((pw + 2)))" "$(dashes $((cw + 2)))" "$(dashes $((cw + 2)))"
    for ph in "$@"; do
        printf "| %-${pw}s | %-${cw}s | %-${cw}s |\n" "$ph" \
            "$(v "tidepool.$ph.cpu_srv") / $(v "tidepool.$ph.cpu_cli") / $(v "tidepool.$ph.cpu_all")" \
            "$(v "$peer.$ph.cpu_srv") / $(v "$peer.$ph.cpu_cli") / $(v "$peer.$ph.cpu_all")"
    done
}

target() { # name value op threshold
    local met
    met=$(awk -v x="$2" -v t="$4" -v op="$3" 'BEGIN { if (x == "" || x == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (x + 0 >= t) : (x + 0 < t); print ok ? "met" : "NOT met" }')
    printf "  %-46s %-12s %s %-10s %s\n" "$1" "$2" "$3" "$4" "$met"
}

# print_cmds CMD...: one a line, with the port and the temp dir written as
# PORT and $TMP, each once.
print_cmds() {
    local c
    for c in "$@"; do
        echo "  $c"
    done | sed -e "s/127.0.0.1:[0-9][0-9]*/127.0.0.1:PORT/" -e "s#$TMP#\$TMP#g" | awk '!seen[$0]++'
}

print_notes() { # the warnings, then the PROBLEMS (NOTES)
    local n
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
    return 0
}

# perf_report PHASE: with --perf, tidepool's top functions by self time during
# PHASE. Returns 1 if perf recorded nothing for PHASE.
perf_report() {
    [ -s "$TMP/perf.$1.data" ] || return 1
    echo
    echo "perf: tidepool during $1, top functions by self time (with perf attached, so that phase ran slower):"
    perf report -i "$TMP/perf.$1.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
        awk '/^ +[0-9.]+%/ && n++ < 20 { sub(/ +- +- *$/, ""); print }' || true
}
