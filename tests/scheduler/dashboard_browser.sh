#!/usr/bin/env bash
# The dashboard in a real browser: a daemon with --http and a real training
# job; headless Chromium loads the pages, runs their scripts (polling the
# JSON API) and dumps the DOM it built. The jobs table shows the job
# RUNNING or SUCCEEDED, its page a loss chart with more than one point and
# its placement; a second job, cancelled, shows CANCELLED; /compare
# overlays both; a daemon with a token file makes the page ask for one.
# A screenshot of the job page is kept (copied to $MERIDIAN_SCREENSHOT_OUT
# when set). Waits are polls with generous limits: a loaded 2-core
# machine trains slowly, and nothing here is timed.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work/home"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $browser ]] || { echo "SKIP: chromium is not installed (scripts/install-deps.sh installs it)"; exit 77; }

cleanup() {
  # A job's processes outlive its daemon (a restarted daemon adopts them):
  # cancel what still runs, then stop the daemons.
  if [[ -n ${MERIDIAN_SCHEDULER:-} ]]; then
    for id in job-000001 job-000002; do "$bin/meridianctl" cancel "$id" >/dev/null 2>&1; done
    for _ in $(seq 100); do
      "$bin/meridianctl" list 2>/dev/null | grep -qE 'RUNNING|PLACED|RESTARTING' || break
      sleep 0.2
    done
  fi
  daemon_stop_all
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$work/daemon.log"; exit 1; }

# start_daemon NAME ARGS...: a daemon on ports it picks; sets grpc_port and
# http_port from what it prints.
start_daemon() {
  local name=$1; shift
  daemon_start "$work/$name.log" --listen 127.0.0.1:0 --http 127.0.0.1:0 --state "$work/$name-state" "$@" ||
    fail "the daemon $name did not start"
  grpc_port=$DAEMON_PORT; http_port=$DAEMON_HTTP_PORT
}

# get PATH: the HTTP status, then the body.
get() { curl -s -o "$work/body" -w '%{http_code}\n' "http://127.0.0.1:$http_port$1"; cat "$work/body"; echo; }
# json PATH EXPR: EXPR (Python, over the answer `d`) printed.
json() { curl -s "http://127.0.0.1:$http_port$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

# browse NAME URL_PATH [flags]: the DOM after the page's scripts ran for
# 8 s of virtual time (4 polls), in $work/NAME.html; flags (a screenshot)
# instead of the DOM.
browse() {
  local name=$1 path=$2; shift 2
  (($#)) || set -- --dump-dom
  for attempt in 1 2 3; do
    HOME="$work/home" timeout 180 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
      --disable-extensions --user-data-dir="$work/profile" --window-size=1280,1500 --virtual-time-budget=8000 \
      "$@" "http://127.0.0.1:$http_port$path" >"$work/$name.html" 2>"$work/$name.err" && return 0
    echo "chromium exited $? on $path (attempt $attempt)"; tail -5 "$work/$name.err"
  done
  fail "chromium could not load $path"
}

# attrs FILE TAG GET KEY=VALUE...: attribute GET of every TAG element
# whose attributes have those values, one a line.
attrs() {
  python3 - "$@" <<'PY'
import html.parser, sys
path, tag, get, *want = sys.argv[1:]
want = dict(w.split("=", 1) for w in want)
class Page(html.parser.HTMLParser):
    def handle_starttag(self, t, a):
        a = dict(a)
        if t == tag and all(a.get(k) == v for k, v in want.items()):
            print(a.get(get) or "")
    handle_startendtag = handle_starttag
Page().feed(open(path, encoding="utf-8").read())
PY
}

"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
start_daemon daemon --slots-per-dc 2
export MERIDIAN_SCHEDULER=127.0.0.1:$grpc_port
ctl() { "$bin/meridianctl" "$@"; }

cat >"$work/job.yaml" <<YAML
name: browsed
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 2, seq: 16, steps: 6000, eval_every: 25, data: "$work/data/train_*.bin",
           val_data: "$work/data/val_*.bin", threads: 1}
layout: {dp: 2, pp: 1}
YAML
ctl submit "$work/job.yaml" >/dev/null || fail "submit"
# Some steps trained (metrics.jsonl written by the trainer, read by the API).
records=0
for _ in $(seq 1200); do
  records=$(json /api/jobs/job-000001/metrics?since=-1 'len(d["records"])' 2>/dev/null || echo 0)
  ((records >= 5)) && break
  sleep 0.25
done
((records >= 5)) || { ctl get job-000001; fail "no metrics from the job after 300 s"; }

# The API, directly.
[[ $(json /api/cluster 'len(d["data_centers"]), len(d["links"]), d["data_centers"][0]["used_gpus"] + d["data_centers"][1]["used_gpus"]') == "2 1 2" ]] ||
  { get /api/cluster; fail "/api/cluster: two data centers, a link, the job's two GPUs in use"; }
[[ $(json /api/jobs '[(j["id"], j["layout"]) for j in d["jobs"]]') == "[('job-000001', '2x1')]" ]] ||
  { get /api/jobs; fail "/api/jobs"; }
[[ $(json '/api/jobs/job-000001/metrics?since=3' 'min(r["step"] for r in d["records"]) > 3') == True ]] ||
  fail "?since=3 answered steps up to 3"
[[ $(json /api/jobs/job-000001 'len(d["ranks"]), d["ranks"][0]["data_center"] != ""') == "2 True" ]] ||
  { get /api/jobs/job-000001; fail "/api/jobs/job-000001: the placement"; }
[[ $(json '/api/jobs/job-000001/log?tail=5' '0 < d["lines"] <= 5') == True ]] || { get '/api/jobs/job-000001/log?tail=5'; fail "log tail"; }
answer=$(get /api/jobs/job-999999)
[[ $(head -1 <<<"$answer") == 404 && $answer == *'"error"'*job-999999* ]] || fail "an unknown id: $answer"
[[ $(get '/api/jobs?state=SLEEPING' | head -1) == 400 ]] || fail "a bad ?state= is not a 400"

# The jobs page: the job's row, in a state the test allows while it trains.
browse jobs /
state=$(attrs "$work/jobs.html" tr data-state data-job-id=job-000001)
[[ $state == RUNNING || $state == SUCCEEDED ]] || { head -c 3000 "$work/jobs.html"; fail "jobs page: job-000001 row state '$state'"; }
[[ $(attrs "$work/jobs.html" g data-dc class=dc | wc -l) == 2 ]] || fail "pools: not two data centers"
[[ $(attrs "$work/jobs.html" path data-gbps class=link | wc -l) == 1 ]] || fail "pools: the inter-DC link is not drawn"

# The job page: a loss chart with points, the placement, the log.
browse job /job/job-000001
state=$(attrs "$work/job.html" h1 data-state id=job-title)
[[ $state == RUNNING || $state == SUCCEEDED ]] || { head -c 3000 "$work/job.html"; fail "job page: state '$state'"; }
points=$(attrs "$work/job.html" polyline data-points data-series=loss)
[[ -n $points ]] && ((points > 1)) || { grep -o '<polyline[^>]*>' "$work/job.html" | cut -c1-300; fail "loss chart: '$points' points"; }
[[ $(attrs "$work/job.html" tr data-rank class=rank-row | wc -l) == 2 ]] || fail "job page: the placement table has not 2 ranks"
python3 - "$work/job.html" <<'PY' || fail "job page: the log tail is empty"
import re, sys
m = re.search(r'<pre id="log-tail"[^>]*>(.*?)</pre>', open(sys.argv[1]).read(), re.S)
sys.exit(0 if m and m.group(1).strip() and "no output yet" not in m.group(1) else 1)
PY
echo "ok: job-000001 $state, loss chart with $points points"

# A second job, too big to place next to the first (it waits), cancelled.
sed -e 's/name: browsed/name: cancelled-one/' -e 's/dp: 2, pp: 1/dp: 4, pp: 1/' "$work/job.yaml" >"$work/job2.yaml"
ctl submit "$work/job2.yaml" >/dev/null || fail "submit job 2"
ctl cancel job-000002 >/dev/null || fail "cancel job 2"
for _ in $(seq 200); do
  [[ $(json /api/jobs/job-000002 'd["job"]["state"]' 2>/dev/null) == CANCELLED ]] && break
  sleep 0.1
done
browse jobs2 /
[[ $(attrs "$work/jobs2.html" tr data-state data-job-id=job-000002) == CANCELLED ]] ||
  { grep -o '<tr class="job-row"[^>]*>' "$work/jobs2.html"; fail "jobs page: job-000002 is not CANCELLED"; }
browse cancelled '/?state=CANCELLED'
[[ $(attrs "$work/cancelled.html" tr data-job-id class=job-row) == job-000002 ]] ||
  { grep -o '<tr class="job-row"[^>]*>' "$work/cancelled.html"; fail "the CANCELLED filter"; }
browse job2 /job/job-000002
[[ $(attrs "$work/job2.html" h1 data-state id=job-title) == CANCELLED ]] || fail "job page of job-000002"
browse missing /job/job-999999
grep -q 'id="error"[^>]*>[^<]*job-999999' "$work/missing.html" || fail "the page of an unknown job names it"

# Compare: both jobs' loss curves on one chart.
browse compare '/compare?ids=job-000001,job-000002'
points=$(attrs "$work/compare.html" polyline data-points data-series=loss data-job-id=job-000001)
[[ -n $points ]] && ((points > 1)) || fail "compare: job-000001 has '$points' points"
[[ $(attrs "$work/compare.html" tr data-state data-job-id=job-000002) == CANCELLED ]] || fail "compare: job-000002"

# A screenshot of the job page, after more training.
for _ in $(seq 240); do
  [[ $(json /api/jobs/job-000001 'd["row"]["step"] >= 150 or d["job"]["state"] != "RUNNING"') == True ]] && break
  sleep 0.25
done
browse shot /job/job-000001 --screenshot="$work/dashboard-job.png" --hide-scrollbars
[[ $(head -c 4 "$work/dashboard-job.png" | od -An -c | tr -d ' ') == *PNG* ]] || fail "no screenshot"
if [[ -n ${MERIDIAN_SCREENSHOT_OUT:-} ]]; then
  cp "$work/dashboard-job.png" "$MERIDIAN_SCREENSHOT_OUT" || fail "copy to $MERIDIAN_SCREENSHOT_OUT"
  echo "screenshot: $MERIDIAN_SCREENSHOT_OUT"
fi

# A cluster whose links are in contact windows: drawn dashed, with how much
# of the time each is up.
main_http=$http_port
start_daemon windowed --cluster "$(dirname "$0")/../../examples/clusters/constellation.yaml"
browse windowed /
duty=$(attrs "$work/windowed.html" path data-duty-cycle class="link windowed" | sort -u)
[[ $duty == 0.1111* ]] || { grep -o '<path class="link[^>]*>' "$work/windowed.html"; fail "pools: windowed links ($duty)"; }
grep -q 'up 11%' "$work/windowed.html" || fail "pools: a windowed link's label does not say how much it is up"
http_port=$main_http

# With a token file, the page asks for a token instead of showing nothing.
cat >"$work/tokens.yaml" <<YAML
tokens:
  - {name: viewer, role: read, token: "view-$RANDOM-0123456789abcdef"}
YAML
start_daemon secured --slots-per-dc 2 --token-file "$work/tokens.yaml"
[[ $(get /api/jobs | head -1) == 401 ]] || fail "/api/jobs without a token"
viewer=$(sed -n 's/.*token: "\([^"]*\)".*/\1/p' "$work/tokens.yaml")
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "http://127.0.0.1:$http_port/api/jobs") == 200 ]] ||
  fail "/api/jobs with a read token"
browse token /
grep -q '<form id="token-form">' "$work/token.html" || { grep -o '<form[^>]*>' "$work/token.html"; fail "no token form on a 401"; }
http_port=$main_http
echo "ok: jobs table, job page (placement, loss chart, log), CANCELLED, compare, windowed links, token form;" \
  "screenshot $work/dashboard-job.png"
