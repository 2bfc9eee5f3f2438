#!/usr/bin/env bash
# kav-server vs a Python peer (scripts/peers/flask_agent.py: Flask + twilio-python + sqlite3
# under gunicorn sync workers), both in gather mode with a scripted agent, each driven by
# `kav-callsim load` with the same calls, concurrency and turns. Prints one table row per server:
# calls/s, webhook latency p50/p99 (callsim's figures), CPU seconds per call
# (/proc/<pid>/stat utime+stime of the server and its worker processes, during the load only),
# peak RSS (VmHWM summed over the server's processes), PSS after the load, errors.
#
# Usage: scripts/server-bench.sh            # 2000 calls x 3 turns, concurrency 20, 5 workers
#   CALLS=1000 CONCURRENCY=20 WORKERS=5 SINGLE=0 scripts/server-bench.sh
# SINGLE=1 (default) adds the single-core comparison: gunicorn --workers 1 vs kav-server, both
# pinned to CPU 0 with taskset, kav-callsim pinned to CPU 1.
# Needs: cargo, .venv (scripts/install-test-deps.sh makes it), taskset, Linux /proc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CALLS=${CALLS:-2000}
CONCURRENCY=${CONCURRENCY:-20}
WORKERS=${WORKERS:-5}
SINGLE=${SINGLE:-1}
WARMUP=${WARMUP:-40}
TOKEN=bench-auth-token-0123456789abcdef
PUBLIC=https://agent.example.com
PY=$ROOT/.venv/bin/python
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/server-bench.XXXXXX)
SERVER_PID=

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

echo "== building kav-server and kav-callsim (release, $TARGET)" >&2
cargo build --release --quiet -p kav-server -p kav-callsim
KAV_SERVER=$TARGET/release/kav-server
CALLSIM=$TARGET/release/kav-callsim

echo "== installing scripts/requirements-bench.txt into .venv" >&2
[[ -x $PY ]] || python3 -m venv "$ROOT/.venv"
"$PY" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-bench.txt

# The three turns of every call: two questions, then goodbye (the agent answers <Hangup/>).
TURNS=(--say "what are your opening hours" --say "where is my order" --say "thank you, bye")

# The process and its descendants (gunicorn: the master and its workers).
tree_pids() {
    local pid=$1
    echo "$pid"
    local child
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        tree_pids "$child"
    done
}

# utime + stime of the tree, in clock ticks.
cpu_ticks() {
    local total=0 pid stat
    for pid in $(tree_pids "$1"); do
        stat=$(cat /proc/"$pid"/stat 2>/dev/null) || continue
        stat=${stat##*) }             # fields from 3 on (the command may hold spaces)
        read -r -a f <<<"$stat"
        total=$((total + f[11] + f[12])) # fields 14 and 15: utime, stime
    done
    echo "$total"
}

# Sum over the tree of a /proc/<pid>/status or smaps_rollup field, in kB.
sum_kb() {
    local root=$1 file=$2 field=$3 total=0 pid value
    for pid in $(tree_pids "$root"); do
        value=$(awk -v f="$field:" '$1 == f {print $2}' /proc/"$pid"/"$file" 2>/dev/null || true)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

wait_healthy() {
    local port=$1 i
    for i in $(seq 1 100); do
        if curl -fs -o /dev/null "http://127.0.0.1:$port/health"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server exited at start-up" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "server did not answer /health" >&2
    return 1
}

# run NAME PORT CALLSIM_CPU  -- server command...
run() {
    local name=$1 port=$2 sim_cpu=$3
    shift 4
    local dir=$WORK/$name
    mkdir -p "$dir"
    echo "== $name: $*" >&2
    (cd "$dir" && exec env PEER_DB="$dir/peer.db" LISTEN_ADDR="127.0.0.1:$port" \
        KAV_DATA_DIR="$dir" DATABASE_URL="sqlite://$dir/kav.db" "$@") \
        >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    wait_healthy "$port"
    local sim=("$CALLSIM")
    [[ $sim_cpu == - ]] || sim=(taskset -c "$sim_cpu" "$CALLSIM")
    local common=(--server "http://127.0.0.1:$port" --public-url "$PUBLIC" --auth-token "$TOKEN"
        --status-callback "${TURNS[@]}" --concurrency "$CONCURRENCY")
    # Warm-up (not counted): every worker has served a call before the measurement.
    "${sim[@]}" load "${common[@]}" --calls "$WARMUP" --json >"$dir/warmup.json" ||
        { echo "$name: warm-up calls had errors (see $dir)" >&2; return 1; }
    local ticks0 ticks1 code=0
    ticks0=$(cpu_ticks "$SERVER_PID")
    "${sim[@]}" load "${common[@]}" --calls "$CALLS" --json >"$dir/load.json" || code=$?
    ticks1=$(cpu_ticks "$SERVER_PID")
    local hwm pss
    hwm=$(sum_kb "$SERVER_PID" status VmHWM)
    pss=$(sum_kb "$SERVER_PID" smaps_rollup Pss)
    local nproc_tree
    nproc_tree=$(tree_pids "$SERVER_PID" | wc -l)
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    "$PY" - "$name" "$dir" "$ticks0" "$ticks1" "$(getconf CLK_TCK)" "$hwm" "$pss" \
        "$nproc_tree" "$code" "$CALLS" "$WARMUP" <<'EOF'
import json, sqlite3, sys
name, d, t0, t1, hz, hwm, pss, nproc, code, calls, warm = sys.argv[1:]
s = json.load(open(f"{d}/load.json"))
w = s["webhooks"]
cpu = (int(t1) - int(t0)) / int(hz)
db = sqlite3.connect(f"{d}/kav.db" if name.startswith("kav") else f"{d}/peer.db")
rows = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("calls", "turns", "call_status_events")]
n = int(calls) + int(warm)
expect = [n, 3 * n, 4 * n]  # status events: the incoming call's own and 3 callbacks
stored = "ok" if rows == expect else f"MISMATCH {rows} != {expect}"
print(f"| {name} | {nproc} | {s['calls']} | {s['calls'] * 1000 / s['wall_ms']:.0f} "
      f"| {w['incoming_call']['p50_ms']} / {w['incoming_call']['p99_ms']} "
      f"| {w['action']['p50_ms']} / {w['action']['p99_ms']} "
      f"| {w['status_callback']['p50_ms']} / {w['status_callback']['p99_ms']} "
      f"| {cpu * 1000 / int(calls):.2f} | {int(hwm) / 1024:.1f} | {int(pss) / 1024:.1f} "
      f"| {s['calls_with_errors']} | {stored} |")
if s["calls_with_errors"] or rows != expect or code != "0":
    sys.exit(1)
EOF
}

HEADER="| server | processes | calls | calls/s | incoming_call p50 / p99 ms | gather p50 / p99 ms \
| call_status p50 / p99 ms | CPU ms per call | peak RSS MiB (VmHWM, summed) | PSS MiB after load \
| calls with errors | rows stored |
|---|---|---|---|---|---|---|---|---|---|---|---|"

KAV_ENV=(env CALL_MODE=gather KAV_LLM=scripted KAV_TTS=off TWILIO_AUTH_TOKEN="$TOKEN"
    PUBLIC_BASE_URL="$PUBLIC")
PEER_ENV=(env TWILIO_AUTH_TOKEN="$TOKEN" PUBLIC_BASE_URL="$PUBLIC")
GUNICORN=("$ROOT/.venv/bin/gunicorn" --chdir "$ROOT/scripts/peers" --worker-class sync
    flask_agent:app)

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
echo "uptime before: $(uptime)"
echo "$CALLS calls x 3 turns (+ 3 status callbacks), concurrency $CONCURRENCY, $WARMUP warm-up calls"
echo
echo "$HEADER"
run kav-server 18080 - -- "${KAV_ENV[@]}" "$KAV_SERVER"
run "flask+gunicorn ($WORKERS sync workers)" 18081 - -- "${PEER_ENV[@]}" "${GUNICORN[@]}" \
    --workers "$WORKERS" --bind 127.0.0.1:18081
if [[ $SINGLE == 1 ]]; then
    run "kav-server (taskset -c 0)" 18082 1 -- taskset -c 0 "${KAV_ENV[@]}" "$KAV_SERVER"
    run "flask+gunicorn (1 sync worker, taskset -c 0)" 18083 1 -- taskset -c 0 "${PEER_ENV[@]}" \
        "${GUNICORN[@]}" --workers 1 --bind 127.0.0.1:18083
fi
echo
echo "uptime after: $(uptime)"
rm -rf "$WORK"
