"""Both search strategies side by side in one run: runs (probes + confirmation), wall time, answer.

    .venv/bin/python -m bench.search                  # bisect then model, once each
    .venv/bin/python -m bench.search --rounds 2       # alternating order, twice each
    .venv/bin/python -m bench.search --json-out /tmp/search.json

The same search as tests/integration/test_search.py (which runs the model strategy alone, to keep
`make test` short): the V2 fixture image (tests/fixtures/v2server, built here) burning --work-ms of CPU
per request, 400 users of between(1, 3) in two steps of 20 s, `sweep.yml --skip-tags provision` on
the default inventory (this machine provisioned already). Every sweep goes to 127.0.0.1 and is bounded
by its probe budget (search_max_probes) and its steps. A benchmark prints figures; it asserts nothing.
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIXTURE = REPO / "tests" / "fixtures" / "v2server"
IMAGE = "rightsize/test-v2server:latest"
V2_VARS = (f"api_image={IMAGE} api_port=9000 api_health_path=/v2/health/ready "
           "api_predict_path=/v2/models/iris/infer")
STRATEGIES = ("bisect", "model")


def search_args(strategy: str, users: int, work_ms: float) -> list[str]:
    """The sweep.yml extra-vars of one strategy's search (the README quotes them)."""
    return ["-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
            "-e", json.dumps({"api_env": {"WORK_MS": f"{work_ms:g}"}}),
            "-e", (f"search=true users={users} users_step={users // 2} step_duration=20 report_warmup_s=5 "
                   f"search_cpu_max=2 search_max_probes=5 inference_api_pids_limit=1024 "
                   f"search_strategy={strategy}")]


def build_fixture() -> None:
    local = subprocess.run(["docker", "image", "inspect", "local/python:3.11-slim"], capture_output=True)
    base = "local/python:3.11-slim" if local.returncode == 0 else "python:3.11-slim"
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE, str(FIXTURE)],
                   check=True, capture_output=True, timeout=600)


def run_search(strategy: str, results: Path, run_id: str, args) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    started = time.time()
    done = subprocess.run([str(BIN / "ansible-playbook"), "--skip-tags", "provision", "sweep.yml",
                           *search_args(strategy, args.users, args.work_ms),
                           "-e", f"results_dir={results} run_id={run_id}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.time() - started
    run = results / run_id
    if done.returncode != 0 or not (run / "summary.json").is_file():
        raise SystemExit(f"{strategy}: sweep failed ({done.returncode}):\n{done.stdout[-3000:]}")
    search = json.loads((run / "summary.json").read_text())["search"]
    loads = sorted(p.name for p in run.iterdir() if p.is_dir() and (p / "variant.json").is_file())
    return {"strategy": strategy, "runs": len(loads), "loads": loads, "wall_s": round(wall, 1),
            "cpu": search.get("cpu"), "mem": search.get("mem"), "fallback": search.get("fallback"),
            "skipped": [s["cpu"] for s in search.get("skipped") or []]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--work-ms", type=float, default=3.2, help="the fixture's CPU burn per request")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    build_fixture()
    measured = []
    with tempfile.TemporaryDirectory(prefix="rs-bench-search-") as tmp:
        for round_ in range(args.rounds):
            order = STRATEGIES if round_ % 2 == 0 else STRATEGIES[::-1]
            for strategy in order:
                figures = run_search(strategy, Path(tmp), f"bench-search-{strategy}-{round_ + 1}", args)
                measured.append(figures)
                minutes, seconds = divmod(round(figures["wall_s"]), 60)
                print(f"round {round_ + 1} {strategy:6} {figures['runs']} runs {figures['loads']}  "
                      f"{minutes} min {seconds:02d} s  answer {figures['cpu']} CPU / {figures['mem']}  "
                      f"skipped {figures['skipped']}  fallback {figures['fallback']}", flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(measured, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
