"""The time a variant spends around its load, two revisions side by side in one run.

    python -m bench.overhead [--base a7830a4] [--rounds 2] [--sweep "cpu=0.5 mem=512M profile=smoke"]

Runs the same short sweep (`sweep.yml --skip-tags provision` on the default inventory, this machine
provisioned already) alternately from a `git worktree` of BASE and from this checkout, ROUNDS times
each, and prints per run and as medians:
  pre  = first step's start (steps.csv) - the variant's started_at (variant.json)
  post = the playbook's end - the last step's planned end
so both revisions are measured to the same point (after their final report render), whatever their
variant.json records. Load goes to 127.0.0.1 only; each sweep is bounded by its steps.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sweep(root: Path, results: Path, run_id: str, extra: str) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    started = time.time()
    done = subprocess.run([str(BIN / "ansible-playbook"), "--skip-tags", "provision", "sweep.yml", "-e", extra,
                           "-e", f"results_dir={results} run_id={run_id}"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{root}: sweep failed ({done.returncode}):\n{done.stdout[-3000:]}")
    [variant] = [p for p in (results / run_id).iterdir() if (p / "variant.json").is_file()]
    meta = json.loads((variant / "variant.json").read_text())
    with open(variant / "steps.csv", newline="") as handle:
        steps = list(csv.DictReader(handle))
    variant_start = datetime.fromisoformat(meta["started_at"].replace("Z", "+00:00")).timestamp()
    first, last = float(steps[0]["start_ts"]), float(steps[-1]["planned_end_ts"])
    return {"pre_s": first - variant_start, "post_s": ended - last, "playbook_s": ended - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="a7830a4", help="the revision to compare with (git rev)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sweep", default="cpu=0.5 mem=512M profile=smoke")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rs-overhead-"))
    base = work / "base"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.base],
                   check=True, capture_output=True)
    figures = {"base": [], "head": []}
    try:
        for round_ in range(1, args.rounds + 1):
            for label, root in (("base", base), ("head", REPO)):
                run = sweep(root, work / f"results-{label}", f"{label}-{round_}", args.sweep)
                figures[label].append(run)
                print(f"round {round_} {label}: pre {run['pre_s']:.1f} s, post {run['post_s']:.1f} s, "
                      f"overhead {run['pre_s'] + run['post_s']:.1f} s, playbook {run['playbook_s']:.1f} s",
                      flush=True)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    med = {label: {k: statistics.median(r[k] for r in runs) for k in ("pre_s", "post_s", "playbook_s")}
           for label, runs in figures.items()}
    for label in ("base", "head"):
        m = med[label]
        print(f"median {label} ({args.base if label == 'base' else 'this checkout'}): pre {m['pre_s']:.1f} s, "
              f"post {m['post_s']:.1f} s, overhead {m['pre_s'] + m['post_s']:.1f} s, playbook {m['playbook_s']:.1f} s")
    ratio = (med["head"]["pre_s"] + med["head"]["post_s"]) / (med["base"]["pre_s"] + med["base"]["post_s"])
    print(f"overhead head / base = {ratio:.2f}")


if __name__ == "__main__":
    main()
