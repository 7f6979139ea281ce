#!/usr/bin/env python3
"""Round trip time and TCP throughput across the test bed's link between
data centers 0 and 1: a server in dc1, the client in dc0 (run inside
slow_link_testbed.sh -- --run, which sets TESTBED_NS); or between any two
network namespaces (--from, --to and the server's address --to-addr: the
multi-host bed's hosts).

    measure_link.py [--mbytes 8] [--pings 40] [--from NS --to NS --to-addr A.B.C.D]

prints one JSON line: rtt_ms (median of small TCP round trips), rtt_min_ms,
throughput_mbit (one TCP stream, after its first round trips), and the
settings it was given through the environment (LINK_*)."""
import argparse, json, os, socket, statistics, subprocess, sys, time

PORT = 47901

def server():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", PORT)); s.listen(2)
    # First connection: echo small messages. Second: swallow bytes, reply once.
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(64)
        if not b: break
        c.sendall(b)
    c.close()
    c, _ = s.accept()
    want = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big"); got = 0
    while got < want:
        b = c.recv(1 << 20)
        if not b: break
        got += len(b)
    c.sendall(b"k"); c.close()

def client(args):
    host = args.to_addr
    for _ in range(100):  # the server may still be starting
        try:
            c = socket.create_connection((host, PORT), timeout=10); break
        except OSError:
            time.sleep(0.1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(args.pings):
        t = time.perf_counter(); c.sendall(b"x"); c.recv(64); rtts.append((time.perf_counter() - t) * 1e3)
    c.close()
    c = socket.create_connection((host, PORT), timeout=120)
    n = args.mbytes << 20
    c.sendall(n.to_bytes(8, "big"))
    chunk = b"\0" * (1 << 16)
    t = time.perf_counter(); sent = 0
    while sent < n:
        c.sendall(chunk); sent += len(chunk)
    c.recv(1); elapsed = time.perf_counter() - t
    out = {"rtt_ms": round(statistics.median(rtts[5:]), 2), "rtt_min_ms": round(min(rtts), 2),
           "throughput_mbit": round(n * 8 / elapsed / 1e6, 1)}
    out.update({k[5:].lower(): v for k, v in os.environ.items() if k.startswith("LINK_")})
    print(json.dumps(out))

if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--mbytes", type=int, default=8); p.add_argument("--pings", type=int, default=40)
    p.add_argument("--serve", action="store_true"); p.add_argument("--client", action="store_true")
    p.add_argument("--from", dest="from_ns"); p.add_argument("--to", dest="to_ns")
    p.add_argument("--to-addr", default="10.213.1.2")
    a = p.parse_args()
    if a.serve: server(); sys.exit(0)
    if a.client: client(a); sys.exit(0)
    ns = os.environ.get("TESTBED_NS", "")
    from_ns, to_ns = a.from_ns or f"{ns}-dc0", a.to_ns or f"{ns}-dc1"
    srv = subprocess.Popen(["ip", "netns", "exec", to_ns, sys.executable, os.path.abspath(__file__), "--serve"])
    try:
        subprocess.run(["ip", "netns", "exec", from_ns, sys.executable, os.path.abspath(__file__), "--client",
                        "--mbytes", str(a.mbytes), "--pings", str(a.pings), "--to-addr", a.to_addr],
                       check=True, env=os.environ)
    finally:
        srv.wait(timeout=60)
