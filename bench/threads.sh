#!/usr/bin/env bash
# Where processes' CPU goes, by thread: samples every thread of each PID at
# the start and the end of SECONDS, then prints, per process and thread
# name (threads of one name summed), the CPU time taken in the window (as a
# share of one core) and the context switches (voluntary, involuntary) per
# second. Run it while a benchmark loads the processes, e.g. to see what
# share of a gateway's CPU its broker client's I/O thread takes:
#
#   bench/threads.sh 5 "$(pgrep -f 'funcmesh gateway')" "$(pgrep -f 'funcmesh runner')"
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: bench/threads.sh SECONDS PID..." >&2
  exit 2
fi
seconds=$1
shift
ticks=$(getconf CLK_TCK)

# sample PID: one line per thread: "pid name cpu_ticks voluntary involuntary".
sample() {
  local pid=$1 task name stat cpu vol invol
  for task in /proc/"$pid"/task/*; do
    name=$(cat "$task/comm" 2>/dev/null) || continue
    stat=$(cat "$task/stat" 2>/dev/null) || continue
    # Fields after the parenthesised name: utime and stime are 14 and 15.
    cpu=$(echo "${stat##*) }" | awk '{ print $12 + $13 }')
    vol=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$task/status" 2>/dev/null || echo 0)
    invol=$(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$task/status" 2>/dev/null || echo 0)
    echo "$pid ${task##*/} ${name// /_} $cpu ${vol:-0} ${invol:-0}"
  done
}

before=$(mktemp) after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
for pid in "$@"; do sample "$pid"; done >"$before"
sleep "$seconds"
for pid in "$@"; do sample "$pid"; done >"$after"

printf '%-8s %-22s %8s %10s %12s\n' pid thread threads cpu_share switches/s
awk -v ticks="$ticks" -v secs="$seconds" '
  NR == FNR { cpu[$1 " " $2] = $4; vol[$1 " " $2] = $5; inv[$1 " " $2] = $6; next }
  {
    key = $1 " " $3
    n[key]++
    d_cpu[key] += $4 - cpu[$1 " " $2]
    d_sw[key] += ($5 - vol[$1 " " $2]) + ($6 - inv[$1 " " $2])
  }
  END {
    for (key in n) {
      split(key, k, " ")
      printf "%-8s %-22s %8d %10.2f %12.0f\n", k[1], k[2], n[key], d_cpu[key] / ticks / secs, d_sw[key] / secs
    }
  }' "$before" "$after" | sort -k1,1n -k4,4nr
