"""Shared pieces of the dredge benchmarks: process figures from /proc, the status
socket, starting `dredge sim` and a daemon in a scratch directory on the real disk.

Everything listens on 127.0.0.1 only.
"""

import datetime
import json
import os
import signal
import socket
import shutil
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(Path(target) / "release" / "dredge")


def default_venv_python():
    """The Python of the venv `bench/run.sh` creates next to the release binary."""
    return str(Path(default_bin()).parent.parent / "bench-venv" / "bin" / "python")


def cpu_seconds(pid):
    """user + sys CPU seconds of a live process (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the ")": state is field 3, utime 14, stime 15 -> indexes 11, 12 here
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu_seconds():
    """user + sys CPU seconds of every live `postgres` process (the server's backends
    exit with their connections, so read this while the daemon still runs)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            total += cpu_seconds(stat.parent.name)
    return total


def status_kib(pid, key):
    """A `VmHWM`/`VmRSS`-style line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, limit, cond, every=0.02):
    start = time.monotonic()
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() - start > limit:
            raise TimeoutError(f"timed out after {limit}s waiting for {what}")
        time.sleep(every)


def rpc(sock_path, method, params=None):
    """One JSON-RPC call over the status socket; None when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(str(sock_path))
            req = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)
    except (OSError, ValueError):
        return None


class Sim:
    """`dredge sim` with only the AutoExtract simulator, no faults, no latency."""

    def __init__(self, binary, workdir):
        self.port = free_port()
        scenario = Path(workdir) / "scenario.toml"
        scenario.write_text("[autoextract]\n")
        self.proc = subprocess.Popen(
            [binary, "sim", "--listen", f"127.0.0.1:{self.port}", "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()  # the banner comes once the port is bound
        if not line:
            raise RuntimeError("dredge sim exited before it served")
        self.base_url = f"http://127.0.0.1:{self.port}"

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def unit_environment():
    """The `Environment=` settings of systemd/dredge.service (allocator tuning): the
    benchmarks run the daemon as the unit does."""
    unit = Path(__file__).resolve().parent.parent / "systemd" / "dredge.service"
    env = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for pair in line[len("Environment="):].split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


class Daemon:
    """A dredge daemon on `workdir` (config, jobs/, state/), one AutoExtract account."""

    def __init__(self, binary, workdir, account_toml, env=None):
        self.binary = binary
        self.dir = Path(workdir)
        (self.dir / "jobs").mkdir(parents=True, exist_ok=True)
        (self.dir / "dredge.toml").write_text(
            'state_dir = "state"\njobs_dir = "jobs"\nsocket = "state/dredge.sock"\n\n'
            + account_toml
        )
        self.socket = self.dir / "state" / "dredge.sock"
        self.env = env
        self.proc = None

    def start(self, wait=True):
        log = open(self.dir / "daemon.log", "ab")
        env = dict(os.environ, NO_COLOR="1")
        env.pop("RUST_LOG", None)  # the daemon's default level (info), as deployed
        if not os.environ.get("BENCH_NO_UNIT_ENV"):
            env.update(unit_environment())
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            [self.binary, "daemon", "--config", str(self.dir / "dredge.toml")],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        if wait:
            self.wait_serving()

    def wait_serving(self, limit=120):
        def serving():
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited ({self.proc.returncode}); see {self.dir}/daemon.log")
            return rpc(self.socket, "status") is not None

        wait_until("the daemon's socket", limit, serving)

    @property
    def pid(self):
        return self.proc.pid

    def write_job(self, name, text):
        tmp = self.dir / "jobs" / f".{name}.tmp"
        tmp.write_text(text)
        os.rename(tmp, self.dir / "jobs" / name)

    def runs(self, job):
        answer = rpc(self.socket, "runs.list", {"job": job}) or {}
        return answer.get("result") or []

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def autoextract_account(base_url, concurrency, rps=None):
    text = (
        f'[accounts.zyte]\nvendor = "autoextract"\nbase_url = "{base_url}"\n'
        f'api_key = "test-key"\nmax_concurrency = {concurrency}\n'
    )
    if rps is not None:
        text += f"requests_per_second = {rps}\n"
    return text


def postgres_queue(url, name):
    """A `[queue]` section keeping the daemon's queue in a fresh schema of `url`."""
    schema = "bench_" + "".join(c if c.isalnum() else "_" for c in name.lower())
    return f'[queue]\nbackend = "postgres"\nurl = "{url}"\nschema = "{schema}"\n\n'


def write_urls(path, n, domains):
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"https://www.shop{i % domains}.com/item/{i}\n")


def run_dredge_job(args, sim, workdir, urls_file, account, job, daemons=1):
    """One run of `job` (reading `urls_file` as `bench.txt`) in a release daemon with
    `account`, already serving: the clock starts when the job file is renamed into
    jobs/ and stops when `runs.list` shows the run ended. CPU is the daemon's between
    those two moments (startup excluded, reported apart); peak RSS is VmHWM.

    With `daemons` > 1 (a shared PostgreSQL queue in `account`), as many daemons with
    the same account and one shared output_dir run; the job goes to the first, CPU is
    the sum of all, peak RSS the first one's."""
    if daemons > 1:
        account = f'output_dir = "{workdir / "out"}"\n' + account
    daemon = Daemon(args.bin, workdir / "dredge", account)
    others = [Daemon(args.bin, workdir / f"dredge{n}", account) for n in range(2, daemons + 1)]
    daemon.start()
    for other in others:
        other.start()
    time.sleep(1.0)  # let startup work (first rescan, checkpoint timer) settle
    startup_cpu = cpu_seconds(daemon.pid)
    shutil.copy(urls_file, daemon.dir / "jobs" / "bench.txt")
    sim_cpu0 = sim.cpu()
    pg_cpu0 = postgres_cpu_seconds()
    cpu0 = cpu_seconds(daemon.pid) + sum(cpu_seconds(o.pid) for o in others)
    t0 = time.monotonic()
    daemon.write_job("bench.toml", job)

    def ended():
        runs = [r for r in daemon.runs("bench") if r.get("state") != "running"]
        return runs[0] if runs else None

    run = wait_until("the run's end", args.limit, ended, every=0.05)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(daemon.pid) + sum(cpu_seconds(o.pid) for o in others) - cpu0
    sim_cpu = sim.cpu() - sim_cpu0
    pg_cpu = postgres_cpu_seconds() - pg_cpu0
    hwm = status_kib(daemon.pid, "VmHWM")
    rss_after = status_kib(daemon.pid, "VmRSS")
    daemon.stop()
    for other in others:
        other.stop()
    output = Path(run["output"])
    if not output.is_absolute():
        output = daemon.dir / output
    lines = sum(1 for _ in open(output, "rb"))
    started, _ = run_times(daemon.dir / "daemon.log", need=False)
    finished = max(
        run_times(d.dir / "daemon.log", need=False)[1] or 0 for d in [daemon] + others
    )
    return {
        "run_seconds": finished - started,
        "tool": "dredge daemon",
        "state": run["state"],
        "records": run["records"],
        "output_lines": lines,
        "dead": run["items"]["dead"],
        "seconds": elapsed,
        "cpu": cpu,
        "startup_cpu": startup_cpu,
        "peak_rss_kib": hwm,
        "rss_after_kib": rss_after,
        "sim_cpu": sim_cpu,
        "postgres_cpu": pg_cpu,
    }


def run_times(log, need=True):
    """Wall-clock seconds of the daemon's "run started" and "run finished" log lines: the
    run itself, without the job watcher's debounce before it (`need=False`: None for a
    line the log does not have)."""
    stamps = {}
    for line in log.read_text().splitlines():
        for key in ("run started", "run finished"):
            if key in line:
                stamp = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                stamps[key] = stamp.timestamp()
    if not need:
        return stamps.get("run started"), stamps.get("run finished")
    return stamps["run started"], stamps["run finished"]
