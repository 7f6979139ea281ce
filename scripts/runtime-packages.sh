#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that hold the shared libraries the given
# programs load, one per line: what a runtime image installs so that it
# needs no compiler and no -dev package. Libraries no package owns (CUDA in
# a base image that ships it outside dpkg) are left to the base image.
#   scripts/runtime-packages.sh build/bin/meridian-scheduler build/bin/meridian-train
set -euo pipefail
(($# > 0)) || { echo "usage: $0 PROGRAM..." >&2; exit 2; }
libs=$(ldd "$@" | awk '/=> \// {print $3}' | sort -u)
for lib in $libs; do
  # dpkg knows a library by the path it installed, which may be the
  # /usr/lib form of a /lib path (merged /usr) or the target of a link.
  for candidate in "$lib" "/usr$lib" "$(readlink -f "$lib")"; do
    if owner=$(dpkg -S "$candidate" 2>/dev/null); then
      echo "${owner%%:*}"
      break
    fi
  done
done | sort -u
