"""Benchmark the inference API against its two references, side by side, in one run.

    .venv/bin/python -m bench.api                      # --cpus 1.0 0.5, 10 s per measurement
    .venv/bin/python -m bench.api --cpus 1.0 --duration 15 --json-out /tmp/bench.json

For each --cpus value it starts three containers at that CPU limit, pinned to one core
(--cpuset-cpus, default 1), on the host network bound to 127.0.0.1:

  api      this repository's image (api/Dockerfile)
  seed     the seed's way: FastAPI, one-row pandas DataFrame, predict + predict_proba per
           request, uvicorn defaults, serving the very model.joblib of the api image
  ceiling  FastAPI validating the same body (api/schemas.py) and answering a constant

and measures them one after the other with generators pinned to the other core (taskset):
the maximum rate with wrk (closed loop, --connections), then latency at --load-fraction of that
rate with bench/openloop.py (open loop: latency from each request's scheduled send time).
Server CPU and peak memory come from the container's cgroup; generator CPU from getrusage.
A benchmark prints figures; it asserts nothing (the targets are shown as ok/MISS).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
NAME_PREFIX = "rs-bench-"
IMAGES = {"api": "rightsize/inference-api:bench", "seed": "rightsize/bench-seed:latest",
          "ceiling": "rightsize/bench-ceiling:latest"}
TARGETS = ("api", "seed", "ceiling")
if not __package__:  # run as a file, sys.path[0] is bench/ (where `api` is bench/api.py): say how
    sys.exit("run it from the repository root as a module: .venv/bin/python -m bench.api --help")
from api.schemas import EXAMPLE_ROW as ROW  # noqa: E402
from bench import openloop  # noqa: E402
from rightsize.names import cpu_text  # noqa: E402
WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%f %%f %%f\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


# --- docker helpers ----------------------------------------------------------------------------

def docker(*args: str, check: bool = True, timeout: float = 900) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])} ... failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def default_base_image() -> str | None:
    if os.environ.get("RIGHTSIZE_BASE_IMAGE"):
        return os.environ["RIGHTSIZE_BASE_IMAGE"]
    probe = subprocess.run(["docker", "image", "inspect", "local/python:3.11-slim"], capture_output=True)
    return "local/python:3.11-slim" if probe.returncode == 0 else None


def build_images(base: str | None) -> None:
    base_args = ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    print(f"building {IMAGES['api']} from api/ ...", flush=True)
    docker("build", "-q", *base_args, "-t", IMAGES["api"], str(REPO / "api"))
    model = subprocess.run(["docker", "run", "--rm", "--entrypoint", "cat", IMAGES["api"],
                            "/app/api/model/model.joblib"], capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        for target, extra in (("seed", {"model.joblib": model}), ("ceiling", {})):
            context = Path(tmp) / target
            context.mkdir()
            shutil.copy(BENCH / "apps" / "Dockerfile", context)
            shutil.copy(BENCH / "apps" / f"{target}_app.py", context)
            shutil.copy(REPO / "api" / "requirements.txt", context)
            shutil.copy(REPO / "api" / "requirements-train.txt", context)
            if target == "ceiling":
                shutil.copy(REPO / "api" / "schemas.py", context)
            for name, data in extra.items():
                (context / name).write_bytes(data)
            args = ["--build-arg", f"APP={target}_app"]
            if target == "seed":  # the seed's stack: scikit-learn + pandas, uvicorn defaults
                args += ["--build-arg", "REQUIREMENTS=requirements-train.txt",
                         "--build-arg", "EXTRA_PIP=pandas==3.1.1"]
            else:  # same uvicorn flags as the api (access log off)
                args += ["--build-arg", "UVICORN_FLAGS=--no-access-log"]
            print(f"building {IMAGES[target]} ...", flush=True)
            docker("build", "-q", *base_args, *args, "-t", IMAGES[target], str(context))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Container:
    """One benchmark target on the host network, bound to 127.0.0.1, CPU-limited and pinned."""

    def __init__(self, target: str, cpus: float, cpuset: str):
        self.target, self.port = target, free_port()
        self.name = f"{NAME_PREFIX}{target}-{os.getpid()}"
        env = (["-e", "API_HOST=127.0.0.1", "-e", f"API_PORT={self.port}"] if target == "api"
               else ["-e", "HOST=127.0.0.1", "-e", f"PORT={self.port}"])
        docker("rm", "-f", self.name, check=False)
        self.id = docker("run", "-d", "--name", self.name, "--network", "host",
                         "--cpus", str(cpus), "--cpuset-cpus", cpuset, "--memory", "1g",
                         "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                         "--security-opt", "no-new-privileges", *env, IMAGES[target])
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 90) -> None:
        if not openloop.wait_healthy(self.url, timeout):
            raise SystemExit(f"{self.name} not healthy:\n{docker('logs', self.name, check=False)}")

    def cgroup_file(self, *names: str) -> Path | None:
        roots = [f"/sys/fs/cgroup/{c}/docker/{self.id}" for c in ("cpuacct", "cpu,cpuacct", "memory")]
        roots += [f"/sys/fs/cgroup/system.slice/docker-{self.id}.scope", f"/sys/fs/cgroup/docker/{self.id}"]
        for root in roots:
            for name in names:
                if (path := Path(root) / name).exists():
                    return path
        return None

    def cpu_seconds(self) -> float:
        path = self.cgroup_file("cpuacct.usage", "cpu.stat")
        if path is None:
            return float("nan")
        text = path.read_text()
        if path.name == "cpuacct.usage":
            return int(text) / 1e9
        return int(re.search(r"usage_usec (\d+)", text).group(1)) / 1e6

    def peak_memory_mib(self) -> float:
        path = self.cgroup_file("memory.max_usage_in_bytes", "memory.peak")
        return int(path.read_text()) / 2**20 if path else float("nan")

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)


# --- generators --------------------------------------------------------------------------------

def run_child(command: list[str], timeout: float) -> tuple[str, float]:
    """(stdout, CPU seconds the child used)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result.stdout, cpu


def wrk(url: str, script: Path, duration: float, connections: int, client_cpu: str) -> dict:
    command = ["taskset", "-c", client_cpu, "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s",
               "-s", str(script), f"{url}/predict"]
    out, cpu = run_child(command, timeout=duration + 30)
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests, micros, bad_status, socket_errors = (int(v) for v in fields[:4])
    p50, p95, p99 = (float(v) / 1000 for v in fields[4:])
    seconds = micros / 1e6
    return {"rps": (requests - bad_status) / seconds, "requests": requests, "non_2xx": bad_status,
            "socket_errors": socket_errors, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "generator_cpu": cpu / seconds, "seconds": seconds}


def open_loop(url: str, body: Path, rate: float, duration: float, client_cpu: str) -> dict:
    command = ["taskset", "-c", client_cpu, *openloop.command(f"{url}/predict", rate, duration, body, 128)]
    out, _ = run_child(command, timeout=duration + 70)
    return json.loads(out)


def measure(container: Container, args, script: Path, body: Path) -> dict:
    wrk(container.url, script, 2, 16, args.client_cpu)  # warm-up, not reported
    cpu0, t0 = container.cpu_seconds(), time.monotonic()
    closed = wrk(container.url, script, args.duration, args.connections, args.client_cpu)
    closed["server_cpu"] = (container.cpu_seconds() - cpu0) / (time.monotonic() - t0)
    rate = max(1.0, args.load_fraction * closed["rps"])
    cpu0, t0 = container.cpu_seconds(), time.monotonic()
    opened = open_loop(container.url, body, rate, args.duration, args.client_cpu)
    opened["server_cpu"] = (container.cpu_seconds() - cpu0) / (time.monotonic() - t0)
    return {"max": closed, "open": opened, "peak_mib": container.peak_memory_mib()}


# --- report ------------------------------------------------------------------------------------

def print_table(results: dict, fraction: float) -> None:
    head = (f"{'cpus':>4} {'target':<8} | {'max RPS':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'srvCPU':>6} "
            f"{'wrkCPU':>6} {'err':>5} | {'rate':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'2xx%':>6} "
            f"{'srvCPU':>6} {'genCPU':>6} | {'peakMiB':>7}")
    print(f"\nmax = wrk closed loop; open = bench/openloop.py at {fraction:.0%} of that target's max "
          f"(latency from scheduled send). Latencies in ms, CPU in cores.")
    print(head)
    print("-" * len(head))
    rows = [(cpus, target, r) for cpus, by_target in results.items()
            for target, rounds in by_target.items() for r in rounds]
    for cpus, target, r in rows:
        m, o = r["max"], r["open"]
        ok = 100 * o["ok"] / max(1, o["sent"])
        print(f"{cpus:>4} {target:<8} | {m['rps']:8.0f} {m['p50_ms']:6.1f} {m['p95_ms']:6.1f} "
              f"{m['p99_ms']:6.1f} {m['server_cpu']:6.2f} {m['generator_cpu']:6.2f} "
              f"{m['non_2xx'] + m['socket_errors']:5d} | {o['target_rate']:6.0f} {o['p50_ms']:6.1f} "
              f"{o['p95_ms']:6.1f} {o['p99_ms']:6.1f} {ok:6.1f} {o['server_cpu']:6.2f} "
              f"{o['generator_cpu']:6.2f} | {r['peak_mib']:7.1f}")


def median_round(rounds: list[dict]) -> dict:
    """Figure by figure, the median over the rounds."""
    def pick(path):
        values = []
        for r in rounds:
            for key in path:
                r = r[key]
            values.append(r)
        return statistics.median(values)

    return {"max": {"rps": pick(("max", "rps"))}, "open": {"p99_ms": pick(("open", "p99_ms"))},
            "peak_mib": pick(("peak_mib",))}


def print_ratios(results: dict) -> None:
    print()
    for cpus, rounds_by_target in results.items():
        by_target = {target: median_round(rounds) for target, rounds in rounds_by_target.items()}
        api = by_target.get("api")
        if not api:
            continue
        rps = api["max"]["rps"]
        checks = []
        if "seed" in by_target:
            ratio = rps / by_target["seed"]["max"]["rps"]
            checks.append((f"api / seed-style = {ratio:.1f}x", ratio >= 50 if cpus == "1" else None))
        if "ceiling" in by_target:
            ratio = rps / by_target["ceiling"]["max"]["rps"]
            checks.append((f"api / constant ceiling = {ratio:.0%}", ratio >= 0.70 if cpus == "1" else None))
        floor = {"1": 5000, "0.5": 2000}.get(cpus)
        checks.append((f"api max = {rps:.0f} RPS", rps >= floor if floor else None))
        if cpus == "1":
            checks.append((f"api p99 at load = {api['open']['p99_ms']:.1f} ms", api["open"]["p99_ms"] <= 50))
        checks.append((f"api peak memory = {api['peak_mib']:.0f} MiB", api["peak_mib"] <= 256))
        rounds = len(rounds_by_target["api"])
        if rounds > 1:
            print(f"--cpus {cpus}: medians over {rounds} rounds")
        for text, verdict in checks:
            mark = "" if verdict is None else ("  ok" if verdict else "  MISS")
            print(f"--cpus {cpus}: {text}{mark}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", nargs="+", default=["1.0", "0.5"], help="docker --cpus values")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (<= 60)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every target this many times, interleaved; checks use the median")
    parser.add_argument("--load-fraction", type=float, default=0.8, help="open-loop rate / max rate")
    parser.add_argument("--server-cpu", default="1", help="--cpuset-cpus of the containers")
    parser.add_argument("--client-cpu", default="0", help="taskset CPU of the generators")
    parser.add_argument("--base-image", default=None, help="default: $RIGHTSIZE_BASE_IMAGE, else "
                        "local/python:3.11-slim when present, else the Dockerfiles' default")
    parser.add_argument("--no-build", action="store_true", help="reuse the images already built")
    parser.add_argument("--json-out", type=Path, help="also write every figure as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60:
        parser.error("--duration must be in (0, 60] seconds")
    args.cpus = [cpu_text(c) for c in args.cpus]  # 0.25 stays 0.25, 1.0 is 1

    if not args.no_build:
        build_images(args.base_image or default_base_image())
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps(ROW))
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % json.dumps(ROW))
        for cpus in args.cpus:
            containers = []
            try:
                for target in args.targets:  # all started side by side, measured one at a time
                    containers.append(Container(target, float(cpus), args.server_cpu))
                for container in containers:
                    container.wait_healthy()
                results[cpus] = {container.target: [] for container in containers}
                for round_ in range(args.rounds):
                    for container in containers:
                        print(f"--cpus {cpus}: round {round_ + 1}, measuring {container.target} ...",
                              flush=True)
                        results[cpus][container.target].append(measure(container, args, script, body))
            finally:
                for container in containers:
                    container.remove()
    print_table(results, args.load_fraction)
    print_ratios(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
