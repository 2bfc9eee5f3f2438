#!/usr/bin/env bash
# Validations per second of kav-twilio-sig (criterion) and of twilio-python's RequestValidator on
# the same call webhook (21 form parameters, the signature over the URL without port matching).
# Usage: scripts/twilio-sig-bench.sh [extra criterion arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${KAV_PYTHON:-.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "twilio-sig-bench: no $python; run scripts/install-test-deps.sh first" >&2
  exit 1
fi
echo "== kav-twilio-sig (cargo bench -p kav-twilio-sig --bench validate)"
cargo bench -p kav-twilio-sig --bench validate -- --warm-up-time 2 --measurement-time 10 "$@"
echo
echo "== twilio-python $("$python" -c 'import importlib.metadata as m; print(m.version("twilio"))')"
"$python" scripts/twilio-sig-bench.py
