#!/usr/bin/env bash
# Release check of the npm package, as a new user meets it: clone the repository,
# npm install (compiles the addon), npm pack (prepack writes prebuilds/), then install
# the tarball into an empty folder and check that it uses the prebuilt addon, compiles
# nothing (no build/ folder), and that `shears --version`, `shears demo` and a
# TypeScript consumer (moduleResolution nodenext, skipLibCheck false) work.
#   bash scripts/pack-check.sh [REPO (default: this checkout)] [WORKDIR (default: a temp dir)]
# Heavy: one full compile of the addon (and of the CUDA build when nvcc is found) and
# one demo run. PACK_CHECK_TGZ=shears-0.1.0.tgz skips clone, install and pack and checks
# that tarball (TypeScript then comes from REPO's node_modules).
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/shears-pack-check-XXXXXX")}
mkdir -p "$work"
fail() { echo "pack-check: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $* ($(date -u +%T))"; }

if [ -n "${PACK_CHECK_TGZ:-}" ]; then
  tgz=$(cd "$(dirname "$PACK_CHECK_TGZ")" && pwd)/$(basename "$PACK_CHECK_TGZ")
  tools="$repo/node_modules"
  echo "checking the given tarball $tgz"
else
  step "clone $repo into $work/clone"
  git clone -q "$repo" "$work/clone"
  cd "$work/clone"
  step "npm install in the clone (compiles the addon)"
  start=$SECONDS
  npm install --no-audit --no-fund --foreground-scripts > "$work/npm-install.log" 2>&1 || { tail -30 "$work/npm-install.log"; fail "npm install in the clone"; }
  echo "npm install: $((SECONDS - start)) s"

  step "npm pack"
  start=$SECONDS
  npm pack --foreground-scripts > "$work/npm-pack.log" 2>&1 || { tail -30 "$work/npm-pack.log"; fail "npm pack"; }
  echo "npm pack: $((SECONDS - start)) s"
  grep '^shears prebuild:' "$work/npm-pack.log" || true
  tgz="$work/clone/shears-0.1.0.tgz"
  [ -f "$tgz" ] || fail "no $tgz"
  [ -f build/Release/shears.node ] || fail "npm pack left the clone without build/Release/shears.node"
  echo "clone keeps build/Release/shears.node: yes"
  tools="$work/clone/node_modules"
fi
tar tzf "$tgz" > "$work/tarball-files.txt"
echo "tarball: $(stat -c %s "$tgz") bytes, $(wc -l < "$work/tarball-files.txt") files"
for f in package/prebuilds/linux-x64/shears.node package/dist/lib/index.js package/dist/lib/index.d.ts package/CMakeLists.txt package/bin/shears.js; do
  grep -qx "$f" "$work/tarball-files.txt" || fail "the tarball lacks $f"
done
if grep -q '^package/prebuilds/linux-x64-cuda/shears.node$' "$work/tarball-files.txt"; then echo "tarball carries the CUDA build"; else echo "tarball carries no CUDA build (no nvcc here)"; fi
if grep -Eq '^package/(test|build|build-cuda|coverage)/' "$work/tarball-files.txt"; then fail "the tarball carries tests or build folders"; fi

step "install the tarball into an empty folder"
app="$work/app"
mkdir -p "$app" && cd "$app"
echo '{"name":"shears-consumer","version":"1.0.0","private":true}' > package.json
start=$SECONDS
# --foreground-scripts: npm hides dependencies' install-script output otherwise.
npm install --no-audit --no-fund --foreground-scripts "$tgz" > "$work/app-install.log" 2>&1 || { tail -30 "$work/app-install.log"; fail "npm install of the tarball"; }
echo "npm install of the tarball: $((SECONDS - start)) s"
grep '^shears:' "$work/app-install.log"
grep -q 'using the prebuilt native addon' "$work/app-install.log" || fail "the install did not use the prebuilt addon"
[ ! -e node_modules/shears/build ] || fail "the install created node_modules/shears/build"
echo "node_modules/shears/build exists: no"

step "npx shears --version / backends"
if npx shears --help | grep -q -- '--version'; then npx shears --version; else echo "(this shears has no --version yet)"; fi
npx shears backends
step "npx shears demo --out demo-out"
start=$SECONDS
npx shears demo --out demo-out > "$work/demo.log" 2>&1 || { tail -30 "$work/demo.log"; fail "shears demo"; }
echo "shears demo: $((SECONDS - start)) s; demo-out holds: $(ls demo-out | tr '\n' ' ')"

step "TypeScript consumer: moduleResolution nodenext, skipLibCheck false"
cat > tsconfig.json <<JSON
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
  "strict": true, "skipLibCheck": false, "noEmit": true,
  "typeRoots": ["$tools/@types"], "types": ["node"] },
  "files": ["index.ts"] }
JSON
echo "import * as shears from 'shears'; const f: typeof shears.loadTokenizer = shears.loadTokenizer; console.log(typeof f);" > index.ts
"$tools/.bin/tsc" -p . || fail "tsc --noEmit in the consumer"
echo "tsc --noEmit: 0 errors"
echo; echo "pack-check: OK ($work)"
