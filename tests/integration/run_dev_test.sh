#!/usr/bin/env bash
# Smoke test of the development stack (scripts/run-dev.sh, `make run-dev`): runs it for a
# bounded time in a temp RUN_DIR with free ports, and checks that the probe's text results show
# UP and DOWN, summary lines appear, PostgreSQL gets rows, `report` (make peek-data) and
# `restart-agents` (make rebuild-dev) work on the running stack, and that every process the
# stack started is gone afterwards. The probe runs config/dev.yml without its internet domains.
# With RUN_DEV_KAFKA_TLS=1 in the environment the stack runs Kafka over mutual TLS, and the
# test also checks that it says so and that both agents connected. With RUN_DEV_PROBES=2 the
# checks are published to a catalog and two probes in catalog mode share them.
#   tests/integration/run_dev_test.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:?usage: run_dev_test.sh BUILD_DIR}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/isitup-run-dev-test-XXXXXX)
chmod 755 "$tmp" # as root, PostgreSQL runs as the postgres user and must reach $tmp/run/pg
out=$tmp/out.txt
stack=""

fail() {
  echo "FAIL: $*" >&2
  echo "---- run-dev output:" >&2
  cat "$out" >&2 2>/dev/null || true
  for f in "$tmp"/run/logs/*.log; do
    [[ -f $f ]] && { echo "---- $f (tail):" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}
started_pids() { # every "started ... (pid N" line of run-dev and of restart-agents
  cat "$out" "$tmp/restart.txt" 2>/dev/null | grep -aoE '^run-dev: started .*\(pid [0-9]+' |
    grep -oE '[0-9]+$' || true
}
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
cleanup() {
  local p
  [[ -n $stack ]] && kill -TERM "$stack" 2>/dev/null && sleep 5
  for p in $(started_pids); do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Without a running stack, restart-agents says so and fails.
if RUN_DIR=$tmp/run BUILD_DIR=$build bash "$repo/scripts/run-dev.sh" restart-agents \
  >"$tmp/norun.txt" 2>&1; then
  fail "restart-agents succeeded with no stack running"
fi
grep -q "no dev stack runs" "$tmp/norun.txt" || fail "restart-agents: $(cat "$tmp/norun.txt")"

# config/dev.yml without `domains:` (the real web sites): the test stays on 127.0.0.1.
awk '/^domains:/ {skip = 1; next} skip && /^[a-z]/ {skip = 0} !skip' "$repo/config/dev.yml" \
  >"$tmp/probe.yml"

export BUILD_DIR=$build RUN_DIR=$tmp/run RUN_DEV_SECONDS=25 RUN_DEV_SUMMARY_SECONDS=3 \
  RUN_DEV_KAFKA_PORT=auto RUN_DEV_PG_PORT=auto RUN_DEV_HTTP_PORT=auto ISITUP_DEV_INTERVAL=1s \
  RUN_DEV_PROBE_CONFIG=$tmp/probe.yml
timeout -s TERM 55 bash "$repo/scripts/run-dev.sh" >"$out" 2>&1 &
stack=$!

# Once rows are in PostgreSQL: the report, then restart the agents.
written() { grep -oE 'written to PostgreSQL [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+$' || echo 0; }
for ((i = 0; i < 200; i++)); do
  (($(written) > 0)) && break
  alive "$stack" || fail "run-dev exited before PostgreSQL got rows"
  sleep 0.1
done
(($(written) > 0)) || fail "no rows written to PostgreSQL after 20 s"
bash "$repo/scripts/run-dev.sh" report >"$tmp/report.txt" 2>&1 || fail "report: $(cat "$tmp/report.txt")"
grep -q "local-web" "$tmp/report.txt" || fail "report without local-web: $(cat "$tmp/report.txt")"
probe=probe
[[ ${RUN_DEV_PROBES:-0} == 0 ]] || probe=probe1
old_probe=$(cat "$tmp/run/pids/$probe.pid")
bash "$repo/scripts/run-dev.sh" restart-agents >"$tmp/restart.txt" 2>&1 ||
  fail "restart-agents: $(cat "$tmp/restart.txt")"
new_probe=$(cat "$tmp/run/pids/$probe.pid")
[[ $new_probe != "$old_probe" ]] && alive "$new_probe" && ! alive "$old_probe" ||
  fail "restart-agents did not replace the probe ($old_probe -> $new_probe)"

rc=0
wait "$stack" || rc=$?
stack=""
((rc == 0)) || fail "run-dev exited with $rc"

grep -qE '^[0-9T:-]+Z local-web +UP ' "$out" || fail "no UP result line for local-web"
grep -qE '^[0-9T:-]+Z nothing-listens +DOWN ' "$out" || fail "no DOWN result line for nothing-listens"
grep -qE '^[0-9T:-]+Z local-missing +DOWN ' "$out" || fail "no DOWN result line for local-missing"
grep -qE '^run-dev: --- summary .*checks [1-9][0-9]* \(up [1-9][0-9]*, down [1-9][0-9]*\)' "$out" ||
  fail "no summary line with up and down checks"
final=$(grep -E '^run-dev: --- final' "$out") || fail "no final summary"
[[ $final =~ written\ to\ PostgreSQL\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) ||
  fail "final summary without rows: $final"
grep -q '^run-dev: all stopped' "$out" || fail "no 'all stopped'"

pids=$(started_pids)
(($(wc -w <<<"$pids") >= 7)) || fail "expected >= 7 started processes, got: $pids"
for p in $pids; do alive "$p" && fail "process $p is still running after run-dev exited"; done
[[ -z $(ls "$tmp/run/pids") ]] || fail "pid files left: $(ls "$tmp/run/pids")"
if [[ ${RUN_DEV_KAFKA_TLS:-0} == 1 ]]; then
  grep -q '^run-dev: started isitup-kafka-dev on 127.0.0.1:[0-9]* over mutual TLS' "$out" ||
    fail "run-dev does not say the broker runs over mutual TLS"
  grep -q 'over TLS at' "$tmp/run/logs/kafka.log" || fail "the broker did not start its TLS fronts"
  grep -q 'connected to Kafka' "$tmp/run/logs/probe.log" || fail "the probe never connected over TLS"
  [[ $(stat -c %a "$tmp/run/tls/client.key") == 600 ]] || fail "client.key is not mode 600"
fi
if [[ ${RUN_DEV_PROBES:-0} != 0 ]]; then
  grep -qE '^run-dev: published .*fleet.yml: \+[1-9][0-9]* ~0 -0 \(0 unchanged\)$' "$out" ||
    fail "run-dev did not publish the checks to the catalog"
  for ((i = 1; i <= RUN_DEV_PROBES; i++)); do
    grep -q "assigned catalog partitions \[[0-9]" "$tmp/run/logs/probe$i.log" ||
      fail "probe$i never ran catalog partitions"
  done
fi
echo "PASS: $(grep -c ' UP \| DOWN ' "$out") result lines; $final"
