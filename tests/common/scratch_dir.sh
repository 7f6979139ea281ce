#!/usr/bin/env bash
# Scratch directories that unprivileged users can reach, wherever the
# checkout lies. A test that hands files to another user (munged, the
# daemon's --run-as user) cannot keep them under the build tree: a clone
# under a mode-0700 parent (root's home, any `mktemp -d`) blocks every
# other user on the way down. Source this file, then:
#
#   dir=$(scratch_dir NAME) || exit    # a new directory, mode 0711
#
# The root is MERIDIAN_SCRATCH_ROOT (default /tmp/meridian-scratch), made
# mode 0711 and owned by whoever runs the tests; every directory above it
# must be searchable by others (checked, with the blocking one named). The
# caller removes its directory when done.

MERIDIAN_SCRATCH_ROOT=${MERIDIAN_SCRATCH_ROOT:-/tmp/meridian-scratch}

# Prints the first directory on the way to $1 that others cannot search.
scratch_blocking_parent() {
  local path=$1 mode
  while [[ $path != / ]]; do
    path=$(dirname "$path")
    mode=$(stat -c %a "$path") || { echo "$path"; return; }
    (( (8#$mode & 1) != 0 )) || { echo "$path (mode $mode)"; return; }
  done
}

scratch_dir() {
  local root=$MERIDIAN_SCRATCH_ROOT blocked dir
  install -d -m 0711 "$root" 2>/dev/null || { echo "scratch_dir: cannot make $root" >&2; return 1; }
  # A root made by another user could be swapped under us: refuse it.
  [[ $(stat -c %u "$root") == "$(id -u)" ]] ||
    { echo "scratch_dir: $root belongs to uid $(stat -c %u "$root"), not to us" >&2; return 1; }
  chmod 0711 "$root"
  blocked=$(scratch_blocking_parent "$root/x")
  [[ -z $blocked ]] ||
    { echo "scratch_dir: others cannot reach $root: $blocked blocks (set MERIDIAN_SCRATCH_ROOT)" >&2; return 1; }
  dir=$(mktemp -d "$root/$1.XXXXXX") || return 1
  chmod 0711 "$dir" && echo "$dir"
}
