#!/usr/bin/env python3
"""Idle daemon: RSS and CPU over a quiet minute.

A release daemon with one AutoExtract account (pointing at a `dredge sim`) and a few
scheduled jobs whose next fire is days away, so nothing runs. After it has served for
a few seconds, CPU ticks (utime+stime of /proc/PID/stat) and context switches of all
its threads are read before and after SECONDS, and VmRSS is sampled every second.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

JOBS = {
    "nightly-products.toml": 'vendor = "autoextract"\nschedule = "0 3 1 1 *"\n'
    '[autoextract]\npage_type = "product"\nurls = ["https://www.shop1.com/a", "https://www.shop2.com/b"]\n',
    "weekly-articles.toml": 'vendor = "autoextract"\nschedule = "0 4 1 1 *"\n'
    '[autoextract]\npage_type = "article"\nurls = ["https://news.example.com/1"]\n',
    "yearly.toml": 'vendor = "autoextract"\nschedule = "0 0 0 1 1 *"\ncatch_up = "skip"\n'
    '[autoextract]\npage_type = "product"\nurls = ["https://www.shop3.com/c"]\n',
}


def ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def context_switches(pid):
    """Context switches (voluntary + not) per thread name, summed over same-named threads."""
    by_name = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                by_name[name] = by_name.get(name, 0) + int(line.split()[1])
    return by_name


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", default=common.default_bin())
    p.add_argument("--seconds", type=int, default=60)
    args = p.parse_args()
    base = Path(args.bin).parent.parent / "bench-work"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="idle-", dir=base))
    sim = common.Sim(args.bin, workdir)
    daemon = common.Daemon(args.bin, workdir / "dredge", common.autoextract_account(sim.base_url, 4))
    try:
        for name, text in JOBS.items():
            daemon.write_job(name, text)
        daemon.start()
        common.wait_until(
            "the jobs to load", 30,
            lambda: len((common.rpc(daemon.socket, "jobs.list") or {}).get("result") or []) == len(JOBS),
        )
        time.sleep(5)
        pid = daemon.pid
        print(f"load average before: {' '.join(common.loadavg())}; threads: "
              f"{len(list(Path(f'/proc/{pid}/task').iterdir()))}")
        u0, s0 = ticks(pid)
        cs0 = context_switches(pid)
        rss = []
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            rss.append(common.status_kib(pid, "VmRSS"))
            time.sleep(1)
        u1, s1 = ticks(pid)
        cs1 = context_switches(pid)
        runs = sum(len(daemon.runs(name[:-5])) for name in JOBS)
        print(f"idle {args.seconds} s, {len(JOBS)} scheduled jobs, runs started: {runs}")
        print(f"  CPU ticks: user {u1 - u0}, sys {s1 - s0} (1 tick = {1000 // common.CLK_TCK} ms)"
              f" = {((u1 - u0) + (s1 - s0)) / common.CLK_TCK:.2f} CPU-s")
        deltas = {name: n - cs0.get(name, 0) for name, n in cs1.items()}
        busiest = ", ".join(f"{name} {n}" for name, n in sorted(deltas.items(), key=lambda kv: -kv[1])[:4])
        print(f"  context switches (wake-ups), all threads: {sum(deltas.values())}; busiest: {busiest}")
        print(f"  VmRSS: min {min(rss) / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB; "
              f"VmHWM {common.status_kib(pid, 'VmHWM') / 1024:.1f} MiB")
        print(f"load average after: {' '.join(common.loadavg())}")
        daemon.stop()
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
