"""A Locust worker's CPU per request: rightsize's locustfile against a bare FastHttpUser, in one run.

    .venv/bin/python -m bench.generator                     # 3,000 users, between(1, 3), 2 rounds of 60 s
    .venv/bin/python -m bench.generator --base 7cac273      # also the locustfile of that revision
    .venv/bin/python -m bench.generator --users 3000 --duration 60 --rounds 2 --json-out /tmp/gen.json

Starts one API container (rightsize/inference-api:latest, --cpus 1, published on 127.0.0.1 only;
or --url of a server already up), then for each round runs every contender, one after the other
(the order reversed every other round), as one Locust master and ONE worker process, both headless
on 127.0.0.1, with --users users at between(--wait-min, --wait-max) spawned over --spawn-s:

  rightsize       locust/ of this checkout, as the loadtest role runs it (generated Covertype rows,
                  latency and errors recorder, steps and master files)
  rightsize-file  the same with a one-line payloads file (RIGHTSIZE_PAYLOADS): the bare one's body
  bare            a FastHttpUser with `wait_time = between(...)` posting that body with `json=`
  rightsize@REV   (--base REV) locust/ of that revision, generated rows

A small module loaded beside each locustfile (`-f locustfile.py,count.py`) counts the worker's
requests and every 0.5 s appends the time, the count and the worker's CPU ticks (utime + stime
of /proc/<pid>/stat). Over the measured window (from --spawn-s + 10 s to 5 s before the end)
it prints per contender: RPS sent, the worker's CPU in % of one core, RPS per core (RPS / cores)
and its inverse, CPU-seconds per request (generator_cpu_s_per_request in rightsize/variables.py
is measured so); the medians over the rounds and each contender's ratio to `bare`. Locust's own
p50/p95 (master's stats CSV, the whole load) are shown beside. A benchmark prints figures; it
asserts nothing. Load goes to 127.0.0.1 only; every load is bounded by --duration (<= 300 s).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
if not __package__:  # run as a file, `api` would be bench/api.py: say how
    sys.exit("run it from the repository root as a module: .venv/bin/python -m bench.generator --help")
from api.schemas import EXAMPLE_ROW as ROW  # noqa: E402
from bench.openloop import wait_healthy  # noqa: E402

IMAGE = "rightsize/inference-api:latest"
NAME_PREFIX = "rs-bench-gen-"
LOCUST_FILES = ("locustfile.py", "payloads.py", "recorder.py", "shape.py", "steps.py")
TICKS = os.sysconf("SC_CLK_TCK")

COUNT_PY = '''"""bench.generator: the worker's requests and CPU ticks every 0.5 s (the time, count, ticks)."""
import os
import time

import gevent
from locust import events
from locust.runners import WorkerRunner

_sent = [0]


def _count(**_kwargs):
    _sent[0] += 1


def _ticks():
    with open("/proc/self/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@events.init.add_listener
def _on_init(environment, **_kwargs):
    if not isinstance(environment.runner, WorkerRunner):
        return
    environment.events.request.add_listener(_count)
    out = open(os.environ["BENCH_COUNT_OUT"], "a", encoding="ascii", buffering=1)

    def loop():
        while True:
            gevent.sleep(0.5)
            out.write(f"{time.time():.3f},{_sent[0]},{_ticks()}\\n")
    gevent.spawn(loop)
'''

BARE_PY = '''"""bench.generator's bare contender: FastHttpUser, between(min, max), one body posted with json=."""
import json
import os

from locust import FastHttpUser, between, task

BODY = json.loads(os.environ["BENCH_BODY"])
PATH = os.environ.get("BENCH_PATH", "/predict")


class BareUser(FastHttpUser):
    wait_time = between(float(os.environ["BENCH_WAIT_MIN"]), float(os.environ["BENCH_WAIT_MAX"]))

    @task
    def predict(self):
        self.client.post(PATH, json=BODY, name="predict")
'''


# --- the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The API image at --cpus, published on 127.0.0.1 only; removed by name."""

    def __init__(self, image: str, cpus: float):
        self.port = free_port()
        self.name = f"{NAME_PREFIX}{os.getpid()}"
        subprocess.run(["docker", "run", "-d", "--rm", "--name", self.name, "--cpus", f"{cpus:g}",
                        "-p", f"127.0.0.1:{self.port}:8000", image], check=True, capture_output=True,
                       timeout=120)
        self.url = f"http://127.0.0.1:{self.port}"

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, timeout=120)


# --- contenders --------------------------------------------------------------------------------

def locust_dir_at(rev: str, dest: Path) -> Path:
    """locust/ of a git revision, written into dest."""
    dest.mkdir(parents=True)
    for name in LOCUST_FILES:
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:locust/{name}"], capture_output=True,
                               check=True)
        (dest / name).write_bytes(shown.stdout)
    return dest


def contenders(work: Path, base: str | None) -> dict:
    """name -> (locustfile, shape kind, extra environment)."""
    (work / "count.py").write_text(COUNT_PY)
    (work / "bare.py").write_text(BARE_PY)
    body_file = work / "body.jsonl"
    body_file.write_text(json.dumps(ROW) + "\n")
    here = REPO / "locust" / "locustfile.py"
    out = {"rightsize": (here, "rightsize", {}),
           "rightsize-file": (here, "rightsize", {"RIGHTSIZE_PAYLOADS": str(body_file)}),
           "bare": (work / "bare.py", "bare", {})}
    if base:
        out[f"rightsize@{base}"] = (locust_dir_at(base, work / f"locust-{base}") / "locustfile.py", "rightsize", {})
    return out


def shape_args(kind: str, args) -> list[str]:
    if kind == "rightsize":  # one step of --users for --duration, as the loadtest role passes it
        return ["--rs-users", str(args.users), "--rs-users-step", str(args.users),
                "--rs-step-duration", f"{args.duration:g}", "--rs-spawn-s", f"{args.spawn_s:g}",
                "--rs-wait-min", f"{args.wait_min:g}", "--rs-wait-max", f"{args.wait_max:g}",
                "--rs-predict-path", args.path]
    return ["-u", str(args.users), "-r", f"{args.users / args.spawn_s:g}", "-t", f"{args.duration:g}s"]


def run_one(name: str, contender: tuple, url: str, args, work: Path) -> dict:
    """One master and one worker of a contender; the figures of its measured window."""
    locustfile, kind, extra = contender
    out = work / "runs" / f"{name}-{time.monotonic_ns()}"
    out.mkdir(parents=True)
    count_file = out / "count.csv"
    env = {**os.environ, "RIGHTSIZE_OUT": str(out), "RIGHTSIZE_HOST": "bench", "RIGHTSIZE_PAYLOADS": "",
           "BENCH_COUNT_OUT": str(count_file), "BENCH_BODY": json.dumps(ROW), "BENCH_PATH": args.path,
           "BENCH_WAIT_MIN": f"{args.wait_min:g}", "BENCH_WAIT_MAX": f"{args.wait_max:g}", **extra}
    files = f"{locustfile},{work / 'count.py'}"
    port = free_port()
    bound = args.duration + 60
    master = subprocess.Popen(
        ["timeout", f"{bound:g}", str(BIN / "locust"), "-f", files, "--master", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "--expect-workers", "1", "--headless", "--host", url,
         "--csv", str(out / "locust"), "--stop-timeout", "2", "--exit-code-on-error", "0", "--only-summary",
         *shape_args(kind, args)],
        env=env, stdout=open(out / "master.log", "w"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen(
        ["timeout", f"{bound:g}", str(BIN / "locust"), "-f", files, "--worker", "--master-host", "127.0.0.1",
         "--master-port", str(port)],
        env=env, stdout=open(out / "worker.log", "w"), stderr=subprocess.STDOUT)
    try:
        master.wait(timeout=bound + 10)
        worker.wait(timeout=30)
    finally:
        for process in (master, worker):
            if process.poll() is None:
                process.kill()
                process.wait()
    figures = window_figures(count_file, args.spawn_s + 10, args.duration - 5)
    figures.update(locust_latency(out / "locust_stats.csv"))
    if kind == "rightsize":
        figures["recorded"] = recorded_requests(out)
    return figures


def window_figures(count_file: Path, start_s: float, end_s: float) -> dict:
    """RPS, worker cores and their ratio between start_s and end_s after the worker's first count."""
    rows = [tuple(map(float, line.split(","))) for line in count_file.read_text().splitlines() if line]
    if len(rows) < 4:
        raise SystemExit(f"{count_file}: the worker counted for {len(rows) / 2:.1f} s only, see its logs")
    t_first = rows[0][0]
    inside = [r for r in rows if start_s <= r[0] - t_first <= end_s]
    (t0, n0, k0), (t1, n1, k1) = inside[0], inside[-1]
    seconds = t1 - t0
    rps = (n1 - n0) / seconds
    cores = (k1 - k0) / TICKS / seconds
    return {"seconds": round(seconds, 1), "sent": int(n1 - n0), "rps": rps, "cpu_pct": 100 * cores,
            "rps_per_core": rps / cores if cores else None,
            "cpu_s_per_request": cores / rps if rps else None, "total_sent": int(rows[-1][1])}


def locust_latency(stats_csv: Path) -> dict:
    """Locust's own median and p95 (ms) of the whole load, from the master's stats CSV."""
    try:
        with open(stats_csv, newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
        return {"p50_ms": float(row["50%"]), "p95_ms": float(row["95%"]),
                "failures": int(row["Failure Count"]), "locust_requests": int(row["Request Count"])}
    except (OSError, StopIteration, KeyError, ValueError):
        return {"p50_ms": None, "p95_ms": None, "failures": None, "locust_requests": None}


def recorded_requests(out: Path) -> int:
    """Requests in the worker's latency histograms (latency/<host>-<pid>.csv): the recorder kept up."""
    total = 0
    for path in (out / "latency").glob("*.csv"):
        with open(path, newline="") as handle:
            total += sum(int(row["count"]) for row in csv.DictReader(handle))
    return total


# --- output -------------------------------------------------------------------------------------

def print_rounds(results: dict) -> None:
    head = (f"{'round':>5} {'contender':<22} | {'RPS':>7} {'CPU %':>6} {'RPS/core':>9} {'ms CPU/req':>10} | "
            f"{'p50':>5} {'p95':>5} {'fails':>5} | {'sent':>7} {'recorded':>8}")
    print(f"\nOne worker process each; RPS and CPU over the measured window; p50/p95 (ms) Locust's, whole load;"
          f" sent = requests the worker sent in all, recorded = those in its latency histograms.")
    print(head)
    print("-" * len(head))
    for name, rounds in results.items():
        for number, r in enumerate(rounds, start=1):
            recorded = r.get("recorded")
            print(f"{number:>5} {name:<22} | {r['rps']:7.0f} {r['cpu_pct']:6.1f} {r['rps_per_core']:9.0f} "
                  f"{r['cpu_s_per_request'] * 1000:10.3f} | {_ms(r['p50_ms'])} {_ms(r['p95_ms'])} "
                  f"{r['failures'] if r['failures'] is not None else '-':>5} | {r['total_sent']:7d} "
                  f"{recorded if recorded is not None else '-':>8}")


def _ms(value) -> str:
    return f"{value:5.0f}" if value is not None else "    -"


def medians(results: dict) -> dict:
    return {name: {key: statistics.median(r[key] for r in rounds)
                   for key in ("rps", "cpu_pct", "rps_per_core", "cpu_s_per_request")}
            for name, rounds in results.items()}


def print_medians(med: dict, rounds: int) -> None:
    print(f"\nmedians over {rounds} round(s):")
    bare = med.get("bare")
    for name, m in med.items():
        ratio = f", {m['rps_per_core'] / bare['rps_per_core']:.2f} x bare's RPS per core" if bare else ""
        print(f"  {name:<22} {m['rps']:6.0f} RPS at {m['cpu_pct']:5.1f} % of a core = {m['rps_per_core']:5.0f} "
              f"RPS per core ({m['cpu_s_per_request'] * 1000:.3f} ms CPU per request){ratio}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--wait-min", type=float, default=1.0)
    parser.add_argument("--wait-max", type=float, default=3.0)
    parser.add_argument("--spawn-s", type=float, default=10.0, help="seconds to start the users")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each load (<= 300)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--contenders", nargs="+", help="default: rightsize rightsize-file bare [rightsize@BASE]")
    parser.add_argument("--base", help="also measure locust/ of this git revision (e.g. the one before a change)")
    parser.add_argument("--url", help="a server already up on 127.0.0.1 (default: start the API image)")
    parser.add_argument("--path", default="/predict", help="the path posted to")
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--server-cpus", type=float, default=1.0)
    parser.add_argument("--json-out", type=Path, help="also write every figure as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 300 or args.duration < args.spawn_s + 20:
        parser.error("--duration must be in (0, 300] seconds and at least --spawn-s + 20")
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("load goes to the loopback interface only")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1-10")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a socket per user, as the locust role allows
    if soft != resource.RLIM_INFINITY and soft < args.users + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard == resource.RLIM_INFINITY
                                                    else min(hard, args.users + 1000), hard))
    work = Path(tempfile.mkdtemp(prefix="rs-bench-gen-"))
    server = None
    try:
        available = contenders(work, args.base)
        names = args.contenders or list(available)
        unknown = [n for n in names if n not in available]
        if unknown:
            parser.error(f"unknown contender(s) {', '.join(unknown)}; known: {', '.join(available)}")
        url = args.url
        if not url:
            server = Server(args.image, args.server_cpus)
            url = server.url
        if not wait_healthy(url, 60):
            raise SystemExit(f"{url}/health did not answer 200 within 60 s")
        results = {name: [] for name in names}
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                print(f"round {round_ + 1}: {name}, {args.users} users for {args.duration:g} s ...", flush=True)
                results[name].append(run_one(name, available[name], url, args, work))
    finally:
        if server:
            server.remove()
        shutil.rmtree(work, ignore_errors=True)
    print_rounds(results)
    med = medians(results)
    print_medians(med, args.rounds)
    if args.json_out:
        args.json_out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                             "rounds": results, "medians": med}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
