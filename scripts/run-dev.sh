#!/usr/bin/env bash
# The local development stack without Docker (what `make run-dev` runs), all state in run/:
#   isitup-kafka-dev    a Kafka-protocol broker on 127.0.0.1        (run/logs/kafka.log)
#   PostgreSQL          a throwaway cluster in run/pg, initdb once  (run/logs/postgres.log)
#   python http.server  a local test target on 127.0.0.1            (run/logs/http.log)
#   writer agent        config/writer.yml: Kafka source -> pg_sink  (run/logs/writer.log)
#   probe agent         config/dev.yml: http checks -> kafka_sink + stdout_sink
#                       (results run/logs/probe-results.log, shown live; log run/logs/probe.log)
#   or, with RUN_DEV_PROBES=N, a probe fleet: the file's checks published to the catalog topic
#   isitup.checks (run/fleet.yml, isitup-agent --publish-checks) and N probe agents in catalog
#   mode sharing them in group probes-dev (logs run/logs/probe1.log ..., results as above)
# Every few seconds a summary line: checks done, up/down, rows written, lag.
# Ctrl-C or SIGTERM stops everything it started, agents first so that they flush.
#
# Usage:
#   scripts/run-dev.sh                 start the stack and show results until Ctrl-C
#   scripts/run-dev.sh restart-agents  restart the two agents of a running stack (make rebuild-dev)
#   scripts/run-dev.sh report          isitup-report on the stack's database (make peek-data)
# Environment:
#   BUILD_DIR (build)  RUN_DIR (run)  RUN_DEV_SECONDS (0 = until Ctrl-C)
#   RUN_DEV_SUMMARY_SECONDS (5)  RUN_DEV_PROBE_CONFIG (config/dev.yml)  RUN_DEV_PROBES (0: one
#   probe with the file's checks; 1-8: that many probes in catalog mode, see above)
#   RUN_DEV_KAFKA_PORT (9092)  RUN_DEV_PG_PORT (5433)  RUN_DEV_HTTP_PORT (8080): a number, or
#   `auto` for a free port. ISITUP_DEV_INTERVAL (5s): how often the probe's checks run.
#   RUN_DEV_KAFKA_TLS (0): 1 = the broker speaks mutual TLS only (isitup-kafka-dev --tls
#   --client-ca) and both agents connect with a CA, a client certificate and its key, made
#   with openssl into run/tls (kept while valid), as against a managed Kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=$(realpath -m "${BUILD_DIR:-build}")
run_dir=$(realpath -m "${RUN_DIR:-run}")
logs=$run_dir/logs
pids=$run_dir/pids
stack_env=$run_dir/stack.env
probe_config=$(realpath -m "${RUN_DEV_PROBE_CONFIG:-config/dev.yml}")
writer_config=$repo/config/writer.yml

log() { echo "run-dev: $*"; }
die() {
  echo "run-dev: error: $*" >&2
  exit 1
}

# True when process $1 exists and is not a zombie.
alive() {
  local state
  [[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}
pid_of() { cat "$pids/$1.pid" 2>/dev/null || true; }

# Sends SIGTERM to process $2 (named $1), waits up to $3 seconds, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 wait_s=$3 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do
    alive "$pid" || {
      log "stopped $name (pid $pid)"
      return 0
    }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop within ${wait_s}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
choose_port() { # $1 name, $2 value (number or auto)
  if [[ $2 == auto ]]; then
    free_port
  elif port_open "$2"; then
    die "port $2 ($1) on 127.0.0.1 is already in use: stop what listens there or set" \
      "RUN_DEV_$(tr "[:lower:]" "[:upper:]" <<<"$1")_PORT=<port|auto>"
  else
    echo "$2"
  fi
}
wait_port() { # $1 name, $2 port, $3 pid
  local i
  for ((i = 0; i < 150; i++)); do
    port_open "$2" && return 0
    alive "$3" || die "$1 exited during start-up; see $logs/$1.log"
    sleep 0.1
  done
  die "$1 does not listen on 127.0.0.1:$2 after 15 s; see $logs/$1.log"
}

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
pg_bin=${ISITUP_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_dev() { # SQL -> unaligned tuples
  PGCONNECT_TIMEOUT=3 "$pg_bin/psql" -X -A -t -q -h 127.0.0.1 -p "$pg_port" -U postgres \
    -d "${2:-isitup}" -c "$1"
}

# Starts agent $1 (probe|probeN|writer) in its own session, so Ctrl-C reaches only this
# script. A probeN runs $run_dir/probeN.yml (catalog mode, see start_fleet).
start_agent() {
  local name=$1 config out
  if [[ $name == probe ]]; then config=$probe_config out=$logs/probe-results.log; elif
    [[ $name == probe* ]]; then config=$run_dir/$name.yml out=$logs/probe-results.log; else
    config=$writer_config out=$logs/writer.log
  fi
  KAFKA_BROKERS=$KAFKA_BROKERS PG_CONNECTION=$PG_CONNECTION \
    KAFKA_SECURITY_PROTOCOL=${KAFKA_SECURITY_PROTOCOL:-plaintext} \
    KAFKA_SSL_CA=${KAFKA_SSL_CA:-} KAFKA_SSL_CERT=${KAFKA_SSL_CERT:-} \
    KAFKA_SSL_KEY=${KAFKA_SSL_KEY:-} ISITUP_DEV_HTTP_PORT=$ISITUP_DEV_HTTP_PORT ISITUP_DEV_INTERVAL=${ISITUP_DEV_INTERVAL:-} \
    setsid "$build/bin/isitup-agent" --config "$config" --plugins-dir "$build/plugins" \
    </dev/null >>"$out" 2>>"$logs/$name.log" &
  echo $! >"$pids/$name.pid"
  log "started $name agent (pid $!) with ${config#"$repo"/}"
}

# The probes' names: probe, or probe1..probeN with RUN_DEV_PROBES=N.
probe_names() {
  local n=${RUN_DEV_PROBES:-${probes:-0}} i
  if ((n == 0)); then echo probe; else for ((i = 1; i <= n; i++)); do echo "probe$i"; done; fi
}

# RUN_DEV_PROBES=N: the probe config with a catalog (run/fleet.yml) is published, then N probes
# run its copies with their own agent ids, all in the group probes-dev.
start_fleet() {
  local n=$1 i
  {
    cat "$probe_config"
    cat <<'EOF'

# Added by scripts/run-dev.sh for RUN_DEV_PROBES: the catalog the checks above are published to
# and the probes run from.
catalog:
  plugin: kafka_sink
  options:
    brokers: "${KAFKA_BROKERS:-127.0.0.1:9092}"
    group: probes-dev
    properties:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
      security.protocol: "${KAFKA_SECURITY_PROTOCOL:-plaintext}"
      ssl.ca.location: "${KAFKA_SSL_CA:-}"
      ssl.certificate.location: "${KAFKA_SSL_CERT:-}"
      ssl.key.location: "${KAFKA_SSL_KEY:-}"
EOF
  } >"$run_dir/fleet.yml"
  # Relative to the repository (the working directory) when it is inside it, as logged.
  "$build/bin/isitup-agent" --publish-checks "${run_dir#"$repo"/}/fleet.yml" \
    --plugins-dir "$build/plugins" \
    2>>"$logs/publish.log" | sed 's/^/run-dev: published /' ||
    die "publishing the checks failed; see $logs/publish.log"
  for ((i = 1; i <= n; i++)); do
    sed "s/^  id: .*/  id: dev-probe-$i/" "$run_dir/fleet.yml" >"$run_dir/probe$i.yml"
    start_agent "probe$i"
  done
}

check_binaries() {
  local f
  for f in bin/isitup-agent bin/isitup-kafka-dev plugins/http_check.so plugins/kafka_sink.so \
    plugins/pg_sink.so plugins/stdout_sink.so; do
    [[ -e $build/$f ]] || die "$build/$f is missing: run \`make build\` first"
  done
  [[ -x $pg_bin/initdb ]] || die "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin):" \
    "run \`make deps\`"
}

# Certificates for RUN_DEV_KAFKA_TLS=1 in $1: a CA, the broker's (127.0.0.1, localhost) and a
# client's, all signed by the CA; made again when one is missing or expires within a day.
make_dev_certs() {
  local dir=$1 f ok=1
  for f in ca.pem broker.pem broker.key client.pem client.key; do
    [[ -s $dir/$f ]] || ok=0
  done
  if ((ok)) && openssl x509 -checkend 86400 -noout -in "$dir/broker.pem" \
    >/dev/null 2>&1 && openssl x509 -checkend 86400 -noout -in "$dir/client.pem" >/dev/null 2>&1; then
    return 0
  fi
  log "making TLS certificates for the dev broker in $dir"
  mkdir -p "$dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    set -e
    cd "$dir"
    umask 077
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 365 \
      -subj "/CN=isitup dev CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req "${ec[@]}" -keyout broker.key -out broker.csr -subj /CN=localhost
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
      -days 90 -extfile broker.ext
    openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=isitup dev agent"
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem \
      -days 90 -extfile client.ext
    chmod 644 ca.pem broker.pem client.pem
  ) >"$logs/openssl.log" 2>&1 || die "openssl could not make the certificates; see $logs/openssl.log"
}

# ---- make rebuild-dev: restart the agents of a running stack --------------------------------
restart_agents() {
  alive "$(pid_of run-dev)" && [[ -r $stack_env ]] ||
    die "no dev stack runs in $run_dir (start one with \`make run-dev\`)"
  # shellcheck source=/dev/null
  source "$stack_env"
  check_binaries
  local name
  for name in $(probe_names) writer; do
    stop_pid "$name agent" "$(pid_of $name)" 20
    start_agent "$name"
  done
  log "the agents run the new build; their output shows in the run-dev terminal"
}

# ---- make peek-data: the report from the dev database ---------------------------------------
report() {
  if [[ -r $stack_env ]]; then
    set -a # PG_CONNECTION for config/writer.yml
    # shellcheck source=/dev/null
    source "$stack_env"
    set +a
  fi
  [[ -x $build/bin/isitup-report ]] || die "$build/bin/isitup-report is missing: run \`make build\`"
  if ! "$build/bin/isitup-report" --config "$writer_config"; then
    alive "$(pid_of run-dev)" || echo "run-dev: no dev stack runs: start it with \`make run-dev\`" >&2
    exit 1
  fi
}

case ${1:-start} in
  start) ;;
  restart-agents)
    restart_agents
    exit 0
    ;;
  report)
    report
    exit 0
    ;;
  *) die "unknown command '$1' (start, restart-agents, report)" ;;
esac

# ---- start the stack -------------------------------------------------------------------------
check_binaries
probes=${RUN_DEV_PROBES:-0}
[[ $probes =~ ^[0-8]$ ]] || die "RUN_DEV_PROBES must be 0 to 8, not '$probes'"
mkdir -p "$logs" "$pids" "$run_dir/pg"
if alive "$(pid_of run-dev)"; then
  die "a dev stack already runs in $run_dir (pid $(pid_of run-dev)); stop it with Ctrl-C first"
fi
rm -f "$pids"/*.pid
echo $$ >"$pids/run-dev.pid"

stopping=0
cleanup() {
  local code=$?
  trap - EXIT
  trap 'log "still stopping (every step is bounded)..."' INT TERM
  set +e
  log "stopping..."
  # The writer gets a few seconds to write what the probe produced last.
  for name in $(probe_names); do stop_pid "$name agent" "$(pid_of "$name")" 20; done
  if alive "$(pid_of writer)" && [[ -n ${pg_port:-} ]]; then
    for ((i = 0; i < 50; i++)); do
      read -r done_checks _ _ written _ < <(counts) && ((written >= done_checks)) && break
      sleep 0.1
    done
    summary final
  fi
  stop_pid "writer agent" "$(pid_of writer)" 20
  stop_pid "http server" "$(pid_of http)" 5
  stop_pid "kafka broker" "$(pid_of kafka)" 10
  if [[ -f $run_dir/pg/data/postmaster.pid ]]; then
    as_pg "$pg_bin/pg_ctl" -D "$run_dir/pg/data" -m fast -w -t 60 stop >>"$logs/postgres.log" 2>&1 &&
      log "stopped PostgreSQL (pid $(pid_of postgres))"
  fi
  rm -f "$pids"/*.pid "$stack_env"
  log "all stopped"
  ((stopping)) && code=0
  exit "$code"
}
trap cleanup EXIT
trap 'stopping=1; exit 0' INT TERM

kafka_port=$(choose_port kafka "${RUN_DEV_KAFKA_PORT:-9092}")
pg_port=$(choose_port pg "${RUN_DEV_PG_PORT:-5433}")
http_port=$(choose_port http "${RUN_DEV_HTTP_PORT:-8080}")

# PostgreSQL: initdb once, reused by later runs.
pg_dir=$run_dir/pg
if [[ $(id -u) -eq 0 ]]; then
  chmod o+x "$run_dir" # the postgres user must reach run/pg
  touch "$logs/postgres.log"
  chown postgres: "$pg_dir" "$logs/postgres.log"
  as_pg test -w "$pg_dir" -a -x "$pg_dir" ||
    die "the postgres user cannot write $pg_dir: every directory above it must be searchable" \
      "(chmod o+x), or set RUN_DIR elsewhere"
fi
if [[ ! -f $pg_dir/data/PG_VERSION ]]; then
  log "creating the PostgreSQL cluster in $pg_dir/data (once)"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$logs/initdb.log" 2>&1 || die "initdb failed; see $logs/initdb.log"
fi
if as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
  log "PostgreSQL left running by an earlier run: restarting it"
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >>"$logs/postgres.log" 2>&1
fi
as_pg setsid "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$logs/postgres.log" -w -t 60 \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg_dir -c timezone=UTC" \
  start >/dev/null || die "PostgreSQL did not start; see $logs/postgres.log"
head -n 1 "$pg_dir/data/postmaster.pid" >"$pids/postgres.pid"
log "started PostgreSQL on 127.0.0.1:$pg_port (pid $(pid_of postgres)), data in $pg_dir/data"
if [[ $(psql_dev "SELECT 1 FROM pg_database WHERE datname = 'isitup'" postgres) != 1 ]]; then
  psql_dev "CREATE DATABASE isitup" postgres
fi

kafka_args=(--port "$kafka_port" --topic isitup.results)
((probes == 0)) || kafka_args+=(--topic isitup.checks:8)
kafka_how=""
if [[ ${RUN_DEV_KAFKA_TLS:-0} == 1 ]]; then
  tls_dir=$run_dir/tls
  make_dev_certs "$tls_dir"
  kafka_args+=(--tls "$tls_dir/broker.pem" "$tls_dir/broker.key" --client-ca "$tls_dir/ca.pem")
  export KAFKA_SECURITY_PROTOCOL=ssl KAFKA_SSL_CA=$tls_dir/ca.pem \
    KAFKA_SSL_CERT=$tls_dir/client.pem KAFKA_SSL_KEY=$tls_dir/client.key
  kafka_how=" over mutual TLS (certificates in ${tls_dir#"$repo"/})"
elif [[ ${RUN_DEV_KAFKA_TLS:-0} != 0 ]]; then
  die "RUN_DEV_KAFKA_TLS must be 0 or 1, not '${RUN_DEV_KAFKA_TLS}'"
fi
setsid "$build/bin/isitup-kafka-dev" "${kafka_args[@]}" </dev/null >"$logs/kafka.log" 2>&1 &
echo $! >"$pids/kafka.pid"
wait_port kafka "$kafka_port" "$(pid_of kafka)"
log "started isitup-kafka-dev on 127.0.0.1:$kafka_port$kafka_how (pid $(pid_of kafka))"

setsid python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$repo/config" \
  </dev/null >"$logs/http.log" 2>&1 &
echo $! >"$pids/http.pid"
wait_port http "$http_port" "$(pid_of http)"
log "started the test web server on 127.0.0.1:$http_port (pid $(pid_of http))"

export KAFKA_BROKERS=127.0.0.1:$kafka_port
export PG_CONNECTION=postgresql://postgres@127.0.0.1:$pg_port/isitup
export ISITUP_DEV_HTTP_PORT=$http_port
cat >"$stack_env" <<EOF
RUN_DEV_PROBES=$probes
KAFKA_BROKERS=$KAFKA_BROKERS
PG_CONNECTION=$PG_CONNECTION
ISITUP_DEV_HTTP_PORT=$ISITUP_DEV_HTTP_PORT
ISITUP_DEV_INTERVAL=${ISITUP_DEV_INTERVAL:-}
KAFKA_SECURITY_PROTOCOL=${KAFKA_SECURITY_PROTOCOL:-plaintext}
KAFKA_SSL_CA=${KAFKA_SSL_CA:-}
KAFKA_SSL_CERT=${KAFKA_SSL_CERT:-}
KAFKA_SSL_KEY=${KAFKA_SSL_KEY:-}
probe_config=$probe_config
pg_port=$pg_port
EOF

: >"$logs/probe-results.log"
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_s=$SECONDS
start_agent writer
if ((probes == 0)); then start_agent probe; else start_fleet "$probes"; fi
log "Ctrl-C stops everything; logs in ${logs#"$repo"/}/, \`make peek-data\` shows the report"

# "checks up down written newest_age": results printed by the probe and rows written since
# this run started.
counts() {
  local up down row
  read -r up down < <(awk '$3 == "UP" {u++} $3 == "DOWN" {d++} END {print u + 0, d + 0}' \
    "$logs/probe-results.log")
  row=$(psql_dev "SELECT count(*) || ' ' || coalesce(round(extract(epoch FROM now() -
    max(started_at)))::text, '-') FROM check_results WHERE started_at >= '$started_at'" \
    2>/dev/null) || row="0 -"
  echo "$((up + down)) $up $down ${row:-0 -}"
}
summary() {
  local checks up down written age name pid warn=""
  read -r checks up down written age < <(counts)
  [[ ${1:-} == final ]] || for name in $(probe_names) writer kafka http postgres; do
    pid=$(pid_of $name)
    [[ -z $pid ]] || alive "$pid" || warn+=" | $name NOT RUNNING (see ${logs#"$repo"/}/)"
  done
  if [[ $age == - ]]; then age="no rows yet"; else age="newest row ${age}s old"; fi
  printf 'run-dev: --- %s %4ds: checks %d (up %d, down %d) | written to PostgreSQL %d | lag: %s, %d not yet written%s\n' \
    "${1:-summary}" $((SECONDS - start_s)) "$checks" "$up" "$down" "$written" "$age" \
    $((checks - written)) "$warn"
}

# Show the probe's results as they come, a summary every RUN_DEV_SUMMARY_SECONDS.
shown=0
every=${RUN_DEV_SUMMARY_SECONDS:-5}
limit=${RUN_DEV_SECONDS:-0}
next_summary=$((SECONDS + every))
while :; do
  sleep 1
  total=$(wc -l <"$logs/probe-results.log")
  if ((total < shown)); then shown=0; fi
  if ((total > shown)); then
    sed -n "$((shown + 1)),${total}p" "$logs/probe-results.log"
    shown=$total
  fi
  if ((SECONDS >= next_summary)); then
    summary
    next_summary=$((SECONDS + every))
  fi
  if ((limit > 0 && SECONDS - start_s >= limit)); then
    log "RUN_DEV_SECONDS=$limit reached"
    stopping=1
    exit 0
  fi
done
