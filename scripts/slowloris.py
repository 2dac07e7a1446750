#!/usr/bin/env python3
"""Slow connections against a pcoord on 127.0.0.1 while a round runs (scripts/federation-check slowloris).

Opens CONNECTIONS connections spread over SOURCE addresses (127.0.0.2 … : other "hosts" on this
machine, so the round's clients on 127.0.0.1 are not the attacker's neighbours), for at most
SECONDS, each playing one of:

  silent       connects and sends nothing
  head         trickles a request head, one byte a second, never finishing it
  stranger     a full head of a 4 MiB masked input signed by a key that is not enrolled, then the
               body at 1 KiB/s
  enroll       a head of a 16 KiB enrollment, then the body at 64 bytes/s

Each reconnects half a second after the coordinator closes it. The run ends after SECONDS, on
SIGTERM/SIGINT, or when pcoord exits (the round test is over). Meanwhile it asks GET /v1/health
from 127.0.0.1 four times a second (a new connection each time) and samples pcoord's resident
memory (VmRSS of the process serving the port). Prints a JSON report; exits 1 when a health answer
took more than --health-limit seconds or failed, or the RSS grew more than --rss-growth-limit MiB.
Bounded: every connection is to 127.0.0.1, and everything stops after SECONDS or on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import sys
import time


def pcoord_pid(port):
    needle = f"127.0.0.1:{port}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"pcoord") for a in args[:1]) and b"serve" in args and needle in args:
            return int(pid)
    return None


def listening(port):
    """True while some socket listens on 127.0.0.1:port (pcoord closes its listener when asked to stop)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            return any(p[1] == want and p[3] == "0A" for p in (line.split() for line in f.readlines()[1:]))
    except OSError:
        return True


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def health_process(port, conn):
    """GET /v1/health from 127.0.0.1 four times a second, a new connection each, until told to
    stop; sends back (start time, seconds, error or None) for each."""
    import socket
    samples = []
    while not conn.poll(0.25):
        start = time.monotonic()
        error = None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = s.recv(4096)
            if not data.startswith(b"HTTP/1.1 200"):
                error = "answer " + data[:12].decode(errors="replace")
        except OSError as e:
            error = type(e).__name__ + ": " + str(e)[:60]
        samples.append((start, time.monotonic() - start, error))
    conn.send(samples)


class Attack:
    def __init__(self, args):
        self.args = args
        self.stop = asyncio.Event()
        self.counts = {"opened": 0, "refused_at_connect": 0, "closed_by_server": 0, "answers": {}}
        self.health = []
        self.health_failures = 0
        self.errors = {}
        self.server_exited = False
        self.rss = []
        self.open_now = 0
        self.max_open = 0

    async def sleep(self, s):
        try:
            await asyncio.wait_for(self.stop.wait(), s)
        except asyncio.TimeoutError:
            pass

    def stranger_head(self):
        client = secrets.token_hex(32)
        headers = [
            "POST /v1/rounds/1/masked-input HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/octet-stream",
            f"Content-Length: {4 << 20}", f"PLLM-Client: {client}", f"PLLM-Timestamp: {int(time.time())}",
            f"PLLM-Nonce: {secrets.token_hex(16)}", f"PLLM-Signature: {base64.b64encode(secrets.token_bytes(64)).decode()}",
        ]
        return ("\r\n".join(headers) + "\r\n\r\n").encode()

    async def connection(self, kind, source):
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.args.port, local_addr=(source, 0)), 5)
            except (OSError, asyncio.TimeoutError) as e:
                self.counts["refused_at_connect"] += 1
                self.errors[type(e).__name__ + ": " + str(e)[:60]] = self.errors.get(type(e).__name__ + ": " + str(e)[:60], 0) + 1
                await self.sleep(0.5)
                continue
            self.counts["opened"] += 1
            self.open_now += 1
            self.max_open = max(self.max_open, self.open_now)
            try:
                await self.play(kind, reader, writer)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            finally:
                self.open_now -= 1
                writer.close()
            await self.sleep(0.5)

    async def play(self, kind, reader, writer):
        """Sends slowly until the server closes (or the run ends); counts the answers."""
        if kind == "silent":
            payload, chunk, pause = b"", 0, 1.0
        elif kind == "head":
            payload, chunk, pause = b"POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096, 1, 1.0
        elif kind == "stranger":
            writer.write(self.stranger_head())
            payload, chunk, pause = b"\0" * (4 << 20), 1024, 1.0
        else:  # enroll
            writer.write(b"POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 16384\r\n\r\n")
            payload, chunk, pause = b" " * 16384, 64, 1.0
        offset = 0
        answered = False
        while not self.stop.is_set():
            if chunk and offset < len(payload):
                writer.write(payload[offset:offset + chunk])
                offset += chunk
                await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(65536), pause)
            except asyncio.TimeoutError:
                continue
            if not data:
                self.counts["closed_by_server"] += 1
                return
            if not answered and data.startswith(b"HTTP/1.1 "):
                answered = True
                status = data[9:12].decode(errors="replace")
                self.counts["answers"][status] = self.counts["answers"].get(status, 0) + 1

    async def health_poll(self):
        """Runs the health checks in a process of their own, so that what they measure is the
        coordinator and not this process's event loop, busy with the attack."""
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=health_process, args=(self.args.port, child), daemon=True)
        proc.start()
        await self.stop.wait()
        parent.send("stop")
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(None, parent.recv)
        proc.join(5)
        # pcoord's exit is seen within half a second (rss_poll): checks started after it died do not count.
        if self.server_exited:
            samples = [x for x in samples if x[0] < self.exit_seen - 0.75]
        self.health = [x[1] for x in samples]
        for _, _, error in samples:
            if error:
                self.health_failures += 1
                self.errors["health " + error] = self.errors.get("health " + error, 0) + 1

    async def rss_poll(self, pid):
        """Samples pcoord's RSS; when pcoord stops listening (the round test is over and stops it)
        or has exited, the run ends."""
        while not self.stop.is_set():
            value = rss_mib(pid)
            if value is None or not listening(self.args.port):
                self.server_exited = True
                self.exit_seen = time.monotonic()
                self.stop.set()
                return
            self.rss.append(value)
            await self.sleep(0.5)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=300)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--sources", type=int, default=5, help="source addresses 127.0.0.2 … 127.0.0.(1+N)")
    p.add_argument("--health-limit", type=float, default=1.0)
    p.add_argument("--rss-growth-limit", type=float, default=200.0)
    p.add_argument("--wait", type=float, default=120, help="seconds to wait for pcoord to listen")
    args = p.parse_args()
    assert 0 < args.connections <= 1000 and 0 < args.seconds <= 120 and 0 < args.sources <= 50

    deadline = time.monotonic() + args.wait
    pid = None
    while time.monotonic() < deadline and pid is None:
        pid = pcoord_pid(args.port)
        if pid is None:
            await asyncio.sleep(0.2)
    if pid is None:
        print(json.dumps({"error": f"no pcoord serving 127.0.0.1:{args.port} within {args.wait} s"}))
        return 2
    await asyncio.sleep(1)
    baseline = rss_mib(pid)

    attack = Attack(args)
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, attack.stop.set)
    kinds = ["silent", "head", "stranger", "enroll"]
    sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
    started = time.monotonic()
    tasks = [asyncio.create_task(attack.connection(kinds[i % len(kinds)], sources[i % len(sources)])) for i in range(args.connections)]
    tasks += [asyncio.create_task(attack.health_poll()), asyncio.create_task(attack.rss_poll(pid))]
    await attack.sleep(args.seconds)
    attack.stop.set()
    # Stopped: a later SIGTERM (the caller's, once the round test is over) must not cut the report.
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(s)
        signal.signal(s, signal.SIG_IGN)
    await asyncio.wait(tasks, timeout=10)
    for t in tasks:
        t.cancel()
    exit_seconds = None
    if attack.server_exited:
        # The attacker's connections are closed now: how long pcoord takes to finish stopping.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and rss_mib(pid) is not None:
            await asyncio.sleep(0.1)
        exit_seconds = round(time.monotonic() - t0, 1) if rss_mib(pid) is None else None

    h = sorted(attack.health)
    report = {
        "seconds": round(time.monotonic() - started, 1), "ended_by": "pcoord stopped serving (the rounds are over)" if attack.server_exited else "time or signal",
        "connections": args.connections, "sources": sources[0] + "…" + sources[-1],
        "attack": attack.counts, "max_open_at_once": attack.max_open, "errors": attack.errors,
        "health": {"answers": len(h), "failures": attack.health_failures,
                   "median_ms": round(1000 * statistics.median(h), 1) if h else None,
                   "p99_ms": round(1000 * h[min(len(h) - 1, int(len(h) * 0.99))], 1) if h else None,
                   "max_ms": round(1000 * h[-1], 1) if h else None},
        "pcoord_exit_seconds_after_the_attack": exit_seconds,
        "rss_mib": {"before": round(baseline, 1) if baseline else None,
                    "max": round(max(attack.rss), 1) if attack.rss else None,
                    "last": round(attack.rss[-1], 1) if attack.rss else None},
    }
    print(json.dumps(report, indent=1))
    ok = True
    if not h or h[-1] > args.health_limit or attack.health_failures:
        print(f"FAIL: /v1/health took up to {h[-1] if h else None} s (limit {args.health_limit} s), {attack.health_failures} failures", file=sys.stderr)
        ok = False
    if baseline and attack.rss and max(attack.rss) - baseline > args.rss_growth_limit:
        print(f"FAIL: pcoord's RSS grew {max(attack.rss) - baseline:.0f} MiB (limit {args.rss_growth_limit} MiB)", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
