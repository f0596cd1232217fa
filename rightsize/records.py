"""run.json and variant.json: the records the playbooks write and collect/ reads back.

One function builds each (the filters rs_run_record and rs_variant_record), so that each value is
typed once, by its variable's kind in rightsize/variables.py, instead of by a cast in a Jinja
block; tests round-trip what they build through collect/load.py. Formats: docs/results-format.md.
"""
from __future__ import annotations

from datetime import datetime, timezone

from rightsize.facts import host_facts, loosened_hardening
from rightsize.payloads import payload_info
from rightsize.values import search_replicas, whole_number
from rightsize.variables import RUN_COST, RUN_REPORT, RUN_SLO, VARIABLES, typed

BUILT_IMAGE = "rightsize/inference-api:latest"

# run.json "vars": the public variables a run records, for the report and for re-reading a run
# (the capacity model reads locust_wait_*, search_* and capacity_predict_users from here)
RUN_VARS = (
    "profile", "cpu", "mem", "replicas", "users", "users_step", "step_duration", "api_image", "api_registry",
    "api_registry_username", "api_proxy",
    "api_proxy_max_in_flight", "keep", "repeats", "locust_wait_min", "locust_wait_max", "locust_workers_per_host",
    "offline_images", "search", "search_cpu_min", "search_cpu_max", "search_resolution", "search_probe_mem",
    "search_max_probes", "search_mem_target_pct", "search_mem_round", "search_replicas",
    "search_strategy", "search_probe_shape", "search_ramp_s", "search_hold_s",
    "capacity_predict_users",
)


def utc_now() -> str:
    """2026-11-25T17:10:00.123456Z: the time stamps of variant.json."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def _value(settings, name):
    """A public variable's value in its kind's type; its table default when the run lacks it."""
    var = VARIABLES[name]
    raw = settings.get(name, var.default if not var.templated else None)
    return typed(name, raw)


def run_record(settings, *, run_id, plan, expected_workers, load_path, hostvars, groups, git_commit="",
               ansible_version="", locust_version="", started_at=None) -> dict:
    """run.json: the run's settings, plan and manifest.

    settings: the variables of the host preflight runs on (hostvars[inventory_hostname]: the public
    variables after -e); plan: preflight's plan (rs_plan_variants); load_path: preflight's sizing of
    it; hostvars/groups: the inventory's, for each target and loadgen host's facts."""
    value = lambda name: _value(settings, name)  # noqa: E731
    run_vars = {name: value(name) for name in RUN_VARS}
    run_vars["search_replicas"] = search_replicas(settings.get("search_replicas", ""), run_vars["replicas"])
    run_vars["expected_workers"] = whole_number(expected_workers)
    hosts = list(dict.fromkeys([*groups.get("target", []), *groups.get("loadgen", [])]))
    api_image = value("api_image") or ""
    return {
        "run_id": str(run_id),
        "started_at": started_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target_users": run_vars["users"],
        "slo": {key: value(name) for key, name in RUN_SLO.items()},
        "report": {key: value(name) for key, name in RUN_REPORT.items()},
        "cost": {key: value(name) for key, name in RUN_COST.items()},
        "vars": run_vars,
        "variants": [item["name"] for item in plan if not item.get("skip")],
        "skipped": [{"name": item["name"], "reason": item["skip"]} for item in plan if item.get("skip")],
        "manifest": {
            "service": {
                "image": api_image or f"{BUILT_IMAGE} (built from api/)",
                # name@sha256:... of the image pushed or pulled through a registry; null for a local
                # image (with_image fills it once provisioning has published or pulled it)
                "image_digest": None,
                "port": value("api_port"),
                "health_path": value("api_health_path"),
                "predict_path": value("api_predict_path"),
                "payloads": payload_info(settings.get("api_payloads") or ""),
                "env_keys": list((settings.get("api_env") or {}).keys()),  # never the values
                "model_uri": str(settings.get("api_model_uri") or "") or None,  # MLflow registered model
                "hardening": {"user": value("api_user"), "read_only": value("api_read_only"),
                              "tmpfs": list(settings.get("api_tmpfs") or [])},
                "loosened": loosened_hardening(settings.get("api_user", ""), settings.get("api_read_only", True),
                                               settings.get("api_tmpfs") or []),
            },
            "load_path": load_path,
            "git_commit": str(git_commit or "").strip(),
            "ansible_version": str(ansible_version),
            "locust_version": str(locust_version),
            "hosts": {name: host_facts(hostvars[name], groups) for name in hosts},
        },
    }


def with_image(record, image="", digest=None) -> dict:
    """run.json once the image is known: the name pushed or pulled through a registry (image) and
    its repository digest (name@sha256:..., None for a local image). A new dict; record is kept."""
    service = dict((record.get("manifest") or {}).get("service") or {})
    if image:
        service["image"] = str(image)
    service["image_digest"] = str(digest) if digest else None
    return {**record, "manifest": {**(record.get("manifest") or {}), "service": service}}


def variant_record(variant, *, status, errors=(), started_at, image, users, users_step, step_duration, steps,
                   entrypoint, predict_path, health_path, api_port, payloads="", expected_workers=None,
                   loadgen_hosts=(), target_host="", image_id=None, service_health=None, ended=False,
                   recorded_at=None) -> dict:
    """variant.json: one variant (or search probe) of the plan as it ran.

    status: running while the load runs, then done or failed; errors: what went wrong on any host
    (a list; the report's reasons show them); ended: the variant is removed and the report
    rendered, so `ended_at` is now (the overhead after the last step ends there)."""
    now = recorded_at or utc_now()
    return {
        "name": variant["name"],
        "dir": variant.get("dir") or variant["name"],
        "kind": variant.get("kind") or "variant",
        "repeat": whole_number(variant.get("repeat") or 1),  # 1, or k of results/<run>/<variant>/repeats/<k>/
        "cpu": float(variant["cpu"]),
        "mem": str(variant["mem"]),
        "mem_bytes": whole_number(variant["mem_bytes"]),
        "replicas": whole_number(variant["replicas"]),
        "image": str(image),
        "image_id": image_id or None,
        "service_health": service_health or {},
        "users": whole_number(users),
        "users_step": whole_number(users_step),
        "step_duration": whole_number(step_duration),
        "steps": [whole_number(users) for users in steps],
        "entrypoint": str(entrypoint),
        "predict_path": str(predict_path),
        "health_path": str(health_path),
        "api_port": whole_number(api_port),
        "payloads": payload_info(payloads or ""),
        "expected_workers": None if expected_workers in (None, "") else whole_number(str(expected_workers).strip()),
        "loadgen_hosts": list(loadgen_hosts),
        "target_host": str(target_host),
        "status": str(status).strip(),
        "errors": [str(error) for error in errors or []],
        "started_at": str(started_at),
        "recorded_at": now,
        "ended_at": now if ended else None,
        # a search probe's load shape (docs/search.md): climb the steps, or ramp then hold one window
        "shape": variant.get("shape") or "ramp",
        "ramp_s": variant.get("ramp_s"),
        "hold_s": variant.get("hold_s"),
        "warmup_s": variant.get("warmup_s"),
    }
