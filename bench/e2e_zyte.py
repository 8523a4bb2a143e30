#!/usr/bin/env python3
"""End-to-end Zyte API throughput: dredge vs the official Python client, side by side.

One `dredge sim` process (Zyte API simulator only, no faults, no latency) serves both
tools in turn, so neither tool's figures include the simulator's CPU. For each tool:
records/s from start to end, CPU-seconds per 1,000 records (user+sys of the tool's own
process) and peak RSS. Zyte API takes one URL per request, so every record is one
HTTP request for both tools.

dredge: a release daemon with one Zyte API account (max_concurrency = N, no rate
limit), already serving; the clock starts when the job file is renamed into jobs/ and
stops when `runs.list` shows the run ended. CPU is the daemon's between those moments.

Python client: `python -m zyte_api QUERIES.jl --n-conn N --api-url SIM/v1/ -o out.jl`
(zyte-api 0.11.0) under `/usr/bin/time -v`, timed from spawn to exit. Its input is one
`{"url": …, "product": true}` query per line (a plain URL list would ask for
`browserHtml`, not the extracted product dredge asks for).
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
import e2e_autoextract  # noqa: E402  (report() is shared)


class ZyteSim:
    """`dredge sim` with only the Zyte API simulator on an ephemeral port."""

    def __init__(self, binary, workdir):
        scenario = Path(workdir) / "scenario.toml"
        scenario.write_text("[zyte]\n")
        self.proc = subprocess.Popen(
            [binary, "sim", "--listen", "127.0.0.1:0", "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.base_url = None
        for line in self.proc.stdout:
            m = re.match(r'base_url = "(.+)"', line.strip())
            if m:
                self.base_url = m.group(1)
                break
        if not self.base_url:
            raise RuntimeError("dredge sim printed no Zyte API base_url")

    def cpu(self):
        return common.cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=30)


def zyte_account(base_url, concurrency):
    return (
        f'[accounts.zyte]\nvendor = "zyte"\nbase_url = "{base_url}"\n'
        f'api_key = "test-key"\nmax_concurrency = {concurrency}\n'
    )


def run_dredge(args, sim, workdir, urls_file):
    job = (
        f"# {args.urls} URLs\nvendor = \"zyte\"\n[zyte]\nextract = \"product\"\n"
        f"urls_file = \"bench.txt\"\n"
    )
    account = zyte_account(sim.base_url, args.concurrency)
    return common.run_dredge_job(args, sim, workdir, urls_file, account, job)


def run_python(args, sim, workdir, urls_file):
    queries = workdir / "queries.jl"
    with open(urls_file) as src, open(queries, "w") as dst:
        for url in src:
            dst.write(json.dumps({"url": url.strip(), "product": True}) + "\n")
    out = workdir / "python-out.jl"
    timing = workdir / "python-time.txt"
    cmd = [
        "/usr/bin/time", "-v", "-o", str(timing),
        args.python, "-m", "zyte_api", str(queries), "--intype", "jl",
        "--api-url", f"{sim.base_url}/v1/", "--api-key", "test-key",
        "--n-conn", str(args.concurrency), "-o", str(out), "--loglevel", "WARNING",
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
            if b'"product"' in line:
                records += 1
    return {
        "tool": "python -m zyte_api 0.11.0",
        "records": records,
        "output_lines": sum(1 for _ in open(out, "rb")),
        "seconds": elapsed,
        "cpu": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_rss_kib": int(field("Maximum resident set size (kbytes)")),
        "sim_cpu": sim_cpu,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=common.default_bin(), help="release dredge binary")
    p.add_argument("--python", default=str(Path(common.default_bin()).parent.parent / "bench-venv-zyte" / "bin" / "python"),
                   help="a Python with zyte-api==0.11.0 installed")
    p.add_argument("--urls", type=int, default=20_000)
    p.add_argument("--domains", type=int, default=1_000)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--limit", type=float, default=600, help="seconds allowed per tool")
    p.add_argument("--only", choices=["dredge", "python"], help="run one tool only")
    p.add_argument("--workdir", help="scratch dir on the real disk (default: under the target dir)")
    args = p.parse_args()

    base = Path(args.workdir or (Path(args.bin).parent.parent / "bench-work"))
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="e2e-zyte-", dir=base))
    print(f"workdir {workdir}; load average before: {' '.join(common.loadavg())}")
    urls_file = workdir / "urls.txt"
    common.write_urls(urls_file, args.urls, args.domains)
    sim = ZyteSim(args.bin, workdir)
    results = []
    try:
        if args.only in (None, "python"):
            results.append(run_python(args, sim, workdir, urls_file))
            e2e_autoextract.report(results[-1])
        if args.only in (None, "dredge"):
            results.append(run_dredge(args, sim, workdir, urls_file))
            e2e_autoextract.report(results[-1])
    finally:
        sim.stop()
    print(f"load average after: {' '.join(common.loadavg())}")
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
