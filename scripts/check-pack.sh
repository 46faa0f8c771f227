#!/usr/bin/env bash
# Packs cairn and proves the tarball carries its docs and license, and installs and loads
# its N-API prebuild with nothing compiled, under this machine's Node and under Node 24.
# One line per check; exits non-zero when any check fails. Builds what it packs first
# (prebuild, dist/, cmake-js).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export npm_config_nodedir=${npm_config_nodedir:-/usr}
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# check NAME COMMAND...: runs the command quietly, prints one line, shows the log on failure.
check() {
  local name=$1
  shift
  if "$@" >"$work/last.log" 2>&1; then
    echo "ok: $name"
  else
    echo "FAIL: $name"
    sed 's/^/    /' "$work/last.log" | tail -n 30
    failures=$((failures + 1))
  fi
}

finish() {
  echo "check-pack: $failures failed"
  [ "$failures" -eq 0 ]
  exit
}

# 1. Build what goes into the tarball.
check "prebuildify --napi --strip -> prebuilds/linux-x64/cairn.node" \
  bash -c 'npx prebuildify --napi --strip && test -f prebuilds/linux-x64/cairn.node'
check "tsc -p tsconfig.build.json -> dist/" npx tsc -p tsconfig.build.json
check "cmake-js build -> build-cmake/Release/cairn.node" npx cmake-js compile --out build-cmake
# prebuildify compiles with node-gyp (and moves build/Release/cairn.node into prebuilds/).
check "cmake-js module exports what the node-gyp prebuild does" node -e '
  const keys = (p) => Object.keys(require(require("path").resolve(p))).sort().join(",");
  const gyp = keys("prebuilds/linux-x64/cairn.node"), cmake = keys("build-cmake/Release/cairn.node");
  if (gyp !== cmake || gyp === "") throw new Error(`node-gyp: ${gyp}; cmake-js: ${cmake}`);'

# 2. Pack. Scripts are skipped: everything was built just above.
if ! tarball_name=$(npm pack --ignore-scripts --silent --pack-destination "$work" 2>"$work/pack.log"); then
  echo "FAIL: npm pack"
  sed 's/^/    /' "$work/pack.log"
  failures=$((failures + 1))
  finish
fi
tarball="$work/$(tail -n 1 <<<"$tarball_name")"
echo "ok: npm pack -> $(basename "$tarball")"
tar -tzf "$tarball" >"$work/contents.txt"
for entry in package/prebuilds/linux-x64/cairn.node package/binding.gyp package/CMakeLists.txt \
  package/native/sources.txt package/native/binding.cc package/dist/fs/native-binding.js; do
  check "tarball contains ${entry#package/}" grep -qxF "$entry" "$work/contents.txt"
done
# The README links to docs/; the license travels with the code.
for doc in LICENSE README.md docs/*.md; do
  check "tarball contains $doc" grep -qxF "package/$doc" "$work/contents.txt"
done
check "tarball holds no build/ output" bash -c "! grep -qE '^package/build(-cmake)?/' '$work/contents.txt'"

# 3. Install into an empty project, running install scripts (node-gyp-build).
mkdir -p "$work/app"
echo '{ "name": "check-pack-app", "version": "1.0.0", "private": true }' >"$work/app/package.json"
check "npm install <tarball> (install scripts on)" \
  npm install --prefix "$work/app" --ignore-scripts=false "$tarball"
installed="$work/app/node_modules/cairn"
check "nothing was compiled: no build/ in the installed package" test ! -e "$installed/build"

# The load check, run under each Node: node-gyp-build must pick the prebuild, the addon
# must work, and the built loader (dist/fs/native-binding.js) must find it too.
cat >"$work/load.mjs" <<'JS'
import { createRequire } from 'node:module';
import * as path from 'node:path';
const dir = process.argv[2];
const require = createRequire(path.join(dir, 'package.json'));
const nodeGypBuild = require('node-gyp-build');
const resolved = nodeGypBuild.resolve(dir);
const expected = path.join(dir, 'prebuilds', 'linux-x64', 'cairn.node');
if (resolved !== expected) throw new Error(`node-gyp-build resolved ${resolved}, not ${expected}`);
const binding = nodeGypBuild(dir);
if ((await binding.sameDevice(dir, path.join(dir, 'package.json'))) !== true) throw new Error('sameDevice is not true');
const loader = await import(path.join(dir, 'dist', 'fs', 'native-binding.js'));
if (loader.loadNative() === undefined) throw new Error(`dist loader failed: ${loader.nativeLoadError()}`);
if (loader.packageRoot() !== dir) throw new Error(`dist loader found root ${loader.packageRoot()}`);
console.log(`node ${process.version} (ABI ${process.versions.modules}) loaded ${path.relative(dir, resolved)}`);
JS

load_with() { # load_with LABEL NODE_BINARY
  if out=$("$2" "$work/load.mjs" "$installed" 2>&1); then
    echo "ok: $1: $out"
  else
    echo "FAIL: $1"
    sed 's/^/    /' <<<"$out" | tail -n 30
    failures=$((failures + 1))
  fi
}

# 4. Load under this machine's Node, then under Node 24 (a different ABI; N-API is not).
load_with "prebuild loads under $(node --version)" "$(command -v node)"
if node24=$(bash "$root/scripts/node24.sh" 2>"$work/node24.log"); then
  load_with "prebuild loads under Node $("$node24" --version)" "$node24"
else
  echo "FAIL: no Node 24 binary (scripts/node24.sh)"
  sed 's/^/    /' "$work/node24.log" | tail -n 30
  failures=$((failures + 1))
fi

finish
