#!/usr/bin/env bash
# The test bed's delayed link (meridian-wan-link): a 20 ms one-way delay
# gives a ~40 ms round trip and TCP still fills most of the rate; a link
# taken down (control file, SIGHUP) carries nothing, and carries again once
# brought back; under contact windows it carries only inside them. Skips
# (77) where namespaces or TUN devices are refused.
set -uo pipefail
src=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
bed() { timeout 200 bash "$src/tests/testbed/slow_link_testbed.sh" --dcs 2 --wan-link "$bin/meridian-wan-link" "$@"; }

bed --rate 100mbit --delay-ms 20 -- --run python3 "$src/tests/testbed/measure_link.py" --mbytes 16 >"$work/measure.log" 2>&1
rc=$?
[[ $rc -eq 77 ]] && { cat "$work/measure.log"; exit 77; }
[[ $rc -eq 0 ]] || { echo "FAIL: measuring the link exited $rc"; cat "$work/measure.log"; exit 1; }
python3 - "$work/measure.log" <<'PY' || exit 1
import json, sys
m = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
ok = 40 <= m["rtt_ms"] <= 46 and m["throughput_mbit"] >= 50
print(("ok  " if ok else "FAIL ") + f"20 ms each way: round trip {m['rtt_ms']} ms, TCP {m['throughput_mbit']} Mbit/s of 100")
sys.exit(0 if ok else 1)
PY

# Down and up while a server listens in dc1.
cat >"$work/down_up.sh" <<'SH'
set -u
control=$1
connect() {  # connect from dc0 to dc1's server within 2 s: prints ok or failed
  ip netns exec "$TESTBED_NS-dc0" python3 -c '
import socket, sys
try: socket.create_connection(("10.213.1.2", 47902), timeout=2).close(); print("ok")
except OSError: print("failed")'
}
ip netns exec "$TESTBED_NS-dc1" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 47902)); s.listen(8)
while True: s.accept()[0].close()' &
server=$!
sleep 0.5
before=$(connect)
echo "down 0 1" >"$control"; kill -HUP "$(cat "$control.pid")"; sleep 0.2
during=$(connect)
: >"$control"; kill -HUP "$(cat "$control.pid")"; sleep 0.2
after=$(connect)
kill $server
echo "before=$before during=$during after=$after"
[[ $before == ok && $during == failed && $after == ok ]]
SH
: >"$work/links"
bed --rate 100mbit --control "$work/links" -- --run bash "$work/down_up.sh" "$work/links" >"$work/down_up.log" 2>&1
rc=$?
[[ $rc -eq 77 ]] && { cat "$work/down_up.log"; exit 77; }
grep "before=" "$work/down_up.log"
[[ $rc -eq 0 ]] || { echo "FAIL: the link did not go down and up"; cat "$work/down_up.log"; exit 1; }
echo "ok  the link went down (no connection) and came back"

# Contact windows: up 1 s of every 3 s. UDP probes from dc0 every 50 ms for
# 6 s: echoes come back only inside the windows, about a third of them.
cat >"$work/window.sh" <<'SH'
set -u
ip netns exec "$TESTBED_NS-dc1" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 47903))
while True:
    b, a = s.recvfrom(64); s.sendto(b, a)' &
server=$!
sleep 0.3
ip netns exec "$TESTBED_NS-dc0" python3 -c '
import json, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.04)
probes = []
end = time.time() + 6
while time.time() < end:
    t = time.time(); s.sendto(b"x", ("10.213.1.2", 47903))
    try: s.recv(64); ok = True
    except OSError: ok = False
    probes.append((t, ok)); time.sleep(max(0.0, 0.05 - (time.time() - t)))
print(json.dumps(probes))' >"$WINDOW_OUT"
kill $server
SH
WINDOW_OUT=$work/window.json bed --rate 100mbit --window 3:1:0 -- --run env WINDOW_OUT="$work/window.json" \
  bash "$work/window.sh" >"$work/window.log" 2>&1
rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: the window probe exited $rc"; cat "$work/window.log"; exit 1; }
python3 - "$work/window.json" <<'PY' || exit 1
import json, sys
probes = json.load(open(sys.argv[1]))
def up(t): return t % 3.0 < 1.0
# Away from a window's edges (0.1 s), an echo comes back exactly when the link is up.
clear = [(t, ok) for t, ok in probes if min(t % 3.0, abs(t % 3.0 - 1.0), 3.0 - t % 3.0) > 0.1]
wrong = [t for t, ok in clear if ok != up(t)]
share = sum(ok for _, ok in probes) / len(probes)
ok = not wrong and 0.25 <= share <= 0.42 and len(clear) > 60
print(("ok  " if ok else "FAIL ") + f"window 1 s of 3: {share:.0%} of {len(probes)} probes echoed, "
      f"{len(wrong)} of {len(clear)} away from the edges disagree with the schedule")
sys.exit(0 if ok else 1)
PY
