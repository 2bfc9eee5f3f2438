#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine, and does nothing when it is already there:
# - Debian packages: espeak-ng (speech for test audio and the offline TTS provider), sox,
#   chromium (the headless browser of kav-server's page tests) and fonts-dejavu-core (a font
#   with Hebrew glyphs, so the pages' right-to-left text renders in screenshots).
# - A Python virtual environment in .venv with the reference implementations the differential tests
#   compare against (twilio-python, soxr, audioop), pinned in scripts/requirements-peers.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

debs=(espeak-ng sox chromium fonts-dejavu-core)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
req=scripts/requirements-peers.txt
stamp=.venv/.installed-$(sha256sum "$req" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "install-test-deps: creating .venv with $(${py} --version 2>&1)"
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
