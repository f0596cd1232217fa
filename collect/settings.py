"""The report's knobs, in one place, named as in group_vars.

Their defaults are the public variables' own (rightsize/variables.py, the table group_vars is
generated from); run.json's "slo" and "report" blocks override them for one run; everything else
in collect/ reads thresholds from a Settings object, never from a literal.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from rightsize.variables import RUN_REPORT, RUN_SLO, VARIABLES

# Settings field -> the public variable it is (group_vars name), as run.json's "slo"/"report" record them
SLO_VARIABLES = RUN_SLO
REPORT_VARIABLES = RUN_REPORT
SLO_DEFAULTS = {key: float(VARIABLES[name].default) for key, name in SLO_VARIABLES.items()}
REPORT_DEFAULTS = {key: float(VARIABLES[name].default) for key, name in REPORT_VARIABLES.items()}

# Statistical rules (not user knobs; documented in the report's method notes)
P95_QUANTILE = 0.95          # the percentile the latency SLO is about
CONFIDENCE = 0.99            # one-sided confidence of the p95 verdict (MLPerf LoadGen early stopping)
STABILITY_SUBWINDOWS = 3     # a step's window is cut into this many equal parts for the RPS check
STABILITY_SIGMAS = 3.0       # ... and a difference must also exceed this many Poisson std devs
STEP_END_TOLERANCE_S = 1.0   # a step is complete when the run ended at most this long before its end
COMPARE_MIN_REL_CHANGE = 0.05  # --compare: RPS change below this fraction is never flagged
COMPARE_P95_MIN_REL_CHANGE = 0.10  # --compare: p95 change below this fraction is never flagged


@dataclass(frozen=True)
class Settings:
    failure_rate_max: float = SLO_DEFAULTS["failure_rate_max"]
    p95_ms_max: float = SLO_DEFAULTS["p95_ms_max"]
    cpu_pct_max: float = SLO_DEFAULTS["cpu_pct_max"]
    mem_pct_max: float = SLO_DEFAULTS["mem_pct_max"]
    warmup_s: float = REPORT_DEFAULTS["warmup_s"]
    generator_cpu_pct_max: float = REPORT_DEFAULTS["generator_cpu_pct_max"]
    stability_tolerance: float = REPORT_DEFAULTS["stability_tolerance"]

    def slo(self) -> dict:
        return {k: getattr(self, k) for k in SLO_DEFAULTS}

    def report(self) -> dict:
        return {k: getattr(self, k) for k in REPORT_DEFAULTS}


def settings_from_run(run: dict) -> Settings:
    """Defaults overridden by run.json's "slo" and "report" blocks (unknown keys are ignored)."""
    known = {f.name for f in fields(Settings)}
    overrides = {}
    for block in ("slo", "report"):
        for key, value in (run.get(block) or {}).items():
            if key in known and isinstance(value, (int, float)) and not isinstance(value, bool):
                overrides[key] = float(value)
    return replace(Settings(), **overrides)


def missing_settings(run: dict) -> list[str]:
    """One note per setting an older run.json lacks: the report then judges it by today's default,
    and says so (run.json is the only source of a run's settings)."""
    notes = []
    for block, names in (("slo", SLO_VARIABLES), ("report", REPORT_VARIABLES)):
        have = run.get(block) or {}
        for key, variable in names.items():
            value = have.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                notes.append(f"run.json has no {block}.{key}: judged with the default {variable}="
                             f"{VARIABLES[variable].default}")
    return notes
