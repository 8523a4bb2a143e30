#!/usr/bin/env python3
"""Daemon start time to READY=1 with 1,000,000 queued items.

Fill: a release daemon whose only account has `requests_per_second = 0.001` and
`max_concurrency = 1` (so at most one item is ever leased, and nothing drains) and a
base_url where nothing listens. JOBS job files of ITEMS URLs each, every URL on its own
domain (AutoExtract batches per domain, so one URL = one queued item), are dropped one
after another; each run's items are created by the daemon itself (`create_run`).

Then the daemon is stopped and started again, in the order of --stops (default: a
SIGKILL right after the fill, i.e. crash recovery, another SIGKILL, then a clean SIGTERM
stop; a stop waits out the daemon's 30 s drain, see BENCHMARKS.md), each
time with NOTIFY_SOCKET pointing at a datagram socket of this script: the figure is the
time from spawn to the `READY=1` it sends (Type=notify's readiness), and to its socket
answering.
"""

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def fill(daemon, jobs, items):
    for j in range(jobs):
        urls = daemon.dir / "jobs" / f"fill{j}.txt"
        with open(urls, "w") as f:
            for i in range(items):
                f.write(f"https://www.d{j}x{i}.com/p\n")
        t0 = time.monotonic()
        daemon.write_job(
            f"fill{j}.toml",
            f'vendor = "autoextract"\n[autoextract]\npage_type = "product"\nurls_file = "fill{j}.txt"\n',
        )

        def created():
            # The log lines follow durable flushes; `runs.list` can show the run a
            # moment earlier, before the flush, when a SIGKILL would still lose it. A
            # run of more than one chunk (2,000 inputs) is whole once it is planned.
            log = (daemon.dir / "daemon.log").read_text()
            planned = log.count("every input of the run is planned") > j or items <= 2000
            return f"run started job=fill{j} " in log and planned

        common.wait_until(f"run of fill{j}", 300, created, every=0.2)
        print(f"  fill{j}: {items} items created in {time.monotonic() - t0:.1f} s; "
              f"daemon RSS {common.status_kib(daemon.pid, 'VmRSS') / 1024:.0f} MiB", flush=True)


def timed_start(daemon, notify_path):
    if notify_path.exists():
        notify_path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(300)
    daemon.env = {"NOTIFY_SOCKET": str(notify_path)}
    t0 = time.monotonic()
    daemon.start(wait=False)
    while True:
        msg = sock.recv(4096)
        if b"READY=1" in msg:
            ready = time.monotonic() - t0
            break
    sock.close()
    daemon.wait_serving()
    serving = time.monotonic() - t0
    return ready, serving


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=common.default_bin())
    p.add_argument("--jobs", type=int, default=10)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--stops", default="kill,kill,term", help="how each restart is preceded")
    args = p.parse_args()
    base = Path(args.bin).parent.parent / "bench-work"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="open1m-", dir=base))
    account = (
        f'[accounts.zyte]\nvendor = "autoextract"\nbase_url = "http://127.0.0.1:{common.free_port()}"\n'
        'api_key = "test-key"\nmax_concurrency = 1\nrequests_per_second = 0.001\n'
    )
    daemon = common.Daemon(args.bin, workdir, account)
    print(f"workdir {workdir}; load average: {' '.join(common.loadavg())}")
    try:
        t0 = time.monotonic()
        daemon.start()
        fill(daemon, args.jobs, args.items)
        size = sum(f.stat().st_size for f in (workdir / "state").rglob("*") if f.is_file())
        print(f"fill: {args.jobs * args.items} items in {time.monotonic() - t0:.1f} s; "
              f"state dir {size / 2**20:.0f} MiB; daemon CPU {common.cpu_seconds(daemon.pid):.1f} s, "
              f"VmHWM {common.status_kib(daemon.pid, 'VmHWM') / 1024:.0f} MiB", flush=True)
        for k, how in enumerate(args.stops.split(",")):
            if how == "kill":
                daemon.proc.kill()
                daemon.proc.wait()
            else:
                t = time.monotonic()
                daemon.stop()
                print(f"  stop (SIGTERM) took {time.monotonic() - t:.2f} s")
            ready, serving = timed_start(daemon, workdir / "notify.sock")
            print(f"start {k + 1} after SIG{how.upper()}: READY=1 after {ready:.2f} s, socket answers after "
                  f"{serving:.2f} s; RSS {common.status_kib(daemon.pid, 'VmRSS') / 1024:.0f} MiB; "
                  f"load {' '.join(common.loadavg())}", flush=True)
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGKILL)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
