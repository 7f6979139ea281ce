#!/usr/bin/env bash
# A job's own user against a root daemon with --run-as. While its job runs,
# the user plants, in its job directory, a link to a root-owned file at
# every name the daemon or launcher writes, and a lock file naming a root
# process as its process group (after glob bombs the daemon refuses at
# once without growing); it tries to write the daemon's launch
# directory; then it kills its own rank. The job restarts and finishes,
# every root file is unchanged, the root process was not signalled, and
# the job's files are the user's alone (directory 0750, files 0640).
set -uo pipefail
bin=$1; work=$2
[[ $(id -u) == 0 ]] || { echo "skipped: needs root"; exit 77; }
getent passwd nobody >/dev/null || { echo "skipped: no user 'nobody'"; exit 77; }
command -v setpriv >/dev/null || { echo "skipped: no setpriv (util-linux)"; exit 77; }
source "$(dirname "$0")/../common/scratch_dir.sh"
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
scratch=$(scratch_dir hostile) || { echo "FAIL: no scratch directory"; exit 1; }
bystander=""
trap 'daemon_stop_all; [[ -n $bystander ]] && kill $bystander 2>/dev/null; wait 2>/dev/null; rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*"; tail -20 "$scratch/daemon.log"
  local log=$scratch/state/jobs/job-000001/output.log
  [[ -f $log && ! -L $log ]] && tail -20 "$log"
  exit 1
}
as_user() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
mkdir -m 755 "$scratch/bin" && cp "$bin"/meridian{-scheduler,-train,-data,ctl} "$scratch/bin/" || exit 1
bin=$scratch/bin
"$bin/meridian-data" synth --out "$scratch/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
chmod -R a+rX "$scratch/data"

# Root's files the tenant aims at, one for each name the daemon or the
# launcher writes (today's and those of earlier versions).
names=(output.log hostfile job.sbatch launch-1.lock launch-2.lock launch-1.exit launch-2.exit launch-2.exit.tmp
       daemon-commands.log)
mkdir -m 755 "$scratch/root-files"
for n in "${names[@]}"; do echo "root's $n" >"$scratch/root-files/$n"; done
chmod 644 "$scratch/root-files"/*
sha256sum "$scratch/root-files"/* >"$work/root-files.sha256"
# A root process in a group of its own that no one may signal.
setsid sleep 600 &
bystander=$!

daemon_start "$scratch/daemon.log" --listen 127.0.0.1:0 --state "$scratch/state" --slots-per-dc 2 --run-as nobody ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
cat >"$scratch/job.yaml" <<YAML
name: tenant
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 2, seq: 16, steps: 6000, data: "$scratch/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 1}
max_restarts: 2
YAML
# Glob bombs are refused at once, and the daemon does not grow on them.
mkdir -p "$scratch/bomb"/{a,b,c,d,e,f,g,h}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status"; }
rss_before=$(rss)
for pattern in "*/../*/../*/../*/../*/../*/../*/../*/train_*.bin" "*/*/*/*/*/*/*/train_*.bin" "*/../train_*.bin"; do
  sed "s|data: \"[^\"]*\"|data: \"$scratch/bomb/$pattern\"|" "$scratch/job.yaml" >"$scratch/bomb.yaml"
  start=$(date +%s.%N)
  out=$("$bin/meridianctl" submit "$scratch/bomb.yaml" 2>&1) && fail "a glob bomb was accepted: $pattern"
  grep -q "a data pattern's limit" <<<"$out" || fail "the refusal of $pattern does not name the limit: $out"
  python3 -c "import sys; sys.exit(float(sys.argv[2]) - float(sys.argv[1]) > 1.0)" "$start" "$(date +%s.%N)" ||
    fail "refusing $pattern took more than 1 s"
done
(( $(rss) - rss_before < 50 * 1024 )) || fail "the daemon grew by $(( $(rss) - rss_before )) kB on glob bombs"
"$bin/meridianctl" submit "$scratch/job.yaml" >/dev/null || fail "submit"
jobdir=$scratch/state/jobs/job-000001
launchdir=$scratch/state/launch/job-000001
# Mid-run, after the first checkpoint (every steps/5 = 1200 steps), with
# most of the run still ahead: this model trains about a thousand steps a
# second here, so a shorter run could end before the kill lands.
step=$(wait_for_step "$jobdir/metrics.jsonl" 1250 60) || fail "the job never reached step 1250"

# The daemon's directory is out of the user's reach.
as_user touch "$launchdir/planted" 2>/dev/null && fail "the user wrote into the daemon's $launchdir"
as_user sh -c "echo $bystander >'$launchdir/launch-2.lock'" 2>/dev/null && fail "the user wrote the daemon's lock"
# Its own directory is the user's: links at every name, a lock naming root's process.
for n in "${names[@]}"; do
  as_user ln -sfn "$scratch/root-files/$n" "$jobdir/$n.new" && as_user mv -fT "$jobdir/$n.new" "$jobdir/$n" ||
    fail "the user could not plant $n in its own directory"
done
as_user rm -f "$jobdir/launch-2.lock" && as_user sh -c "echo $bystander >'$jobdir/launch-2.lock'" || fail "plant lock"
# The user kills its own rank (one of this job's, not any on the machine).
rank=$(job_ranks "$scratch/state" job-000001 -u nobody | head -1)
[[ -n $rank ]] || fail "no rank of the user's to kill"
as_user kill -9 "$rank" || fail "the user could not kill its own rank"
echo "planted ${#names[@]} links and a lock naming pid $bystander; killed rank pid $rank after step $step"

state=$(wait_for_job_to_end job-000001)
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
restarts=$(job_field job-000001 'j.get("restarts", 0)')
[[ $restarts -ge 1 ]] || { "$bin/meridianctl" watch job-000001; fail "the job did not restart after its rank was killed"; }
[[ -f $jobdir/output.log && ! -L $jobdir/output.log ]] || fail "output.log was not made anew as a file"
[[ $(stat -c '%U %a' "$jobdir/output.log") == "nobody 640" ]] || fail "output.log is $(stat -c '%U %a' "$jobdir/output.log")"
# The daemon reads the job's log for its clients: a link there to a file
# only root may read shows nothing of it.
echo "root's secret" >"$scratch/root-files/secret" && chmod 600 "$scratch/root-files/secret"
as_user ln -sfn "$scratch/root-files/secret" "$jobdir/output.log.new" && as_user mv -fT "$jobdir/output.log.new" "$jobdir/output.log"
"$bin/meridianctl" logs job-000001 2>&1 | grep -q "root's secret" && fail "the daemon served a root-only file as the job's log"
as_user rm -f "$jobdir/output.log"

sha256sum --quiet -c "$work/root-files.sha256" || fail "a root-owned file was changed through the job directory"
kill -0 "$bystander" 2>/dev/null || fail "root's process $bystander, named in a planted lock, was signalled"
[[ $(stat -c '%U %a' "$jobdir") == "nobody 750" ]] || fail "job directory is $(stat -c '%U %a' "$jobdir")"
[[ $(stat -c '%U %a' "$jobdir/metrics.jsonl") == "nobody 640" ]] || fail "metrics are $(stat -c '%U %a' "$jobdir/metrics.jsonl")"
[[ $(stat -c '%U %a' "$launchdir") == "root 750" ]] || fail "launch directory is $(stat -c '%U %a' "$launchdir")"
[[ $(stat -c '%U %G' "$launchdir/hostfile") == "root $(id -gn nobody)" ]] || fail "hostfile is $(stat -c '%U %G' "$launchdir/hostfile")"
echo "ok: the job restarted ($restarts) and succeeded; root's files unchanged, its process untouched"
