#!/bin/sh
# Build the release binaries and run the benchmarks of BENCHMARKS.md.
#
#   bench/run.sh                 # all of them, about 6-7 minutes
#   bench/run.sh e2e             # one: e2e | e2e-zyte | ratelimit | idle | open | many
#
# Needs python3 (3.8+) and /usr/bin/time (Debian package `time`). The official
# AutoExtract client is installed into a venv next to the binaries
# ($CARGO_TARGET_DIR/bench-venv), the official Zyte API client into another
# ($CARGO_TARGET_DIR/bench-venv-zyte); they are used by the e2e benchmarks only.
# Scratch state lives under $CARGO_TARGET_DIR/bench-work (the real disk, not tmpfs).
set -eu
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
what="${1:-all}"

cargo build --release --locked -p dredge
bin="$CARGO_TARGET_DIR/release/dredge"

want() { [ "$what" = all ] || [ "$what" = "$1" ]; }

if want e2e; then
    venv="$CARGO_TARGET_DIR/bench-venv"
    if ! "$venv/bin/python" -c 'import autoextract' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet scrapinghub-autoextract==0.6.1
    fi
    [ -x /usr/bin/time ] || { echo "install /usr/bin/time (apt-get install time)" >&2; exit 1; }
    echo "== end-to-end AutoExtract throughput ($(uptime))"
    python3 bench/e2e_autoextract.py --bin "$bin" --python "$venv/bin/python"
fi
if want e2e-zyte; then
    venv="$CARGO_TARGET_DIR/bench-venv-zyte"
    if ! "$venv/bin/python" -c 'import zyte_api' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet zyte-api==0.11.0
    fi
    [ -x /usr/bin/time ] || { echo "install /usr/bin/time (apt-get install time)" >&2; exit 1; }
    echo "== end-to-end Zyte API throughput ($(uptime))"
    python3 bench/e2e_zyte.py --bin "$bin" --python "$venv/bin/python"
fi
if want ratelimit; then
    cargo build --release --locked --manifest-path bench/ratelimit/Cargo.toml
    echo "== rate-limit precision ($(uptime))"
    "$CARGO_TARGET_DIR/release/dredge-bench-ratelimit" "$bin" 20 60 "$CARGO_TARGET_DIR/bench-work"
fi
if want idle; then
    echo "== idle daemon ($(uptime))"
    python3 bench/idle.py --bin "$bin"
fi
if want open; then
    echo "== start with 1,000,000 queued items ($(uptime))"
    python3 bench/open_1m.py --bin "$bin"
fi
if want many; then
    echo "== memory over many runs ($(uptime))"
    python3 bench/many_runs.py --bin "$bin"
fi
