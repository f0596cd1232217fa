"""repeats=2 end to end on the local inventory: the variant runs twice, redeployed each time, repeat 2
in <variant>/repeats/2/; the summary pools both and lists them; the report prints the spread."""
import json
from datetime import datetime

import pytest

from collect import compute, load
from collect.settings import settings_from_run
from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary

pytestmark = pytest.mark.integration

NAME = "c0.5-m512M-r1"
# entry_port: off the default 8000, which a variant left up by `--tags deploy` may hold
SWEEP = "cpu=0.5 mem=512M users=60 users_step=60 step_duration=20 repeats=2 entry_port=18461"


def stamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_variant_repeated_twice(tmp_path, docker_ready):
    result = ansible_playbook("sweep.yml", "-e", SWEEP, "-e", f"results_dir={tmp_path} run_id=it-repeats")
    assert result.returncode == 0, result.stdout[-4000:]
    run = tmp_path / "it-repeats"
    first, second = run / NAME, run / NAME / "repeats" / "2"
    # one folder per repeat, each with its own variant.json and start time, both measured
    metas = [json.loads((d / "variant.json").read_text()) for d in (first, second)]
    assert [m["repeat"] for m in metas] == [1, 2] and [m["status"] for m in metas] == ["done", "done"]
    assert stamp(metas[1]["started_at"]) >= stamp(metas[0]["ended_at"].split(".")[0] + "Z")
    for d in (first, second):
        for name in ("steps.csv", "master.json", "target/samples.csv", "target/containers.json"):
            assert (d / name).is_file(), d / name
        assert list((d / "latency").glob("localhost-*.csv"))
    # redeployed: each repeat's API container started anew
    started = [json.loads((d / "target/containers.json").read_text())[0]["started_at"] for d in (first, second)]
    assert started[0] != started[1]
    # the summary: one variant (a repeat is not an unplanned variant), its repeats listed, steps pooled
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    [variant] = summary["variants"]
    assert variant["name"] == NAME
    assert [r["dir"] for r in variant["repeats"]] == [NAME, f"{NAME}/repeats/2"]
    assert all(r["rps_at_target"] > 0 and r["p95_ms_at_target"] is not None for r in variant["repeats"])
    alone = []
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["vars"]["repeats"] == 2
    for folder in (NAME, f"{NAME}/repeats/2"):
        res = compute.variant_result(load.load_variant(run, folder), run_json, settings_from_run(run_json))
        alone.append(res["steps"][-1])
    [pooled] = variant["steps"]
    assert pooled["users"] == 60 and pooled["requests"] == sum(st["requests"] for st in alone) > 0
    assert pooled["duration_s"] == sum(st["duration_s"] for st in alone)
    # it passes only when it passes in both repeats
    expected = (True if all(st["slo_pass"] is True for st in alone) else
                False if any(st["valid"] and st["slo_pass"] is False for st in alone) else None)
    assert pooled["slo_pass"] is expected
    assert variant["verdict"] in ("pass", "fail", "invalid")
    # the report's spread line at the target users
    report = (run / "consolidated_report.md").read_text()
    low, high = sorted(r["rps_at_target"] for r in variant["repeats"])
    assert f"- {NAME}: 2 repeats at 60 users: RPS {low:.1f}–{high:.1f} (spread" in report
    assert rightsize_containers() == []
