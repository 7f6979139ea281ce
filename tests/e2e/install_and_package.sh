#!/usr/bin/env bash
# `cmake --install` puts the programs, docs, examples and meridianctl's
# completion where a Linux user looks for them, and the installed daemon
# finds the installed trainer; `cpack` makes a .deb whose Depends name the
# libraries the programs load.
set -euo pipefail
build=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for f in bin/meridian-scheduler bin/meridianctl bin/meridian-train bin/meridian-data \
         share/doc/meridian/README.md share/doc/meridian/deploy.md share/meridian/examples/cluster.yaml \
         share/bash-completion/completions/meridianctl; do
  [[ -e $work/prefix/$f ]] || fail "cmake --install left out $f"
done
"$work/prefix/bin/meridian-train" --version | grep -q "^meridian-train " || fail "the installed trainer does not run"

(cd "$build" && cpack -G DEB -B "$work/packages" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/packages/*.deb)
dpkg-deb -c "$deb" >"$work/contents.txt"
grep -q "\./usr/bin/meridianctl$" "$work/contents.txt" || fail "the .deb has no usr/bin/meridianctl"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libgrpc openmpi-bin libsqlite3; do
  grep -q "$needed" <<<"$depends" || fail "the .deb's Depends lacks $needed: $depends"
done
echo "ok: installed under a prefix, and $(basename "$deb") depends on: $depends"
