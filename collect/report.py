#!/usr/bin/env python3
"""Write summary.json, consolidated_report.md and plots/ for one run directory.

    python collect/report.py [RUN_DIR]          # default: the newest run under <repo>/results
    python collect/report.py RUN_DIR --fail-on-slo   # exit 3 unless every variant passes
    python collect/report.py --compare BASE NEW   # markdown to stdout (--out FILE: also there)
    python collect/report.py --compare BASE NEW --fail-on-regression [--json]   # the CI gate

BASE and NEW are run folders or summary.json files (a baseline a team commits): the comparison is
judged from summary fields alone (rightsize/compare.py, docs/report.md "Regression gate").
    python collect/report.py RUN_DIR --mlflow URI    # also log the run to an MLflow tracking server

A run holding search.json (ansible-playbook sweep.yml -e search=true) also gets summary.json's
`search` block and a "Right-sizing" section: collect/search.py, docs/search.md.

With --mlflow (rightsize/mlflowlog.py): one parent MLflow run per run_id, one child per variant,
repeat and search probe, logged after the files are written; a tracking server that fails then
loses nothing in RUN_DIR and the run can be logged again later the same way.

Exit codes: 0 done, 2 bad input (one line on stderr) or, with --fail-on-regression, the two runs'
target users differ, 3 --fail-on-slo and an SLO not met, 4 --fail-on-regression and NEW regressed,
5 the report was written but logging it to MLflow failed (one line on stderr),
1 internal error (a summary that does not validate against the schema is never written) or a
missing dependency (one line on stderr naming `make venv`).

The arguments are parsed before pandas, matplotlib and the rest are imported: `--help` answers
at once, and a python without the controller's environment says so in one line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

COLLECT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COLLECT_DIR.parent
MISSING = ("{missing}: the report runs in the controller's environment: "
           "run `make venv`, then .venv/bin/python collect/report.py")


class BadInput(Exception):
    pass


def schema_path() -> Path:
    """The vendored schema, the only one the report reads (a test compares it with ../shared/)."""
    return COLLECT_DIR / "summary.schema.json"


def validate_summary(summary: dict) -> None:
    import jsonschema

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(summary)


def newest_run(results: Path) -> Path:
    """The run under results/ that started last (run.json started_at, else folder mtime)."""
    def started(d: Path) -> float:
        try:
            text = json.loads((d / "run.json").read_text(encoding="utf-8"))["started_at"]
            return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
        except (OSError, ValueError, KeyError, TypeError):
            return d.stat().st_mtime
    runs = [d for d in results.iterdir() if d.is_dir()] if results.is_dir() else []
    if not runs:
        raise BadInput(f"no run directory under {results} (give RUN_DIR)")
    return max(runs, key=started)


def analyse_dir(run_dir: Path, strict: bool = False):
    from collect import compute, search
    from collect.load import PROBE_PREFIX, load_run, load_variant
    from collect.settings import settings_from_run

    data = load_run(run_dir, strict=strict)
    for v in data.variants:
        if v.error:
            print(f"warning: {v.error} — variant {v.name} marked incomplete", file=sys.stderr)
    # a search's probes are measurements too: the capacity model pools them with the variants
    probes = [load_variant(run_dir, d.name) for d in sorted(Path(run_dir).glob(PROBE_PREFIX + "*"))
              if (d / "variant.json").is_file()]
    analysis = compute.analyse(data, settings_from_run(data.run), probes)
    if search.is_search_run(run_dir):  # search.json: the right-sizing search (docs/search.md)
        search.attach(analysis, run_dir)
    compute.search_statements(analysis)
    compute.rank_search_by_cost(analysis)
    return data, analysis


def write_outputs(run_dir: Path, data, analysis: dict, with_plots: bool = True) -> Path:
    from collect import compute, render

    summary = compute.summary(analysis)
    validate_summary(summary)
    tmp = run_dir / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / "summary.json")
    return render.write_report(analysis, data, run_dir, with_plots=with_plots)


EXIT_MLFLOW = 5  # the report is written, logging it to MLflow failed (4 is --fail-on-regression's)


def _folder_key(folder: Path, run_dir: Path) -> str:
    """A variant's, repeat's or probe's folder under RUN_DIR (c1-m1G-r1, c1-m1G-r1/repeats/2, probe-01-...)."""
    try:
        return Path(folder).resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return Path(folder).name


def mlflow_entries(run_dir: Path, data, analysis: dict) -> list[dict]:
    """Each variant (and repeat) and each search probe as rightsize/mlflowlog.py logs it: one
    child run per folder under RUN_DIR."""
    from collect import compute
    from collect.load import PROBE_PREFIX, load_variant

    # a variant and each of its repeats (results/<run>/<variant>/repeats/<k>/) on their own, unpooled
    sources = [(res, src, "variant" if k == 0 else "repeat")
               for v in analysis["variants"] for k, (res, src) in enumerate(v["repeat_results"])]
    for folder in sorted(Path(run_dir).glob(PROBE_PREFIX + "*")):
        if (folder / "variant.json").is_file():
            probe = load_variant(Path(run_dir), folder.name)
            sources.append((compute.variant_result(probe, data.run, analysis["settings"]), probe, "probe"))
    entries = []
    for res, src, kind in sources:
        meta = src.meta or {}
        health = meta.get("service_health") or {}
        entries.append({
            "key": _folder_key(src.dir, run_dir), "kind": kind, "name": str(meta.get("name") or res["name"]),
            "cpu": res["cpu"], "mem": res["mem"], "replicas": res["replicas"], "image": res["image"],
            "image_id": meta.get("image_id"), "model": health.get("model") or {},
            "verdict": res["verdict"], "reasons": res["reasons"],
            "steps": [compute.summary_step(st) for st in res["steps"]],
        })
    return entries


def log_to_mlflow(run_dir: Path, data, analysis: dict, uri: str, experiment: str) -> dict:
    import contextlib

    from rightsize import mlflowlog

    with contextlib.redirect_stdout(sys.stderr):  # the client's "View run ..." lines: stdout is the report's path
        return mlflowlog.log_run(run_dir, uri, experiment, mlflow_entries(run_dir, data, analysis))


def load_summary(path: Path, strict: bool) -> dict:
    """A run's summary: a summary.json file as it is (validated against the schema), or a run
    folder analysed afresh (its summary.json on disk may be older than the code)."""
    import jsonschema

    from collect import compute

    if path.is_file():
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BadInput(f"{path}: not JSON ({exc})") from None
        try:
            validate_summary(summary)
        except jsonschema.ValidationError as exc:
            raise BadInput(f"{path}: not a summary.json ({exc.message} at "
                           f"{'/'.join(map(str, exc.absolute_path)) or 'the top'})") from None
        return summary
    if not path.is_dir():
        raise BadInput(f"{path}: no such run folder or summary.json")
    _, analysis = analyse_dir(path, strict)
    return compute.summary(analysis)


def run_compare(base: Path, new: Path, strict: bool, out: Path | None = None, as_json: bool = False):
    """The comparison (rightsize/compare.py) and its text: markdown, or JSON with --json; written
    to `out` when given (never into either run's folder: comparing changes neither)."""
    from collect import render
    from rightsize import compare

    result = compare.compare(load_summary(base, strict), load_summary(new, strict))
    text = json.dumps(result, indent=2) + "\n" if as_json else render.render_compare(result)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    return result, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", help="results/<run_id> (default: the newest)")
    parser.add_argument("--fail-on-slo", action="store_true",
                        help="exit 3 when any variant's verdict at the target users is not pass")
    parser.add_argument("--compare", nargs=2, metavar=("BASE", "NEW"),
                        help="two runs (folders or summary.json files) variant by variant, on stdout")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="with --compare: exit 4 when NEW regressed against BASE, 2 when their target users differ")
    parser.add_argument("--json", action="store_true", help="with --compare: the comparison as JSON")
    parser.add_argument("--out", metavar="FILE", help="with --compare: also write the output to FILE")
    parser.add_argument("--strict", action="store_true",
                        help="a corrupt file is an error (exit 2) instead of an incomplete variant")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--mlflow", metavar="URI", default="",
                        help="also log the run to this MLflow tracking server (parent + child runs)")
    parser.add_argument("--mlflow-experiment", metavar="NAME", default="rightsize",
                        help="the MLflow experiment (default: rightsize)")
    args = parser.parse_args(argv)
    try:
        import jsonschema

        from collect import compute
        from collect.load import InputError
    except ImportError as exc:
        print("error: " + MISSING.format(missing=exc), file=sys.stderr)
        return 1
    try:
        if args.compare:
            if args.run_dir:
                raise BadInput("give either RUN_DIR or --compare RUN_A RUN_B, not both")
            from rightsize import compare

            out = Path(args.out) if args.out else None
            result, text = run_compare(Path(args.compare[0]), Path(args.compare[1]), args.strict, out, args.json)
            print(text, end="")
            if not args.fail_on_regression:
                return 0
            code = compare.exit_code(result)
            if code == compare.EXIT_TARGET_DIFFERS:
                print(f"error: target users differ: {result['target_users'][0]} (BASE) against "
                      f"{result['target_users'][1]} (NEW): not comparable", file=sys.stderr)
            elif code == compare.EXIT_REGRESSION:
                print(f"regression against {result['base']}: " + "; ".join(result["regressions"]), file=sys.stderr)
            return code
        if args.fail_on_regression or args.json:
            raise BadInput("--fail-on-regression and --json are for --compare BASE NEW")
        if args.out:
            raise BadInput("--out is for --compare RUN_A RUN_B (a run's report goes into RUN_DIR)")
        run_dir = Path(args.run_dir) if args.run_dir else newest_run(REPO_ROOT / "results")
        data, analysis = analyse_dir(run_dir, args.strict)
        try:
            path = write_outputs(run_dir, data, analysis, with_plots=not args.no_plots)
        except jsonschema.ValidationError as exc:
            print(f"internal error: summary.json would not validate ({exc.message} at "
                  f"{'/'.join(map(str, exc.absolute_path))}); nothing written", file=sys.stderr)
            return 1
        print(path)
        if args.mlflow:
            from rightsize.mlflowlog import MlflowError
            try:
                logged = log_to_mlflow(run_dir, data, analysis, args.mlflow, args.mlflow_experiment)
            except (MlflowError, Exception) as exc:  # noqa: BLE001 - the files are written: say it, exit 5
                print(f"error: MLflow logging to {args.mlflow} failed ({exc}); {run_dir} is complete: "
                      f"log it later with python collect/report.py {run_dir} --mlflow URI", file=sys.stderr)
                return EXIT_MLFLOW
            print(f"MLflow {args.mlflow}: run {logged['parent']} ({len(logged['children'])} child runs) "
                  f"in experiment {args.mlflow_experiment}")
        if args.fail_on_slo:
            failed = compute.slo_failed(analysis)
            if failed:
                print(f"SLO not met at {analysis['run']['target_users']} users: " + "; ".join(failed),
                      file=sys.stderr)
                return 3
        return 0
    except (InputError, BadInput) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
