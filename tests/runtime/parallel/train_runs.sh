# Sourced by the training-equivalence scripts: run NAME NP ARGS... trains
# with the script's `common` options plus ARGS (one process, or NP ranks
# under $mpirun_line), metrics to $work/NAME.jsonl, log to $work/NAME.log;
# a failed run ends the script with the log's tail.
run() {
  local name=$1 np=$2; shift 2
  if [[ $np -eq 1 ]]; then
    "$bin/meridian-train" "${common[@]}" --metrics-out "$work/$name.jsonl" "$@" 2>"$work/$name.log"
  else
    $mpirun_line -np "$np" "$bin/meridian-train" "${common[@]}" --metrics-out "$work/$name.jsonl" "$@" \
      >"$work/$name.log" 2>&1
  fi || { echo "FAIL: $name exited non-zero"; tail -20 "$work/$name.log"; exit 1; }
}
