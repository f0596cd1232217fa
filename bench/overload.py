"""Overload at 5x capacity, side by side: the API's own in-flight bound vs nginx shedding in front.

    .venv/bin/python -m bench.overload                    # --cpus 0.1 0.2, 5 s of overload each
    .venv/bin/python -m bench.overload --cpus 0.1 --limit 32 --json-out /tmp/overload.json

For each --cpus value and each layout it starts the API image (rightsize/inference-api:latest,
built by `make provision`) limited to that CPU, measures its capacity (200s per second under a
load that keeps --api-max-in-flight connections busy), then offers 5x that rate for --duration seconds and prints what
came back: statuses, p50/p95/p99 of the 200s and of the 503s (open loop: from each request's
scheduled send time, bench/openloop.py), and whether the generator kept its schedule.

  direct  the API's port published on 127.0.0.1: it sheds with its own bound
          (API_MAX_IN_FLIGHT = --api-max-in-flight)
  nginx   nginx in front, configured by the real templates/nginx.conf.j2 with
          inference_api_proxy_max_in_flight = --limit (what api_proxy=always deploys)

Traffic goes to 127.0.0.1 only; every load is bounded by --duration. Containers are removed at
the end (also on Ctrl-C). A benchmark prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2

REPO = Path(__file__).resolve().parents[1]
if not __package__:  # run as a file, sys.path[0] is bench/ (where `api` is bench/api.py): say how
    sys.exit("run it from the repository root as a module: .venv/bin/python -m bench.overload --help")
from api.schemas import EXAMPLE_ROW  # noqa: E402
from bench import openloop  # noqa: E402

IMAGE = "rightsize/inference-api:latest"
NGINX_IMAGE = "rightsize/nginx:latest"
PREFIX = f"rs-bench-overload-{os.getpid()}"


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])} ... failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def nginx_conf(limit: int) -> str:
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "templates"))
    return template.get_template("nginx.conf.j2").render(
        inference_api_variant={"name": "bench"}, inference_api_port=8000,
        inference_api_proxy_max_in_flight=limit)


def fail_unless_healthy(url: str, names: list[str]) -> None:
    if not openloop.wait_healthy(url, 90):
        logs = "\n".join(docker("logs", "--tail", "20", name, check=False) for name in names)
        raise SystemExit(f"{url}/health never answered 200 within 90 s:\n{logs}")


def start(layout: str, cpus: float, limit: int, api_bound: int, workdir: Path, port: int) -> list[str]:
    """The containers of one layout; returns their names (the last one is published on port)."""
    network = f"{PREFIX}-net"
    docker("network", "create", network, check=False)
    api = f"{PREFIX}-api"
    publish = ["-p", f"127.0.0.1:{port}:8000"] if layout == "direct" else []
    # direct: the API sheds with its own bound; nginx: the API as api_proxy=always deploys it
    # (its default bound, above nginx's), so only nginx sheds
    bound = ["-e", f"API_MAX_IN_FLIGHT={api_bound}"] if layout == "direct" else []
    docker("run", "-d", "--name", api, "--network", network, "--network-alias", "api",
           "--cpus", str(cpus), "--memory", "256m", "--read-only", "--tmpfs", "/tmp",
           "--cap-drop", "ALL", "--user", "10001:10001", *bound, *publish, IMAGE)
    if layout == "direct":
        return [api]
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(limit))
    conf.chmod(0o644)
    lb = f"{PREFIX}-lb"
    docker("run", "-d", "--name", lb, "--network", network, "--read-only", "--tmpfs", "/tmp",
           "--cap-drop", "ALL", "-v", f"{conf}:/etc/nginx/nginx.conf:ro", "-p", f"127.0.0.1:{port}:8080",
           NGINX_IMAGE)
    return [api, lb]


def remove(names: list[str]) -> None:
    for name in names:
        docker("rm", "-f", name, check=False)
    docker("network", "rm", f"{PREFIX}-net", check=False)


def measure(url: str, body: Path, duration: float, api_bound: int, probe_rate: float) -> dict:
    openloop.run(f"{url}/predict", 100, 2, body, connections=32)  # warm-up of a cold worker
    # capacity: as many connections as the API's bound (none refused), kept busy by a rate above
    # what it serves; 200s per second, the drain after the last send included
    probe = openloop.run(f"{url}/predict", probe_rate, 3, body, connections=api_bound)
    capacity = probe["ok_rate"]
    # up to 60 s for the answers: a layout that cannot keep up still answers everything it got
    storm = openloop.run(f"{url}/predict", 5 * capacity, duration, body, connections=512, drain=60)
    time.sleep(1)
    after = openloop.run(f"{url}/predict", capacity / 4, 3, body, connections=32)
    by_status = storm["latency_by_status"]
    return {
        "capacity_rps": round(capacity),
        "offered_rps": round(5 * capacity),
        "generator_kept_up": storm["achieved_rate"] >= 0.9 * 5 * capacity,
        "answered_rps": round(storm["achieved_rate"]),
        "statuses": storm["statuses"],
        "shed_pct": round(100 * storm["statuses"].get("503", 0) / max(1, storm["sent"]), 1),
        "lost_connections": storm["lost_connections"],
        "ok_ms": by_status.get("200"),
        "shed_ms": by_status.get("503"),
        "recovered_ok_pct": round(100 * after["statuses"].get("200", 0) / max(1, after["sent"]), 1),
    }


def row(cpus: float, layout: str, result: dict) -> str:
    def ms(figures: dict | None, key: str) -> str:
        return "-" if not figures else f"{figures[key]:,.1f}"

    return (f"| {cpus} | {layout} | {result['capacity_rps']:,} | {result['offered_rps']:,}"
            f"{'' if result['generator_kept_up'] else ' (generator short)'} | {result['answered_rps']:,} | "
            f"{result['shed_pct']} | {ms(result['shed_ms'], 'p50_ms')} / {ms(result['shed_ms'], 'p95_ms')} / "
            f"{ms(result['shed_ms'], 'p99_ms')} | {ms(result['ok_ms'], 'p50_ms')} / {ms(result['ok_ms'], 'p95_ms')} | "
            f"{', '.join(sorted(result['statuses']))} | {result['recovered_ok_pct']} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--limit", type=int, default=32, help="nginx in-flight bound (api_proxy_max_in_flight)")
    parser.add_argument("--api-max-in-flight", type=int, default=16, help="the API's own bound (direct layout)")
    parser.add_argument("--probe-rate", type=float, default=6000, help="rate asked while measuring capacity")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of overload per measurement")
    parser.add_argument("--port", type=int, default=18321)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60:
        parser.error("--duration must be in (0, 60] seconds")
    results = []
    print("| CPUs | layout | capacity 200/s | offered 5x | answered/s | shed % | 503 p50 / p95 / p99 ms "
          "| 200 p50 / p95 ms | statuses | 200s after % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        body = workdir / "row.json"
        body.write_text(json.dumps(EXAMPLE_ROW))
        for cpus in args.cpus:
            for layout in ("direct", "nginx"):
                names = []
                try:
                    names = start(layout, cpus, args.limit, args.api_max_in_flight, workdir, args.port)
                    url = f"http://127.0.0.1:{args.port}"
                    fail_unless_healthy(url, names)
                    result = measure(url, body, args.duration, args.api_max_in_flight, args.probe_rate)
                finally:
                    remove(names or [f"{PREFIX}-api", f"{PREFIX}-lb"])
                results.append({"cpus": cpus, "layout": layout, "limit": args.limit,
                                "api_max_in_flight": args.api_max_in_flight, **result})
                print(row(cpus, layout, result), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
