#!/usr/bin/env python3
"""End-to-end AutoExtract throughput: dredge vs the official Python client, side by side.

One `dredge sim` process (AutoExtract only, no faults, no latency) serves both tools in
turn, so neither tool's figures include the simulator's CPU. For each tool:
records/s from start to end, CPU-seconds per 1,000 records (user+sys of the tool's own
process) and peak RSS (VmHWM / `/usr/bin/time -v`).

dredge: a release daemon with one AutoExtract account (max_concurrency = N, no rate
limit), already serving; the clock starts when the job file is renamed into jobs/ and
stops when `runs.list` shows the run ended. Its CPU is the daemon's CPU between those
two moments (startup excluded; it is printed separately).

Python client: `python -m autoextract URLS --n-conn N --batch-size 100 -o out.jl` under
`/usr/bin/time -v`, timed from spawn to exit (interpreter start and reading the URL
file included, as dredge's time includes reading the URL file and planning the run).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def run_dredge(args, sim, workdir, urls_file):
    job = (
        f"# {args.urls} URLs\nvendor = \"autoextract\"\n[autoextract]\n"
        f"page_type = \"product\"\nurls_file = \"bench.txt\"\n"
    )
    account = common.autoextract_account(sim.base_url, args.concurrency)
    if args.postgres:
        account = common.postgres_queue(args.postgres, workdir.name) + account
    result = common.run_dredge_job(args, sim, workdir, urls_file, account, job, args.daemons)
    if args.postgres:
        result["tool"] += " (PostgreSQL queue)"
    if args.daemons > 1:
        result["tool"] += f" x{args.daemons}"
    return result


def run_python(args, sim, workdir, urls_file):
    out = workdir / "python-out.jl"
    timing = workdir / "python-time.txt"
    cmd = [
        "/usr/bin/time", "-v", "-o", str(timing),
        args.python, "-m", "autoextract", str(urls_file),
        "--api-endpoint", f"{sim.base_url}/v1/extract",
        "--api-key", "test-key", "--page-type", "product",
        "--n-conn", str(args.concurrency), "--batch-size", "100",
        "-o", str(out), "--loglevel", "WARNING",
    ]
    sim_cpu0 = sim.cpu()
    t0 = time.monotonic()
    with open(workdir / "python-stderr.txt", "wb") as err:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=err, timeout=args.limit)
    elapsed = time.monotonic() - t0
    sim_cpu = sim.cpu() - sim_cpu0
    text = timing.read_text()

    def field(name):
        return re.search(re.escape(name) + r": (\S+)", text).group(1)

    records = 0
    with open(out, "rb") as f:
        for line in f:
            if b'"product"' in line and b'"error"' not in line:
                records += 1
    return {
        "tool": "python -m autoextract 0.6.1",
        "records": records,
        "output_lines": sum(1 for _ in open(out, "rb")),
        "seconds": elapsed,
        "cpu": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_rss_kib": int(field("Maximum resident set size (kbytes)")),
        "sim_cpu": sim_cpu,
    }


def report(r):
    per_k = r["cpu"] / r["records"] * 1000 if r["records"] else float("nan")
    print(
        f"{r['tool']:<30} records {r['records']:>7} (lines {r['output_lines']})  "
        f"wall {r['seconds']:7.2f} s  {r['records'] / r['seconds']:8.0f} records/s  "
        f"CPU {r['cpu']:6.2f} s = {per_k:6.3f} CPU-s/1k records  "
        f"peak RSS {r['peak_rss_kib'] / 1024:6.1f} MiB  | sim CPU {r['sim_cpu']:.2f} s"
    )
    if "run_seconds" in r:
        print(f"{'':<30} run start to run end (daemon log): {r['run_seconds']:.2f} s = "
              f"{r['records'] / r['run_seconds']:.0f} records/s")
    if r.get("postgres_cpu"):
        print(f"{'':<30} PostgreSQL server CPU: {r['postgres_cpu']:.2f} s")
    extra = {k: r[k] for k in ("state", "dead", "startup_cpu", "rss_after_kib") if k in r}
    if extra:
        print(f"{'':<30} {json.dumps(extra)}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=common.default_bin(), help="release dredge binary")
    p.add_argument("--python", default=common.default_venv_python(),
                   help="a Python with scrapinghub-autoextract==0.6.1 installed")
    p.add_argument("--urls", type=int, default=100_000)
    p.add_argument("--domains", type=int, default=1_000)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--limit", type=float, default=240, help="seconds allowed per tool")
    p.add_argument("--only", choices=["dredge", "python"], help="run one tool only")
    p.add_argument("--postgres", metavar="URL",
                   help="keep dredge's queue in this PostgreSQL database (a fresh schema per run)")
    p.add_argument("--daemons", type=int, default=1,
                   help="with --postgres: this many daemons share the queue (and one output_dir)")
    p.add_argument("--workdir", help="scratch dir on the real disk (default: under the target dir)")
    args = p.parse_args()
    if args.daemons > 1 and not args.postgres:
        p.error("--daemons needs --postgres: only a shared queue has several daemons")

    base = Path(args.workdir or (Path(args.bin).parent.parent / "bench-work"))
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="e2e-", dir=base))
    print(f"workdir {workdir}; load average before: {' '.join(common.loadavg())}")
    urls_file = workdir / "urls.txt"
    common.write_urls(urls_file, args.urls, args.domains)
    sim = common.Sim(args.bin, workdir)
    results = []
    try:
        if args.only in (None, "python"):
            results.append(run_python(args, sim, workdir, urls_file))
            report(results[-1])
        if args.only in (None, "dredge"):
            results.append(run_dredge(args, sim, workdir, urls_file))
            report(results[-1])
    finally:
        sim.stop()
    print(f"load average after: {' '.join(common.loadavg())}")
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
