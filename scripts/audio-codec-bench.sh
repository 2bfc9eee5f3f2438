#!/usr/bin/env bash
# Benchmarks kav-audio-codec against the Python implementations voice frameworks use (audioop for
# G.711, soxr's streaming resampler at quality "HQ"), on the same data sizes, in the same run, and
# prints the markdown tables of BENCHMARKS.md (## kav-audio-codec). Speed-ups are given both ways:
# best sample ÷ best of 7 repeats (like for like, and the least disturbed by other processes) and
# against criterion's median (what a loaded machine gives).
#
# Usage: scripts/audio-codec-bench.sh [criterion options, default: --warm-up-time 1 --measurement-time 3]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${KAV_PYTHON:-$PWD/.venv/bin/python}"
if [[ ! -x "$python" ]]; then
    echo "no Python peer at $python: run scripts/install-test-deps.sh (or set KAV_PYTHON)" >&2
    exit 1
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--warm-up-time 1 --measurement-time 3)
fi
# Kept next to criterion's results, so that the report can be printed again:
# bench_report.py "$target/criterion" "$target/criterion/python-peers.json".
peer_json="$target/criterion/python-peers.json"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo bench -p kav-audio-codec --bench codec -- "${args[@]}" >&2
mkdir -p "$target/criterion"
"$python" crates/audio-codec/tests/peer/bench_peer.py > "$peer_json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$python" crates/audio-codec/tests/peer/bench_report.py "$target/criterion" "$peer_json"
