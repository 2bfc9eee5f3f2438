#!/usr/bin/env bash
# The test command: installs what the tests need (once), then runs every test of the workspace,
# including the differential tests against the Python reference implementations.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
export KAV_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --all-features "$@"
