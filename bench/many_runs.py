#!/usr/bin/env python3
"""Memory over many runs: the daemon's RSS after each of N consecutive AutoExtract runs.

One `dredge sim` (AutoExtract only, no faults) and one release daemon (one account,
max_concurrency 20), started once. The same job (URLS URLs on URLS/100 domains) is
dropped N times under new names, one after the other; after each run ends (and one
second more), the daemon's VmRSS and VmHWM are printed. A daemon that runs for months
must level off here, not grow with every run.

The daemon runs with systemd/dredge.service's `Environment=` (allocator settings), as
deployed; `BENCH_NO_UNIT_ENV=1` runs it without them, for comparison.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=common.default_bin())
    p.add_argument("--urls", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--limit", type=float, default=300, help="seconds allowed per run")
    args = p.parse_args()

    base = Path(args.bin).resolve().parent.parent / "bench-work"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="many-", dir=base))
    print(f"workdir {workdir}; load average: {' '.join(common.loadavg())}")
    sim = common.Sim(args.bin, workdir)
    daemon = common.Daemon(
        args.bin, workdir / "dredge", common.autoextract_account(sim.base_url, 20)
    )
    try:
        daemon.start()
        urls = workdir / "urls.txt"
        common.write_urls(urls, args.urls, max(1, args.urls // 100))
        for n in range(args.runs):
            name = f"run{n}"
            shutil.copy(urls, daemon.dir / "jobs" / f"{name}.txt")
            daemon.write_job(
                f"{name}.toml",
                f'vendor = "autoextract"\n[autoextract]\npage_type = "product"\nurls_file = "{name}.txt"\n',
            )

            def ended():
                return any(r.get("state") != "running" for r in daemon.runs(name))

            common.wait_until(f"the end of {name}", args.limit, ended, every=0.1)
            time.sleep(1.0)
            rss = common.status_kib(daemon.pid, "VmRSS") / 1024
            hwm = common.status_kib(daemon.pid, "VmHWM") / 1024
            print(f"after run {n + 1:>2} ({(n + 1) * args.urls:>9,} records): "
                  f"VmRSS {rss:6.1f} MiB, VmHWM {hwm:6.1f} MiB", flush=True)
    finally:
        daemon.stop()
        sim.stop()
        if not common.os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average after: {' '.join(common.loadavg())}")


if __name__ == "__main__":
    main()
