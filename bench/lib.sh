# Sourced by the benchmark scripts: the load generator, the processes a
# script starts, and the arithmetic on wrk's figures. Callers set DURATION,
# CONNECTIONS and THREADS; WRK_TIMEOUT (default 10s) is how long wrk waits
# for one answer before it counts a timeout instead of a latency.

WRK_TIMEOUT=${WRK_TIMEOUT:-10s}

# The processes started by the script (`cmd & pids+=($!)`); stop_all ends them.
pids=()
# Scratch files (wrk's output, logs); bench_cleanup removes it.
BENCH_TMP=$(mktemp -d)

# stop PID...: SIGTERM, then SIGKILL for any still running 10 s later.
stop() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 1 100); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  local left=() q
  for q in "${pids[@]}"; do
    case " $* " in *" $q "*) ;; *) left+=("$q") ;; esac
  done
  pids=(${left[@]+"${left[@]}"})
}

stop_all() { if [ ${#pids[@]} -gt 0 ]; then stop "${pids[@]}"; fi; }

bench_cleanup() { stop_all; rm -rf "$BENCH_TMP"; }

# Runs CLEANUP (default bench_cleanup) on exit, Ctrl-C and SIGTERM included.
trap_exit() {
  trap "${1:-bench_cleanup}" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# interruptible CMD...: runs CMD in the background and waits for it. wrk
# handles SIGINT itself (it stops and reports), and bash does not act on a
# SIGINT that its foreground command handled: waiting on a background job
# is what lets Ctrl-C reach the traps above.
interruptible() {
  local pid status=0
  "$@" &
  pid=$!
  pids+=("$pid")
  wait "$pid" || status=$?
  stop "$pid"
  return "$status"
}

wait_ready() { # url, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; then return 0; fi
    sleep 0.1
  done
  echo "bench: $1 did not answer 200 in $2 s" >&2
  return 1
}

to_us() { # "450.00us" | "2.10ms" | "1.02s" -> microseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) print int(n); else if (v ~ /ms$/) print int(n * 1000); else if (v ~ /s$/) print int(n * 1000000); else print int(n)
  }'
}

# run NAME URL -> sets RPS P50 P99 (and prints wrk's summary): a 2 s warm-up,
# then DURATION of load with the same connections. With WRK_SCRIPT set, wrk
# runs that Lua script, given the words of WRK_SCRIPT_ARGS.
run() {
  local name=$1 url=$2 out script=() script_args=()
  if [ -n "${WRK_SCRIPT:-}" ]; then
    script=(-s "$WRK_SCRIPT")
    # shellcheck disable=SC2206 # the script's arguments, a word each
    script_args=(-- ${WRK_SCRIPT_ARGS:-})
  fi
  interruptible wrk -t"$THREADS" -c"$CONNECTIONS" -d2s --timeout "$WRK_TIMEOUT" \
    ${script[@]+"${script[@]}"} "$url" ${script_args[@]+"${script_args[@]}"} >/dev/null # warm-up
  interruptible wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency \
    ${script[@]+"${script[@]}"} "$url" ${script_args[@]+"${script_args[@]}"} >"$BENCH_TMP/wrk.out"
  out=$(cat "$BENCH_TMP/wrk.out")
  echo "--- $name" >&2
  echo "$out" | sed -n '/Thread Stats/,/Requests\/sec/p' | grep -v '^ *[0-9]*%' >&2 || true
  if echo "$out" | grep -q 'Non-2xx'; then
    echo "bench: $name answered errors: $(echo "$out" | grep 'Non-2xx')" >&2
    return 1
  fi
  RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  P50=$(to_us "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  P99=$(to_us "$(echo "$out" | awk '$1 == "99%" {print $2}')")
}

# rss_mb PID...: the summed VmRSS of the processes, in MB (one decimal).
rss_mb() {
  local kb=0 p v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    kb=$((kb + ${v:-0}))
  done
  awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# The same to three places, for costs of a few percent.
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# alternate ROUNDS ROUND_DURATION NAME_A URL_A NAME_B URL_B -> sets
# ALT_A_RPS ALT_A_P99 ALT_B_RPS ALT_B_P99: two servers running side by side, loaded in turn
# ROUNDS times for ROUND_DURATION each, so that drifting load on the
# machine falls on both; the figures are the means of the rounds.
alternate() {
  local rounds=$1 each=$2 name_a=$3 url_a=$4 name_b=$5 url_b=$6 round saved=$DURATION
  local a_rps=0 b_rps=0 a_p99=0 b_p99=0
  DURATION=$each
  for round in $(seq 1 "$rounds"); do
    run "$name_a, round $round" "$url_a"
    a_rps=$(awk -v a="$a_rps" -v b="$RPS" 'BEGIN { print a + b }') a_p99=$((a_p99 + P99))
    run "$name_b, round $round" "$url_b"
    b_rps=$(awk -v a="$b_rps" -v b="$RPS" 'BEGIN { print a + b }') b_p99=$((b_p99 + P99))
  done
  DURATION=$saved
  ALT_A_RPS=$(awk -v a="$a_rps" -v n="$rounds" 'BEGIN { print a / n }') ALT_A_P99=$((a_p99 / rounds))
  ALT_B_RPS=$(awk -v a="$b_rps" -v n="$rounds" 'BEGIN { print a / n }') ALT_B_P99=$((b_p99 / rounds))
}

# started NAME PID URL: records PID and waits (READY_SECONDS, default 60)
# for URL to answer 200, else shows the tail of NAME's log
# ($BENCH_TMP/NAME.log).
started() {
  pids+=("$2")
  if ! wait_ready "$3" "${READY_SECONDS:-60}"; then
    tail -n 20 "$BENCH_TMP/$1.log" >&2
    return 1
  fi
}

# start_cluster BUS LISTEN ADMIN BUNDLES CONCURRENCY: a tron serving
# BUNDLES, a runner and a gateway on LISTEN, each a $RELEASE/funcmesh process
# on BUS logging to $BENCH_TMP; returns once http://LISTEN$URL_PATH answers.
start_cluster() {
  local bus=$1 listen=$2 admin=$3 bundles=$4 concurrency=$5
  # The three processes share one mesh token.
  FUNCMESH_TOKEN=${FUNCMESH_TOKEN:-$("$RELEASE/funcmesh" token)}
  export FUNCMESH_TOKEN
  FUNCMESH_LOG=warn "$RELEASE/funcmesh" tron --bus "$bus" --bundles "$bundles" --admin "$admin" \
    >"$BENCH_TMP/tron.log" 2>&1 & pids+=($!)
  FUNCMESH_LOG=warn "$RELEASE/funcmesh" runner --bus "$bus" --tron "http://$admin" \
    --concurrency "$concurrency" >"$BENCH_TMP/runner.log" 2>&1 & pids+=($!)
  FUNCMESH_LOG=warn "$RELEASE/funcmesh" gateway --bus "$bus" --listen "$listen" \
    >"$BENCH_TMP/gateway.log" 2>&1 &
  if ! started gateway $! "http://$listen$URL_PATH"; then
    tail -n 20 "$BENCH_TMP/tron.log" "$BENCH_TMP/runner.log" >&2
    return 1
  fi
}

# two_process_ceiling BIN SERVER NAME LABEL PORT -> sets C2_RPS C2_P50 C2_P99:
# a broker ceiling as two processes, as a mesh request crosses two (the
# gateway's and the runner's): `BIN --echo` answers the requests on queues
# named after NAME, and `BIN --front` serves HTTP on PORT and publishes them.
# Both get the window CEILING_PREFETCH; their output goes to
# $BENCH_TMP/echo.log and $BENCH_TMP/front.log.
two_process_ceiling() {
  local bin=$1 server=$2 name=$3 label=$4 port=$5
  local url="http://127.0.0.1:$port$URL_PATH"
  "$bin" --echo "127.0.0.1:$port" "$server" "$name" "$CEILING_PREFETCH" \
    >"$BENCH_TMP/echo.log" 2>&1 &
  pids+=($!)
  "$bin" --front "127.0.0.1:$port" "$server" "$name" "$CEILING_PREFETCH" \
    >"$BENCH_TMP/front.log" 2>&1 &
  if ! started front $! "$url"; then
    tail -n 20 "$BENCH_TMP/echo.log" >&2
    return 1
  fi
  run "$label ceiling, two processes" "$url"
  C2_RPS=$RPS C2_P50=$P50 C2_P99=$P99
  # The front first, so that the echo, which deletes the queues, goes last.
  stop "${pids[-1]}"
  stop "${pids[-1]}"
}

# ceiling_and_mesh CEILING_BIN SERVER BUS_URL LABEL: the three scenarios of a
# broker benchmark (nats.sh, kafka.sh), one after the other on one broker:
#   (a) CEILING_BIN, the raw round trip in one process, started as
#       `CEILING_BIN LISTEN SERVER NAME WINDOW` on BASE_PORT;
#   (b) the same round trip as two processes (two_process_ceiling), the
#       front on BASE_PORT + 4;
#   (c) funcmesh as three processes on BUS_URL, under a namespace of the
#       run's own (BUS_URL takes `?namespace=...`), serving BUNDLES.
# Callers set DURATION, CONNECTIONS, THREADS, BASE_PORT, BUNDLES,
# CEILING_PREFETCH, RUNNER_CONCURRENCY and URL_PATH, and have built the
# release binaries into RELEASE. Sets C_RPS C_P50 C_P99, C2_RPS C2_P50
# C2_P99 and M_RPS M_P50 M_P99; the ceilings' output stays in
# $BENCH_TMP/ceiling.log, echo.log and front.log. What outlives the
# processes on the broker (the mesh's namespace, and the ceilings' queues
# if they could not delete them) goes with
# `CEILING_BIN --delete-namespace NAME SERVER` on exit.
ceiling_and_mesh() {
  local bin=$1 server=$2 bus=$3 label=$4
  local run_id
  run_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
  CEILING_BIN=$bin BROKER_SERVER=$server
  MESH_NAMESPACE="fmbench$run_id" CEILING_NAME="funcmesh-bench-$run_id"
  trap_exit ceiling_and_mesh_cleanup

  local ceiling="http://127.0.0.1:$BASE_PORT$URL_PATH"
  "$bin" "127.0.0.1:$BASE_PORT" "$server" "$CEILING_NAME" "$CEILING_PREFETCH" \
    >"$BENCH_TMP/ceiling.log" 2>&1 &
  started ceiling $! "$ceiling"
  run "$label ceiling" "$ceiling"
  C_RPS=$RPS C_P50=$P50 C_P99=$P99
  stop "${pids[-1]}"

  two_process_ceiling "$bin" "$server" "$CEILING_NAME-2" "$label" "$((BASE_PORT + 4))" || exit 1

  local mesh="http://127.0.0.1:$((BASE_PORT + 1))$URL_PATH"
  start_cluster "$bus?namespace=$MESH_NAMESPACE" "127.0.0.1:$((BASE_PORT + 1))" \
    "127.0.0.1:$((BASE_PORT + 2))" "$BUNDLES" "$RUNNER_CONCURRENCY" || exit 1
  run "funcmesh on $label" "$mesh"
  M_RPS=$RPS M_P50=$P50 M_P99=$P99
  stop "${pids[@]: -3}"
}

ceiling_and_mesh_cleanup() {
  stop_all
  local name
  for name in "$MESH_NAMESPACE" "$CEILING_NAME" "$CEILING_NAME-2"; do
    "$CEILING_BIN" --delete-namespace "$name" "$BROKER_SERVER" 2>/dev/null || true
  done
  rm -rf "$BENCH_TMP"
}
