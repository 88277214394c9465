#!/usr/bin/env bash
# npm run bench: every package's benchmark, on this machine's Node, or on
# another line with BENCH_NODE=<major> (for example BENCH_NODE=24 npm run bench).
# A first argument naming another target (bench:instructions) runs that one.
set -euo pipefail
cd "$(dirname "$0")/.."
target=bench
case "${1:-}" in bench:*) target=$1; shift ;; esac
cmd=(npx nx run-many -t "$target" --parallel=1 --outputStyle=static "$@")
if [ -n "${BENCH_NODE:-}" ]; then exec tools/with-node.sh "$BENCH_NODE" "${cmd[@]}"; fi
exec "${cmd[@]}"
