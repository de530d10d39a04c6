#!/usr/bin/env bash
# redis-benchmark's figures for `add`'s command, `SET key value NX PX ms`, in the three shapes
# of the Redis groups: one by one (-c 1 -P 1), many callers (-c 50 -P 16) and batches (-P 100).
#
#   benches/scripts/redis-benchmark.sh HOST PORT
#
# Prints one CSV line per shape: `shape,requests_per_second`. The Redis bench
# (`cargo bench -p one-benches --bench redis`) runs this against the server it uses, so the
# figures sit beside its own from the same run.
set -euo pipefail
host="${1:?usage: redis-benchmark.sh HOST PORT}"
port="${2:?usage: redis-benchmark.sh HOST PORT}"
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is not on PATH" >&2; exit 3; }

run() {
  local shape="$1"; shift
  # -r: random key suffixes, so most SETs create a key, as most `add`s do.
  local line
  line=$(redis-benchmark -h "$host" -p "$port" -r 100000000 --csv "$@" \
    SET "bench:rb:__rand_int__" 1 NX PX 60000 | tail -n 1)
  # "SET ...","123456.79",... -> the second field.
  local rps
  rps=$(printf '%s\n' "$line" | awk -F'","' '{ gsub(/"/, "", $2); print $2 }')
  echo "$shape,$rps"
}

run "c1_p1" -c 1 -P 1 -n 50000
run "c50_p16" -c 50 -P 16 -n 1000000
run "c50_p100" -c 50 -P 100 -n 1000000
