"""Read a run directory (docs/results-format.md) into DataFrames and validate them.

Policy for damaged input, so that no figure is ever silently wrong:
- a missing file leaves its field None and adds a note naming it; compute turns that into nulls,
  an incomplete step or variant, and an invalid run;
- an append-only CSV (latency, samples, loadgen, master_workers, steps) whose last line has no
  newline was cut while being written: its complete rows are kept and a note says so;
- anything else that does not parse (bad JSON, missing columns, a non-number, a malformed row in the
  middle) raises InputError naming the file and line. load_run(strict=False) catches it per variant
  and marks that variant unreadable (its error becomes its reason); strict=True lets it through.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rightsize.repeats import REPEATS_DIR, planned_repeats  # results/<run>/<variant>/repeats/<k>/ for repeat k > 1


class InputError(Exception):
    """Input that cannot be trusted; the message names the file."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


# Column name -> kind: "float", "int" or "str". Order is the documented one.
LATENCY_COLUMNS = {"ts": "int", "ok": "int", "ms": "int", "count": "int"}
STEPS_COLUMNS = {"step": "int", "users": "int", "start_ts": "float", "planned_end_ts": "float"}
WORKERS_COLUMNS = {"ts": "float", "workers": "int"}
SAMPLES_COLUMNS = {
    "ts": "float", "container": "str", "cpu_usage_ns": "float", "nr_periods": "float",
    "nr_throttled": "float", "throttled_ns": "float", "mem_bytes": "float",
    "mem_limit_bytes": "float", "cpu_limit": "float",
}
LOADGEN_COLUMNS = {"ts": "float", "host": "str", "pid": "int", "role": "str", "cpu_s": "float",
                   "ncpu": "int"}
FAILURES_COLUMNS = {"Method": "str", "Name": "str", "Error": "str", "Occurrences": "int"}
ERRORS_COLUMNS = {"ts": "int", "kind": "str", "status": "int", "count": "int"}
HEALTH_COLUMNS = {"ts": "float", "probe": "str", "ok": "int", "status": "int", "ms": "float"}
ERROR_KINDS = {"connection", "http"}
LOADGEN_ROLES = {"host", "master", "worker"}
PROBE_PREFIX = "probe-"  # a right-sizing search's probe folders (collect/search.py), not variants


@dataclass
class VariantData:
    name: str
    dir: Path
    missing: bool = False             # the folder does not exist: the variant never ran
    error: str | None = None          # a file could not be read: the variant is unreadable
    meta: dict | None = None          # variant.json
    steps: pd.DataFrame | None = None
    master: dict | None = None        # master.json
    workers: pd.DataFrame | None = None   # master_workers.csv
    latency: pd.DataFrame | None = None   # ts, ok, ms, count summed over all latency files
    latency_files: list[str] = field(default_factory=list)
    samples: pd.DataFrame | None = None   # target/samples.csv
    errors: pd.DataFrame | None = None    # ts, kind, status, count summed over errors/*.csv (newer runs)
    health: pd.DataFrame | None = None    # target/health.csv: health probes at each replica and the entry
    containers: list[dict] | None = None  # target/containers.json
    loadgen: pd.DataFrame | None = None   # loadgen/*.csv concatenated
    failures: pd.DataFrame | None = None  # locust_failures.csv
    notes: list[str] = field(default_factory=list)  # missing or truncated files, each named
    truncated: bool = False           # some append-only file was cut mid-row
    repeat: int = 1                   # which run of the variant this is (repeats/<k>/ for k > 1)
    repeats: list["VariantData"] = field(default_factory=list)  # repeats 2.. found in repeats/<k>/


@dataclass
class RunData:
    dir: Path
    run: dict
    variants: list[VariantData]
    notes: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.dir.name)


def read_json(path: Path, display: str, kind: type) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(display, f"not UTF-8 text ({exc.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(display, f"bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, kind):
        raise InputError(display, f"expected a JSON {kind.__name__}, found {type(data).__name__}")
    return data


def read_csv(path: Path, display: str, columns: dict[str, str],
             append_only: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Parse one CSV with the documented columns; returns (frame, notes).

    For an append-only file (written a row at a time while the load runs), a last line without
    its newline is the tail of a file cut while being written: it is dropped (a cut "…,12" would
    read as a valid but wrong "…,1") and a note says how many rows were kept. Other files (Locust's,
    written once at the end, possibly with quoted multi-line fields) must parse whole.
    """
    notes: list[str] = []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(display, f"not UTF-8 text ({exc.reason})") from None
    empty = pd.DataFrame({c: pd.Series(dtype=_dtype(k)) for c, k in columns.items()})
    if not text.strip():
        notes.append(f"{display}: empty file (no header, no rows)")
        return empty, notes
    if append_only:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines = lines[:-1]
        else:
            cut = lines.pop()
            if not lines:
                notes.append(f"{display}: only a cut header line {cut!r}: no rows")
                return empty, notes
            notes.append(f"{display}: last line cut mid-row ({cut!r}, the writer was stopped); "
                         f"kept the {max(len(lines) - 1, 0)} complete rows")
        header = [h.strip() for h in lines[0].split(",")]
        absent = [c for c in columns if c not in header]
        if absent:
            raise InputError(display, f"missing column(s) {', '.join(absent)} in header {lines[0]!r}")
        _check_field_counts(display, lines)
        text = "\n".join(lines) + "\n"
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(display, f"malformed CSV: {str(exc).strip()}") from None
    absent = [c for c in columns if c not in [str(x).strip() for x in frame.columns]]
    if absent:
        raise InputError(display, f"missing column(s) {', '.join(absent)}")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame[list(columns)]
    out = {}
    for col, kind in columns.items():
        raw = frame[col]
        if kind == "str":
            bad = raw.isna() | (raw.astype(str).str.strip() == "")
            if bad.any():
                _bad_row(display, frame, bad, col, "empty")
            out[col] = raw.astype(str).str.strip()
            continue
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() | ~pd.Series(num).apply(_finite)
        if bad.any():
            _bad_row(display, frame, bad, col, "not a number")
        if kind == "int":
            if (num != num.round()).any():
                _bad_row(display, frame, num != num.round(), col, "not an integer")
            num = num.astype("int64")
        out[col] = num
    return pd.DataFrame(out, index=range(len(frame))), notes


def _check_field_counts(display: str, lines: list[str]) -> None:
    """Every row has the header's number of fields (pandas would silently shift or pad some)."""
    if any('"' in line for line in lines):
        counts = pd.Series([len(row) for row in csv.reader(lines)])
    else:
        counts = pd.Series(lines).str.count(",") + 1
    blank = pd.Series(lines).str.strip() == ""
    bad = (counts != counts.iloc[0]) & ~blank
    if bad.any():
        pos = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(display, f"malformed CSV: line {pos + 1} has {counts.iloc[pos]} fields, "
                                  f"the header {counts.iloc[0]}")


def _finite(x) -> bool:
    try:
        return x == x and abs(x) != float("inf")
    except TypeError:
        return False


def _bad_row(display, frame, mask, col, what):
    pos = int(mask.to_numpy().nonzero()[0][0])
    value = frame[col].iloc[pos]
    raise InputError(display, f"line {pos + 2}: column {col!r} {what}: {value!r}")


def _dtype(kind: str):
    return {"int": "int64", "float": "float64", "str": "object"}[kind]


def _check(display, ok_mask, problem):
    if len(ok_mask) and not bool(ok_mask.all()):
        pos = int((~ok_mask).to_numpy().nonzero()[0][0])
        raise InputError(display, f"line {pos + 2}: {problem}")


def load_variant(run_dir: Path, name: str, strict: bool = False, planned: int = 1) -> VariantData:
    """A variant's folder (or a probe's, or a repeat's: <variant>/repeats/<k>) and its repeats 2..
    (`planned`: how many runs the plan asked for; one not there is loaded as missing)."""
    vdir = run_dir / name
    v = VariantData(name=name, dir=vdir)
    if not vdir.is_dir():
        v.missing = True
        v.notes.append(f"{name}/: folder missing (the variant did not run)")
        return v
    try:
        _fill_variant(v, run_dir)
    except InputError as exc:
        if strict:
            raise
        v.error = str(exc)
    v.repeats = load_repeats(run_dir, name, strict, planned)
    return v


def load_repeats(run_dir: Path, name: str, strict: bool = False, planned: int = 1) -> list[VariantData]:
    """Repeats 2.. of a variant (results/<run>/<variant>/repeats/<k>/): every folder there, and the
    planned ones that are not (missing: the repeat did not run). Named <variant>/repeats/<k>."""
    folder = run_dir / name / REPEATS_DIR
    found = {int(d.name) for d in folder.iterdir() if d.is_dir() and d.name.isdigit() and int(d.name) > 1} \
        if folder.is_dir() else set()
    out = []
    for k in sorted(found | set(range(2, int(planned) + 1))):
        r = load_variant(run_dir, f"{name}/{REPEATS_DIR}/{k}", strict)
        r.repeat = k
        out.append(r)
    return out


def _fill_variant(v: VariantData, run_dir: Path) -> None:
    def show(p: Path) -> str:
        return os.path.relpath(p, run_dir.parent)

    def optional(rel: str) -> Path | None:
        p = v.dir / rel
        if p.is_file():
            return p
        v.notes.append(f"{show(p)}: missing")
        return None

    def csv(p: Path, columns, append_only=True):
        frame, notes = read_csv(p, show(p), columns, append_only)
        v.notes.extend(notes)
        v.truncated = v.truncated or any("cut" in n for n in notes)
        return frame

    if p := optional("variant.json"):
        v.meta = read_json(p, show(p), dict)
    if p := optional("steps.csv"):
        v.steps = csv(p, STEPS_COLUMNS).sort_values("step").reset_index(drop=True)
        _check(show(p), v.steps["users"] >= 1, "users must be >= 1")
        _check(show(p), v.steps["planned_end_ts"] > v.steps["start_ts"], "planned_end_ts <= start_ts")
        if v.steps["step"].duplicated().any():
            raise InputError(show(p), "a step number appears twice")
    if p := optional("master.json"):
        v.master = read_json(p, show(p), dict)
        # the master rewrites master.json as workers connect, with end_ts null until it quits
        for key in ("end_ts", "expected_workers"):
            value = v.master.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InputError(show(p), f"{key} is not a number: {value!r}")
    if p := optional("master_workers.csv"):
        v.workers = csv(p, WORKERS_COLUMNS).sort_values("ts").reset_index(drop=True)
    def per_host(folder: str, columns, check, note_missing=True):
        """Every CSV of a per-host/per-process folder (latency/, errors/, loadgen/), checked, in one frame."""
        files = sorted((v.dir / folder).glob("*.csv")) if (v.dir / folder).is_dir() else []
        if not files and note_missing:
            v.notes.append(f"{show(v.dir / folder)}/: no {folder} files")
        frames = []
        for p in files:
            frame = csv(p, columns)
            check(show(p), frame)
            frames.append(frame)
        return files, (pd.concat(frames, ignore_index=True) if frames else None)

    def latency_ok(shown, frame):
        _check(shown, frame["ok"].isin([0, 1]), "ok must be 0 or 1")
        _check(shown, frame["ms"] >= 0, "ms must be >= 0")
        _check(shown, frame["count"] >= 0, "count must be >= 0")

    files, merged = per_host("latency", LATENCY_COLUMNS, latency_ok)
    v.latency_files.extend(show(p) for p in files)
    if merged is not None:
        v.latency = merged.groupby(["ts", "ok", "ms"], as_index=False)["count"].sum()
    _, merged = per_host("errors", ERRORS_COLUMNS, lambda shown, frame: _check(
        shown, frame["kind"].isin(ERROR_KINDS), "kind must be connection or http"), note_missing=False)
    if merged is not None:  # runs recorded before the error tallies have none
        v.errors = merged.groupby(["ts", "kind", "status"], as_index=False)["count"].sum()
    if (p := v.dir / "target" / "health.csv").is_file():
        v.health = csv(p, HEALTH_COLUMNS).sort_values(["probe", "ts"]).reset_index(drop=True)
    if p := optional("target/samples.csv"):
        v.samples = csv(p, SAMPLES_COLUMNS).sort_values(["container", "ts"]).reset_index(drop=True)
        # 0 is how docker reports "no limit": those figures become null in compute
        _check(show(p), v.samples["mem_limit_bytes"] >= 0, "mem_limit_bytes must be >= 0")
        _check(show(p), v.samples["cpu_limit"] >= 0, "cpu_limit must be >= 0")
    if p := optional("target/containers.json"):
        v.containers = read_json(p, show(p), list)
        for i, c in enumerate(v.containers):
            if not isinstance(c, dict):
                raise InputError(show(p), f"item {i} is not an object")
    _, merged = per_host("loadgen", LOADGEN_COLUMNS, lambda shown, frame: _check(
        shown, frame["role"].isin(LOADGEN_ROLES), "role must be host, master or worker"))
    if merged is not None:
        v.loadgen = merged.sort_values(["host", "pid", "ts"]).reset_index(drop=True)
    p = v.dir / "locust_failures.csv"
    if p.is_file():
        v.failures = csv(p, FAILURES_COLUMNS, append_only=False)


def load_run(run_dir: str | Path, strict: bool = False) -> RunData:
    """Read results/<run_id>/. run.json must be there and parse; variants may be partial."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "not a directory")
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise InputError(run_json, "missing: not a run directory (docs/results-format.md)")
    run = read_json(run_json, str(run_json), dict)
    if not isinstance(run.get("variants", []), list):
        raise InputError(run_json, "\"variants\" is not a list")
    target = run.get("target_users")
    if not isinstance(target, int) or isinstance(target, bool) or target < 1:
        raise InputError(run_json, f"\"target_users\" must be an integer >= 1, found {target!r}")
    names = [str(n) for n in run.get("variants", [])]
    notes = []
    skipped = {s.get("name") for s in run.get("skipped", []) if isinstance(s, dict)}
    # Folders of variants the plan does not list (an edited or resumed run): read them too, say so.
    # A search's probes (probe-NN-<variant>) are not variants: collect/search.py reads them. Its
    # confirmation runs are variants the playbook could not plan ahead.
    search = (run_dir / "search.json").is_file()
    for d in sorted(run_dir.iterdir()):
        if d.is_dir() and (d / "variant.json").is_file() and d.name not in names and d.name not in skipped \
                and not d.name.startswith(PROBE_PREFIX):
            names.append(d.name)
            notes.append(f"{d.name}/: " + ("the search's confirmation run" if search
                                            else "not in run.json's planned variants; included"))
    planned = planned_repeats(run)
    variants = [load_variant(run_dir, n, strict, planned) for n in names]
    return RunData(dir=run_dir, run=run, variants=variants, notes=notes)
