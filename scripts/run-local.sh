#!/usr/bin/env bash
# Runs the agent on config/local.yml with a throwaway HTTP server on 127.0.0.1:8080, so that
# a machine without internet still shows both up and down results. Ctrl-C stops both.
# `make run-local` runs it; the whole stack (Kafka, PostgreSQL, probe and writer agents) is
# scripts/run-dev.sh (`make run-dev`).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

python3 -m http.server 8080 --bind 127.0.0.1 --directory config >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
echo "run-local: test server on 127.0.0.1:8080 (pid $server); Ctrl-C to stop"
"$build/bin/isitup-agent" --config config/local.yml --plugins-dir "$build/plugins" "$@"
