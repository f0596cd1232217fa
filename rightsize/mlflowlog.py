"""MLflow as rightsize's model source and results log (the seed's optional stack).

    python -m rightsize.mlflowlog check URI [--model-uri models:/covertype/1]
    python -m rightsize.mlflowlog fetch URI models:/covertype/1 CACHE_DIR   # prints the model folder

* check: the tracking server answers (GET /health, then one REST call through the client) and, with
  --model-uri, that model version or alias exists. Preflight and the mlflow play run it before any
  load; exit 2 with one line naming the server (or the model) otherwise.
* fetch: downloads a registered model version's files (the folder `api/train.py --register` logged)
  into CACHE_DIR/<name>/<version>/ once, and adds registered_name / registered_version / registered_uri
  to its metadata.json, which the API's /health shows and the report's manifest records.
* log_run (collect/report.py RUN --mlflow URI): one parent MLflow run per run_id, one child per
  variant, per repeat and per search probe (key: its folder under results/<run_id>/), re-logged
  whole when the report is rendered again; see run_plan().

Pure parts (URI parsing, what each run logs) are unit-tested; the client calls are tested against a
real tracking server on MariaDB (tests/integration/test_mlflow_stack.py).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

MODEL_URI = re.compile(r"models:/(?P<name>[A-Za-z0-9._-]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[A-Za-z0-9_-]+))")
REGISTERED_NAME = "covertype"
TAG_RUN_ID = "rightsize.run_id"
TAG_KEY = "rightsize.key"        # a child's folder under results/<run_id>/ (variant, repeat or probe)
TAG_KIND = "rightsize.kind"      # parent, variant, repeat or probe
# step metric -> summary.json step key; every one is logged with step = the step's users
STEP_METRICS = {
    "rps": "rps", "p50_ms": "p50_ms", "p95_ms": "p95_ms", "p99_ms": "p99_ms",
    "failure_rate": "failure_rate", "cpu_pct": "cpu_pct", "cpu_pct_peak": "cpu_pct_peak",
    "mem_pct": "mem_pct", "mem_pct_peak": "mem_pct_peak", "generator_cpu_pct": "generator_cpu_pct",
    "valid": "valid", "slo_pass": "slo_pass",
}
RUN_ARTIFACTS = ("consolidated_report.md", "summary.json", "run.json")


class MlflowError(Exception):
    """A tracking server that does not answer, or a model that is not there: one line to show."""


# ---------------------------------------------------------------- pure parts


def parse_model_uri(uri: str) -> dict:
    """models:/covertype/1 -> {name, version: "1", alias: None}; models:/covertype@prod -> alias."""
    match = MODEL_URI.fullmatch(str(uri or "").strip())
    if not match:
        raise MlflowError(f"api_model_uri={uri!r}: expected models:/NAME/VERSION or models:/NAME@ALIAS")
    return match.groupdict()


def group_uri(groups: dict, hostvars: dict, port) -> str:
    """http://<address>:<port> of the `mlflow` group's first host (its ansible_host), or "" when
    the inventory has no such group or it is empty."""
    hosts = list((groups or {}).get("mlflow") or [])
    if not hosts:
        return ""
    address = (hostvars.get(hosts[0]) or {}).get("ansible_host") or hosts[0]
    if ":" in str(address) and not str(address).startswith("["):
        address = f"[{address}]"  # an IPv6 address
    return f"http://{address}:{int(port)}"


def step_metrics(steps: list[dict]) -> list[tuple[str, float, int]]:
    """(key, value, step=users) for every step's figure that is known (None is left out; booleans
    become 1.0/0.0 so valid and slo_pass plot as histories too)."""
    out = []
    for st in steps:
        users = int(st["users"])
        for key, source in STEP_METRICS.items():
            value = st.get(source)
            if value is None:
                continue
            out.append((key, float(value), users))
    return out


def child_record(entry: dict, run_vars: dict) -> dict:
    """What one child run logs. entry: a variant, repeat or probe as collect/report.py gives it
    (key, kind, name, cpu, mem, replicas, image, image_id, model, verdict, steps, reasons)."""
    model = entry.get("model") or {}
    steps = entry.get("steps") or []
    target = next((st for st in steps if int(st["users"]) == int(run_vars.get("users") or 0)), None)
    params = {
        "variant": entry["name"], "cpu": entry["cpu"], "mem": entry["mem"], "replicas": entry["replicas"],
        "users": run_vars.get("users"), "users_step": run_vars.get("users_step"),
        "step_duration": run_vars.get("step_duration"), "profile": run_vars.get("profile"),
        "image": entry.get("image") or "", "image_digest": entry.get("image_id") or "unknown",
        "model_version": model.get("version") or "unknown",
        "model_registered": (f"{model['registered_name']}/{model['registered_version']}"
                             if model.get("registered_name") else "none (baked into the image)"),
    }
    tags = {
        TAG_KEY: entry["key"], TAG_KIND: entry["kind"], "verdict": entry["verdict"],
        # valid: the step at the target users was measured validly (the verdict's evidence holds)
        "valid": str(bool(target and target.get("valid"))).lower(),
    }
    if entry.get("reasons"):
        tags["reasons"] = "; ".join(entry["reasons"])[:4900]
    return {"name": entry["key"], "params": {k: str(v) for k, v in params.items() if v is not None},
            "tags": tags, "metrics": step_metrics(steps)}


def parent_record(run_id: str, run: dict, summary: dict) -> dict:
    run_vars = run.get("vars") or {}
    params = {k: run_vars.get(k) for k in ("profile", "users", "users_step", "step_duration", "search")}
    params["target_users"] = summary.get("target_users")
    minimal = summary.get("minimal") or {}
    tags = {TAG_RUN_ID: run_id, TAG_KIND: "parent", "valid": str(bool(summary.get("valid"))).lower(),
            "git_commit": (run.get("manifest") or {}).get("git_commit") or ""}
    if isinstance(minimal, dict) and minimal.get("name"):
        tags["minimal"] = str(minimal["name"])
    return {"name": run_id, "params": {k: str(v) for k, v in params.items() if v is not None}, "tags": tags}


# ---------------------------------------------------------------- the server


def _client(uri: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:  # pragma: no cover - the controller venv has mlflow-skinny
        raise MlflowError(f"{exc}: the MLflow client is in the controller's environment (make venv)") from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_server(uri: str, timeout: float = 5.0) -> None:
    """MlflowError unless the tracking server at uri answers /health and its REST API."""
    base = str(uri).rstrip("/")
    try:
        with urllib.request.urlopen(base + "/health", timeout=timeout) as answer:  # noqa: S310 - http(s) only
            if answer.status != 200:
                raise MlflowError(f"MLflow tracking server {uri}: /health answered {answer.status}")
    except urllib.error.HTTPError as exc:
        raise MlflowError(f"MLflow tracking server {uri}: /health answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MlflowError(f"MLflow tracking server {uri} does not answer ({reason}); nothing was run. "
                          "Start it, fix mlflow_tracking_uri, or leave it empty") from None
    import os
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(timeout, 5))))
    try:
        _client(uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any client failure is the server's answer
        raise MlflowError(f"MLflow tracking server {uri} answers /health but not its API: {exc}") from None


def resolve_model(uri: str, model_uri: str):
    """The ModelVersion that model_uri names; MlflowError naming it when there is none."""
    parts = parse_model_uri(model_uri)
    client = _client(uri)
    try:
        if parts["alias"]:
            return client.get_model_version_by_alias(parts["name"], parts["alias"])
        return client.get_model_version(parts["name"], parts["version"])
    except Exception as exc:  # noqa: BLE001 - RESOURCE_DOES_NOT_EXIST and the like
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MlflowError(f"api_model_uri={model_uri!r}: no such registered model version on {uri} "
                          f"({text}); nothing was deployed") from None


def fetch_model(uri: str, model_uri: str, cache_dir: str | Path) -> tuple[Path, bool]:
    """(the model folder, fetched now?): CACHE_DIR/<name>/<version>/ holding forest.npz and a
    metadata.json that names the registered model and version."""
    version = resolve_model(uri, model_uri)
    dest = Path(cache_dir) / version.name / str(version.version)
    marker = dest / "metadata.json"
    if marker.is_file() and json.loads(marker.read_text()).get("registered_version") == str(version.version):
        return dest, False
    import mlflow.artifacts

    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        # the version's source: the run's artifact folder api/train.py --register logged
        # (mlflow-artifacts:/..., served by the tracking server); a logged-model source: its run's model/
        if str(version.source or "").startswith("models:/") and version.run_id:
            _client(uri).download_artifacts(version.run_id, "model", str(tmp))
        else:
            mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(tmp), tracking_uri=uri)
    except Exception as exc:  # noqa: BLE001
        shutil.rmtree(tmp, ignore_errors=True)
        raise MlflowError(f"{model_uri}: could not download version {version.version} from {uri}: {exc}") from None
    root = next((p.parent for p in sorted(tmp.rglob("forest.npz"))), None)
    if root is None or not (root / "metadata.json").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise MlflowError(f"{model_uri}: version {version.version} holds no forest.npz + metadata.json "
                          "(log it with python -m api.train --register)")
    metadata = json.loads((root / "metadata.json").read_text())
    metadata.update(registered_name=version.name, registered_version=str(version.version),
                    registered_uri=model_uri, registered_run_id=version.run_id or "")
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    root.rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    return dest, True


# ---------------------------------------------------------------- the results log


def _find_runs(client, experiment_id: str, query: str):
    return client.search_runs([experiment_id], filter_string=query, max_results=1000)


def log_run(run_dir: str | Path, uri: str, experiment: str, entries: list[dict]) -> dict:
    """Log results/<run_id> to MLflow: the parent (artifacts: report, summary.json, run.json,
    plots/) and one child per entry. A child already logged under the same key is replaced, so
    rendering the report again after each variant leaves one child per folder.
    Returns {"parent": run id, "children": {key: run id}, "experiment_id": ...}."""
    from mlflow.entities import Metric, Param, RunTag

    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    run_id = str(run.get("run_id") or run_dir.name)
    check_server(uri)
    client = _client(uri)
    exp = client.get_experiment_by_name(experiment)
    experiment_id = exp.experiment_id if exp else client.create_experiment(experiment)
    parent_info = parent_record(run_id, run, summary)
    found = _find_runs(client, experiment_id, f"tags.`{TAG_RUN_ID}` = '{run_id}' and tags.`{TAG_KIND}` = 'parent'")
    if found:
        parent = found[0]
    else:
        parent = client.create_run(experiment_id, run_name=parent_info["name"], tags=parent_info["tags"])
        client.log_batch(parent.info.run_id, params=[Param(k, v) for k, v in parent_info["params"].items()])
    parent_id = parent.info.run_id
    client.log_batch(parent_id, tags=[RunTag(k, v) for k, v in parent_info["tags"].items()])
    children = {}
    existing = {r.data.tags.get(TAG_KEY): r for r in
                _find_runs(client, experiment_id, f"tags.`mlflow.parentRunId` = '{parent_id}'")}
    run_vars = run.get("vars") or {}
    for entry in entries:
        record = child_record(entry, run_vars)
        old = existing.get(entry["key"])
        if old is not None:
            client.delete_run(old.info.run_id)
        tags = dict(record["tags"], **{"mlflow.parentRunId": parent_id, TAG_RUN_ID: run_id})
        child = client.create_run(experiment_id, run_name=record["name"], tags=tags)
        child_id = child.info.run_id
        client.log_batch(child_id, params=[Param(k, v) for k, v in record["params"].items()])
        metrics = [Metric(k, v, 0, step) for k, v, step in record["metrics"]]
        for i in range(0, len(metrics), 900):  # the REST API takes at most 1000 per batch
            client.log_batch(child_id, metrics=metrics[i:i + 900])
        plots = run_dir / "plots"
        for png in sorted(plots.glob(f"{entry['name']}*.png")) if entry["kind"] != "probe" else []:
            client.log_artifact(child_id, str(png), artifact_path="plots")
        client.set_terminated(child_id, "FINISHED")
        children[entry["key"]] = child_id
    for name in RUN_ARTIFACTS:
        if (run_dir / name).is_file():
            client.log_artifact(parent_id, str(run_dir / name))
    if (run_dir / "plots").is_dir():
        client.log_artifacts(parent_id, str(run_dir / "plots"), artifact_path="plots")
    client.set_terminated(parent_id, "FINISHED")
    return {"parent": parent_id, "children": children, "experiment_id": experiment_id}


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rightsize.mlflowlog", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="the tracking server answers (and the model version exists)")
    check.add_argument("uri")
    check.add_argument("--model-uri", default="")
    fetch = sub.add_parser("fetch", help="download a registered model version; prints its folder")
    fetch.add_argument("uri")
    fetch.add_argument("model_uri")
    fetch.add_argument("cache_dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            if args.model_uri:
                parse_model_uri(args.model_uri)
            check_server(args.uri)
            if args.model_uri:
                version = resolve_model(args.uri, args.model_uri)
                print(f"{args.uri}: answers; {args.model_uri} is {version.name} version {version.version}")
            else:
                print(f"{args.uri}: answers")
            return 0
        check_server(args.uri)
        folder, fetched = fetch_model(args.uri, args.model_uri, args.cache_dir)
        print(json.dumps({"dir": str(folder), "fetched": fetched,
                          **{k: v for k, v in json.loads((folder / "metadata.json").read_text()).items()
                             if k.startswith("registered_") or k == "version"}}))
        return 0
    except MlflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
