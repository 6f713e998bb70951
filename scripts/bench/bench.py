#!/usr/bin/env python3
"""Klaxon's alert-storm benchmark (run through scripts/bench-storm, which builds and installs).

compare: Prometheus Alertmanager (Debian's prometheus-alertmanager) and `klaxon serve`, each
started fresh in a new data directory every round, driven by wrk with the same alert stream
(ALERTS alerts in GROUPS groups, one alert per request; alerts/lua), rounds alternating. Prints
per round and as medians: requests/s, Klaxon/Alertmanager ratio, p50/p99 latency, fsyncs per
accepted alert (strace -c of fsync/fdatasync, seccomp-filtered so only those calls stop), the
alerts queue's depth right after the run and 3 s later, and stored-vs-answered counts.

storm: `klaxon serve` alone: STORM alerts posted in SECONDS seconds across GROUPS groups by
paced senders, then waits for every group's first page; prints the p50/p99 time from the 2xx
answer of each group's first alert to that group's first page in the outbox, and the alerts
queue's depth once a second.

sustained: `klaxon serve` alone, wrk at RATE requests/s (wrk2 is not in Debian: the rate is
held by paced Python senders) for DURATION seconds; prints the queue depth every 5 s.
"""

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA = ROOT / "scripts" / "bench" / "alerts.lua"
CONFIG = ROOT / "scripts" / "bench" / "klaxon.yaml"
KLAXON = ROOT / "target" / "release" / "klaxon"
AM_CONFIG = """route:
  receiver: "null"
  group_by: [alertname, cluster]
receivers:
  - name: "null"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}{path}")


class Server:
    """A server process, optionally under strace counting fsync and fdatasync."""

    def __init__(self, argv, workdir, fsyncs):
        self.trace = workdir / "strace.txt"
        prefix = []
        if fsyncs:
            prefix = ["strace", "-f", "--seccomp-bpf", "-e", "trace=fsync,fdatasync", "-c",
                      "-o", str(self.trace)]
        self.log = open(workdir / "server.log", "w")
        self.process = subprocess.Popen(prefix + argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=workdir)
        self.fsyncs = fsyncs

    def stop(self):
        """SIGTERM (strace passes it on and writes its summary when the server exits)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        if not self.fsyncs or not self.trace.exists():
            return None
        calls = 0
        for line in self.trace.read_text().splitlines():
            parts = line.split()
            if parts and parts[-1] in ("fsync", "fdatasync"):
                # columns: % time, seconds, usecs/call, calls, [errors,] syscall
                calls += int(parts[3])
        return calls


def klaxon_start(workdir, port, durability, fsyncs):
    data = workdir / "data"
    argv = [str(KLAXON), "serve", "--config", str(CONFIG), "--data-dir", str(data), "--listen",
            f"127.0.0.1:{port}", "--no-webhooks", "--durability", durability]
    server = Server(argv, workdir, fsyncs)
    wait_http(port, "/v1/incidents")
    keys = {}
    for line in (data / "keys.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            keys[name.replace("export ", "").strip()] = value.strip().strip("'\"")
    return server, data, keys["KLAXON_KEY_ALERTMANAGER_PROD"], keys.get("KLAXON_API_KEY")


def db_query(data, sql):
    connection = sqlite3.connect(f"file:{data / 'klaxon.db'}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


def queue_depth(data):
    return db_query(data, "SELECT COUNT(*) FROM queue_messages WHERE queue = 'alerts'")


def stored_alerts(data):
    """Sum of the alert records' repeat counters: every accepted firing, counted once."""
    return db_query(data, "SELECT COALESCE(SUM(CAST(json_extract(body, '$.count.N') AS INTEGER)),"
                          " 0) FROM items WHERE sk = 'OCCURRENCE'")


def run_wrk(target, port, connections, seconds, key, args):
    env = dict(os.environ, TARGET=target, ALERTS=str(args.alerts), GROUPS=str(args.groups),
               KEY=key or "", THREADS="2")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA),
                          f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                         check=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["answered"] = result["requests"] - result["non2xx"]
    return result


def round_klaxon(connections, args):
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server, data, key, _ = klaxon_start(workdir, port, args.durability, args.fsyncs)
        result = run_wrk("klaxon", port, connections, args.seconds, key, args)
        result["depth_0s"] = queue_depth(data)
        time.sleep(3)
        result["depth_3s"] = queue_depth(data)
        fsyncs = server.stop()
        result["stored"] = stored_alerts(data)
        result["fsyncs"] = fsyncs
        return result


def round_alertmanager(connections, args):
    with tempfile.TemporaryDirectory(prefix="am-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "am.yml").write_text(AM_CONFIG)
        port = free_port()
        argv = ["prometheus-alertmanager", f"--config.file={workdir / 'am.yml'}",
                f"--storage.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address="]
        server = Server(argv, workdir, args.fsyncs)
        wait_http(port, "/-/ready")
        result = run_wrk("alertmanager", port, connections, args.seconds, None, args)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/v2/alerts")
        result["stored_distinct"] = len(json.loads(conn.getresponse().read()))
        conn.close()
        result["fsyncs"] = server.stop()
        return result


def fmt_ms(us):
    return f"{us / 1000:.2f} ms"


def compare(args):
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(f"stream: {args.alerts} alerts in {args.groups} groups, one alert per request; "
          f"wrk -t2 -d{args.seconds}s; klaxon --durability {args.durability}")
    summary = {}
    for connections in args.connections:
        rows = {"alertmanager": [], "klaxon": []}
        for number in range(1, args.rounds + 1):
            for name, run in (("alertmanager", round_alertmanager), ("klaxon", round_klaxon)):
                result = run(connections, args)
                rows[name].append(result)
                extra = ""
                if name == "klaxon":
                    per = (result["fsyncs"] / result["answered"]) if result["fsyncs"] is not None \
                        and result["answered"] else float("nan")
                    extra = (f" fsyncs {result['fsyncs']} ({per:.3f}/alert)"
                             f" queue {result['depth_0s']}→{result['depth_3s']} after 3 s"
                             f" stored {result['stored']} / answered {result['answered']}")
                else:
                    extra = (f" fsyncs {result['fsyncs']} distinct alerts held "
                             f"{result['stored_distinct']} / answered {result['answered']}")
                print(f"-c{connections} round {number} {name:12} {result['rps']:9.0f} req/s "
                      f"p50 {fmt_ms(result['p50_us'])} p99 {fmt_ms(result['p99_us'])} "
                      f"non-2xx {result['non2xx']} errors "
                      f"{result['connect_errors'] + result['read_errors'] + result['timeouts']}"
                      f"{extra}", flush=True)
        am = statistics.median(r["rps"] for r in rows["alertmanager"])
        kx = statistics.median(r["rps"] for r in rows["klaxon"])
        summary[connections] = (am, kx)
        print(f"-c{connections} median: alertmanager {am:.0f} req/s, klaxon {kx:.0f} req/s, "
              f"ratio {kx / am:.3f}; p99 alertmanager "
              f"{fmt_ms(statistics.median(r['p99_us'] for r in rows['alertmanager']))}, klaxon "
              f"{fmt_ms(statistics.median(r['p99_us'] for r in rows['klaxon']))}", flush=True)
    return summary


class Sender(threading.Thread):
    """Posts its share of the stream at a fixed pace over one keep-alive connection, recording
    each alert's 2xx time."""

    def __init__(self, port, key, numbers, start, interval, groups):
        super().__init__(daemon=True)
        self.port, self.key, self.numbers = port, key, numbers
        self.start_at, self.interval, self.groups = start, interval, groups
        self.answered = {}
        self.failed = 0

    def body(self, n):
        return json.dumps({"receiver": "klaxon", "status": "firing", "version": "4",
                           "groupKey": "bench", "groupLabels": {}, "commonLabels": {},
                           "commonAnnotations": {}, "externalURL": "http://bench",
                           "alerts": [{"status": "firing",
                                       "labels": {"alertname": f"storm-{n % self.groups}",
                                                  "cluster": "bench", "instance": f"host-{n}",
                                                  "severity": "critical"},
                                       "annotations": {"summary": f"storm alert {n}"},
                                       "startsAt": "2026-12-04T00:00:00Z",
                                       "endsAt": "0001-01-01T00:00:00Z",
                                       "fingerprint": f"f{n:015d}"}]})

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        for i, n in enumerate(self.numbers):
            due = self.start_at + i * self.interval
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            try:
                conn.request("POST", "/v1/integrations/alertmanager", self.body(n), headers)
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    self.answered[n] = time.time()
                else:
                    self.failed += 1
            except OSError:
                self.failed += 1
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)


def paced(port, key, total, seconds, groups, senders=16):
    start = time.time() + 0.2
    interval = seconds * senders / total
    threads = [Sender(port, key, list(range(s, total, senders)), start + s * interval / senders,
                      interval, groups) for s in range(senders)]
    for thread in threads:
        thread.start()
    return threads


def first_pages(data):
    """Each incident's first page time, by the title's alert number (`storm alert N`)."""
    pages = {}
    outbox = data / "outbox.jsonl"
    if not outbox.exists():
        return pages
    for line in outbox.read_text().splitlines():
        record = json.loads(line)
        subject = record.get("subject") or record.get("text", "")
        marker = "storm alert "
        if marker not in subject:
            continue
        number = int(subject.split(marker, 1)[1].split()[0].strip(".,:"))
        at = record["time"]
        stamp = time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        stamp += float("0." + at[20:-1]) if len(at) > 20 else 0.0
        pages.setdefault(number, stamp)
        pages[number] = min(pages[number], stamp)
    return pages


def storm(args):
    with tempfile.TemporaryDirectory(prefix="klaxon-storm-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server, data, key, _ = klaxon_start(workdir, port, args.durability, False)
        threads = paced(port, key, args.storm, args.storm_seconds, args.groups)
        began = time.time()
        depths = []
        while any(t.is_alive() for t in threads) or time.time() - began < args.storm_seconds:
            time.sleep(1)
            depths.append(queue_depth(data))
        answered = {}
        failed = 0
        for thread in threads:
            answered.update(thread.answered)
            failed += thread.failed
        first_alert = {}
        for n in sorted(answered):
            first_alert.setdefault(n % args.groups, n)
        deadline = time.time() + 60
        pages = {}
        while time.time() < deadline:
            pages = first_pages(data)
            if all(n in pages for n in first_alert.values()):
                break
            depths.append(queue_depth(data))
            time.sleep(0.5)
        server.stop()
        latencies = sorted(pages[n] - answered[n] for n in first_alert.values() if n in pages)
        print(f"storm: {len(answered)} alerts answered 2xx ({failed} not) in "
              f"{args.storm_seconds} s across {args.groups} groups; stored "
              f"{stored_alerts(data)}; groups paged {len(latencies)}/{len(first_alert)}")
        print(f"alerts queue depth each second: {depths}")
        if latencies:
            q = statistics.quantiles(latencies, n=100, method="inclusive") \
                if len(latencies) > 1 else [latencies[0]] * 99
            print(f"first alert 2xx → first page: p50 {q[49] * 1000:.0f} ms, "
                  f"p99 {q[98] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")


def sustained(args):
    with tempfile.TemporaryDirectory(prefix="klaxon-sustained-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server, data, key, _ = klaxon_start(workdir, port, args.durability, False)
        total = int(args.rate * args.duration)
        threads = paced(port, key, total, args.duration, args.groups, senders=32)
        began = time.time()
        depths = []
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            depths.append((round(time.time() - began), queue_depth(data)))
        answered = sum(len(t.answered) for t in threads)
        elapsed = time.time() - began
        time.sleep(3)
        depths.append((round(time.time() - began), queue_depth(data)))
        server.stop()
        print(f"sustained: {answered} alerts answered in {elapsed:.1f} s "
              f"({answered / elapsed:.0f}/s, asked {args.rate}/s); stored {stored_alerts(data)}")
        print(f"alerts queue depth (s, messages): {depths}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["compare", "storm", "sustained", "all"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    parser.add_argument("--no-fsyncs", dest="fsyncs", action="store_false",
                        help="do not run the servers under strace")
    parser.add_argument("--storm", type=int, default=10000)
    parser.add_argument("--storm-seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=int, default=60)
    args = parser.parse_args()
    if not KLAXON.exists():
        sys.exit(f"{KLAXON} is missing: cargo build --release -p klaxon")
    if args.mode in ("compare", "all"):
        compare(args)
    if args.mode in ("storm", "all"):
        storm(args)
    if args.mode in ("sustained", "all"):
        sustained(args)


if __name__ == "__main__":
    main()
