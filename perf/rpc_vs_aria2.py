#!/usr/bin/env python3
"""arietta vs aria2c as RPC daemons, side by side on loopback.

For each daemon: 1000 aria2.addUri calls (paused, so nothing downloads),
then 1000 aria2.tellStatus calls over one WebSocket, pipelined (all sent,
then all answers read: this measures the daemon, not Python's round trip);
then 1000 aria2.tellWaiting(0, 10), pipelined the same way from Python;
then the daemon's RSS with 10,000 queued downloads. Prints a markdown table of
medians over RUNS runs and the ratios arietta/aria2c.

Usage: perf/rpc_vs_aria2.py [--arietta PATH] [--aria2c PATH] [--runs N]
Only the Python standard library is needed.
"""
import argparse
import base64
import json
import os
import socket
import statistics
import struct
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class WebSocket:
    """The smallest RFC 6455 client that JSON-RPC needs."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, text):
        data = text.encode()
        # An all-zero mask is valid (RFC 6455 §5.3) and spares Python the
        # per-byte XOR, so the client is not what gets measured.
        mask = b"\0\0\0\0"
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(hdr + mask + data)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self):
        self._need(2)
        n = self.buf[1] & 0x7F
        off = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n)
        payload, self.buf = self.buf[off : off + n], self.buf[off + n :]
        return payload.decode()

    def pipeline(self, calls):
        """Sends every (method, params, id), then collects the answers."""
        out = b"".join(self._frame(json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
                       for m, p, i in calls)
        self.sock.sendall(out)
        want = {i for _, _, i in calls}
        results = {}
        while want:
            msg = json.loads(self.recv())
            if msg.get("id") in want:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                want.discard(msg["id"])
                results[msg["id"]] = msg["result"]
        return [results[i] for _, _, i in calls]

    def _frame(self, text):
        data = text.encode()
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        else:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        return hdr + b"\0\0\0\0" + data

    def call(self, method, params, ident):
        self.send(json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_run(cmd_base, workdir, client=None):
    port = free_port()
    cmd = cmd_base + [
        "--enable-rpc",
        f"--rpc-listen-port={port}",
        f"--dir={workdir}",
        "--max-download-result=20000",
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                ws = WebSocket(port)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        uri = "http://127.0.0.1:9/never"
        if client:
            # The compiled client (benches/src/bin/rpc_load.rs) on its own
            # WebSocket: 1000 addUri, then 1000 tellStatus, pipelined.
            out = subprocess.run([client, str(port), "1000"], capture_output=True, text=True, check=True)
            add_rate, tell_rate = (float(x) for x in out.stdout.split())
        else:
            t0 = time.perf_counter()
            gids = ws.pipeline([("aria2.addUri", [[uri], {"pause": "true"}], i) for i in range(1000)])
            t1 = time.perf_counter()
            ws.pipeline([("aria2.tellStatus", [g], 10_000 + i) for i, g in enumerate(gids)])
            t2 = time.perf_counter()
            add_rate, tell_rate = 1000 / (t1 - t0), 1000 / (t2 - t1)
        # The list read web UIs poll: the first 10 of the 1000 waiting,
        # pipelined over the Python WebSocket (both daemons the same way).
        t0 = time.perf_counter()
        ws.pipeline([("aria2.tellWaiting", [0, 10], 30_000 + i) for i in range(1000)])
        wait_rate = 1000 / (time.perf_counter() - t0)
        for start in range(0, 9000, 1000):
            ws.pipeline([("aria2.addUri", [[uri], {"pause": "true"}], 20_000 + start + i) for i in range(1000)])
        time.sleep(0.5)
        rss = rss_kib(proc.pid)
        stat = ws.call("aria2.getGlobalStat", [], "s")
        assert int(stat["numWaiting"]) == 10_000, stat
        return add_rate, tell_rate, rss / 1024, wait_rate
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arietta", default="target/release/arietta")
    ap.add_argument("--aria2c", default="aria2c")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--client",
        help="compiled load client (cargo build --release -p arietta-benches --bin rpc_load; "
        "then target/release/rpc_load); default: the Python client",
    )
    args = ap.parse_args()
    tools = {"arietta": [args.arietta, "--no-conf"], "aria2c": [args.aria2c, "--no-conf"]}
    res = {t: [] for t in tools}
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.runs):
            for name, cmd in tools.items():
                res[name].append(one_run(cmd, d, args.client))
                a, t, m, w = res[name][-1]
                print(
                    f"run {r + 1} {name}: addUri {a:.0f}/s tellStatus {t:.0f}/s "
                    f"tellWaiting {w:.0f}/s RSS {m:.1f} MB",
                    flush=True,
                )
    med = {t: [statistics.median(x[i] for x in res[t]) for i in range(4)] for t in tools}
    print()
    print("| daemon | addUri req/s | tellStatus req/s | tellWaiting(0,10) req/s | RSS with 10,000 queued (MB) |")
    print("|---|---:|---:|---:|---:|")
    for t in tools:
        a, s, m, w = med[t]
        print(f"| {t} | {a:.0f} | {s:.0f} | {w:.0f} | {m:.1f} |")
    a, s, m, w = (med["arietta"][i] / med["aria2c"][i] for i in range(4))
    print(f"| **arietta/aria2c** | **{a:.2f}×** | **{s:.2f}×** | **{w:.2f}×** | **{m:.2f}×** |")


if __name__ == "__main__":
    main()
