#!/usr/bin/env python3
"""A run of ITEMS AutoExtract URLs, each on its own registrable domain (one URL = one
queued item), beside a small run on another account: peak RSS, how long planning the
big run takes, its records/s, the status socket's slowest answer while it is planned,
and the pauses of the small run meanwhile.

Setup: one `dredge sim` (AutoExtract, no faults), a release daemon with two accounts on
it: `big` (max_concurrency 8) and `small` (max_concurrency 1, requests_per_second 50).
The small job (SMALL URLs, one per domain: an item every ~20 ms) starts first; once its
records flow, the big job's file is dropped. Until the daemon logs that every input of
the big run is planned, this script asks `status` every 50 ms (answer latency) and
watches the small run's output file every 2 ms: each time it grows is one commit of
the writer for that run, and the gap between two growths is the pause the small run
saw. Then it waits for the big run's end.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def resolve(daemon, output):
    """A run's `output` as `runs.list` gives it (relative to where the daemon runs)."""
    path = Path(output)
    return path if path.is_absolute() or path.exists() else daemon.dir / path


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def watch_socket(daemon, stop, out):
    while not stop.is_set():
        t = time.monotonic()
        answer = common.rpc(daemon.socket, "status")
        out.append((time.monotonic() - t, answer is not None))
        time.sleep(0.05)


def watch_output(path_of, stop, out):
    last = -1
    while not stop.is_set():
        path = path_of()
        if path is not None:
            try:
                size = path.stat().st_size
            except OSError:
                size = last
            if size > last:
                out.append(time.monotonic())
                last = size
        time.sleep(0.002)


def watch_rss(pid, stop, out):
    """(seconds since start, RSS MiB) every 0.5 s: when the peak comes matters."""
    t0 = time.monotonic()
    while not stop.is_set():
        try:
            out.append((time.monotonic() - t0, common.status_kib(pid, "VmRSS") / 1024))
        except OSError:
            return
        time.sleep(0.5)


def checkpoint_lines(log):
    """The queue's checkpoint lines: what each part took (lock wait, flush, close, open)."""
    return [line[11:19] + " " + line.split("INFO", 1)[-1].strip() for line in log.read_text().splitlines()
            if "queue checkpointed" in line]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=common.default_bin())
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=6_000)
    p.add_argument("--limit", type=float, default=3600)
    args = p.parse_args()
    base = Path(args.bin).parent.parent / "bench-work"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bigrun-", dir=base))
    sim = common.Sim(args.bin, workdir)
    account = (
        f'[accounts.big]\nvendor = "autoextract"\nbase_url = "{sim.base_url}"\napi_key = "test-key"\nmax_concurrency = 8\n\n'
        f'[accounts.small]\nvendor = "autoextract"\nbase_url = "{sim.base_url}"\napi_key = "test-key"\n'
        'max_concurrency = 1\nrequests_per_second = 50\n'
    )
    daemon = common.Daemon(args.bin, workdir / "dredge", account)
    print(f"workdir {workdir}; load average: {' '.join(common.loadavg())}", flush=True)
    try:
        daemon.start()
        with open(daemon.dir / "jobs" / "small.txt", "w") as f:
            for i in range(args.small):
                f.write(f"https://www.small{i}.com/p\n")
        with open(daemon.dir / "jobs" / "big.txt", "w") as f:
            for i in range(args.items):
                f.write(f"https://www.d{i}.com/p\n")
        # The small run has more than one chunk too: its planning is the first such line.
        daemon.write_job("small.toml", 'account = "small"\nvendor = "autoextract"\n[autoextract]\n'
                         'page_type = "product"\nurls_file = "small.txt"\n')
        small = common.wait_until("the small run's records", 60,
                                  lambda: next((r for r in daemon.runs("small") if r.get("records")), None))
        small_out = resolve(daemon, small["output"])
        stop = threading.Event()
        answers, growths = [], []
        threads = [threading.Thread(target=watch_socket, args=(daemon, stop, answers)),
                   threading.Thread(target=watch_output, args=(lambda: small_out, stop, growths))]
        for t in threads:
            t.start()
        cpu0 = common.cpu_seconds(daemon.pid)
        rss, rss_stop = [], threading.Event()
        rss_thread = threading.Thread(target=watch_rss, args=(daemon.pid, rss_stop, rss))
        rss_thread.start()
        t0 = time.monotonic()
        print(f"big job dropped at {time.strftime('%H:%M:%S', time.gmtime())} UTC", flush=True)
        daemon.write_job("big.toml", 'account = "big"\nvendor = "autoextract"\n[autoextract]\n'
                         'page_type = "product"\nurls_file = "big.txt"\n')
        log = daemon.dir / "daemon.log"
        common.wait_until("the big run's planning", args.limit,
                          lambda: log.read_text().count("every input of the run is planned") >= 2, every=0.2)
        planned = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join()
        small_end = next((r for r in daemon.runs("small") if r.get("state") != "running"), None)
        gaps = [(b - a) * 1000 for a, b in zip(growths, growths[1:]) if a >= t0]
        latencies = [ms * 1000 for ms, _ in answers]
        print(f"planning {args.items} items: {planned:.1f} s; daemon VmHWM so far "
              f"{common.status_kib(daemon.pid, 'VmHWM') / 1024:.0f} MiB", flush=True)
        print(f"  socket: {len(answers)} status calls, {sum(1 for _, ok in answers if not ok)} unanswered, "
              f"p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")
        print(f"  small run ({'ended during planning' if small_end else 'running'}): {len(gaps)} commits seen, "
              f"gap p50 {pct(gaps, 0.5):.1f} ms, p99 {pct(gaps, 0.99):.1f} ms, max {max(gaps, default=0):.1f} ms",
              flush=True)

        def ended():
            runs = [r for r in daemon.runs("big") if r.get("state") != "running"]
            return runs[0] if runs else None

        run = common.wait_until("the big run's end", args.limit, ended, every=0.5)
        elapsed = time.monotonic() - t0
        rss_stop.set()
        rss_thread.join()
        peak_at, peak = max(rss, key=lambda x: x[1], default=(0, 0))
        print(f"  RSS sampled every 0.5 s: peak {peak:.0f} MiB at {peak_at:.0f} s after the big job "
              f"was dropped (planning ended at {planned:.0f} s); "
              f"mean while planning {statistics.mean(r for t, r in rss if t <= planned) if rss else 0:.0f} MiB, "
              f"after {statistics.mean([r for t, r in rss if t > planned] or [0]):.0f} MiB")
        if os.environ.get("BENCH_RSS_SERIES"):
            print("  RSS series (s:MiB): " + " ".join(f"{t:.0f}:{r:.0f}" for t, r in rss[::4]))
        for line in checkpoint_lines(daemon.dir / "daemon.log"):
            print(f"  {line}")
        lines = sum(1 for _ in open(resolve(daemon, run["output"]), "rb"))
        print(f"big run {run['state']}: {run['records']} records ({lines} lines, dead {run['items']['dead']}) "
              f"in {elapsed:.1f} s = {run['records'] / elapsed:.0f} records/s; daemon CPU "
              f"{common.cpu_seconds(daemon.pid) - cpu0:.1f} s; VmHWM {common.status_kib(daemon.pid, 'VmHWM') / 1024:.0f} MiB, "
              f"RSS now {common.status_kib(daemon.pid, 'VmRSS') / 1024:.0f} MiB; load {' '.join(common.loadavg())}",
              flush=True)
        daemon.stop()
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGKILL)
        sim.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
