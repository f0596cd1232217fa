"""Render an analysis (compute.analyse) as consolidated_report.md with PNG plots beside it."""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: E402

from rightsize import capacity  # noqa: E402

from . import compute  # noqa: E402
from rightsize import compare as gate  # noqa: E402

from .settings import CONFIDENCE, STABILITY_SIGMAS, STABILITY_SUBWINDOWS  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent / "templates"


def fmt(x, nd: int = 1, none: str = "—") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return none
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        return f"{x:,.{nd}f}"
    return str(x)


def pct(x, nd: int = 2) -> str:
    return fmt(None if x is None else x * 100, nd)


def cell(x) -> str:
    """Text safe inside a markdown table cell."""
    return str(x).replace("|", "\\|").replace("\n", " ")


def verdict_mark(v) -> str:
    return {"pass": "✅ pass", "fail": "❌ fail", "invalid": "⚠️ invalid",
            "incomplete": "⏸ incomplete", True: "✅ pass", False: "❌ fail",
            None: "— none"}.get(v, str(v))


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt, pct=pct, cell=cell, verdict=verdict_mark,
                       tojson=lambda x: json.dumps(x, indent=1, sort_keys=True, default=str))
    return env


# ---------------------------------------------------------------- plots


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"plots/{path.name}"


def plot_steps(variants: list[dict], p95_max: float, path: Path, title: str) -> str | None:
    """RPS and p95 against users, one line per variant, the p95 SLO drawn."""
    if not any(v["steps"] for v in variants):
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for v in variants:
        if not v["steps"]:
            continue
        users = [st["users"] for st in v["steps"]]
        ax1.plot(users, [st["rps"] for st in v["steps"]], marker="o", label=v["name"])
        p95 = [st["p95_ms"] if st["p95_ms"] is not None else math.nan for st in v["steps"]]
        ax2.plot(users, p95, marker="o", label=v["name"])
        bad = [(u, p) for u, p, st in zip(users, p95, v["steps"]) if not st["valid"]]
        if bad:
            ax2.scatter(*zip(*bad), marker="x", s=80, color="black", zorder=5)
    ax2.axhline(p95_max, color="red", linestyle="--", label=f"SLO p95 {p95_max:g} ms")
    ax1.set(xlabel="users", ylabel="requests/s", title=f"{title}: throughput")
    ax2.set(xlabel="users", ylabel="p95 (ms)", title=f"{title}: p95 (x = invalid step)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def _step_spans(ax, v: dict, t0: float) -> None:
    for st in v["steps"]:
        ax.axvspan(st["window_start"] - t0, st["window_end"] - t0, color="grey", alpha=0.08)
        ax.text(st["window_start"] - t0, 1.0, f"{st['users']}u", fontsize=7, va="top",
                transform=ax.get_xaxis_transform())


def _timeline(v: dict, first_ts: float):
    """A figure over a variant's run: (fig, ax, t0), t0 the first step's start (else first_ts)."""
    t0 = v["steps"][0]["start_ts"] if v["steps"] else first_ts
    fig, ax = plt.subplots(figsize=(11, 3.5))
    return fig, ax, t0


def _finish_timeline(fig, ax, v: dict, t0: float, ylabel: str, title: str, path: Path) -> str:
    """The measured windows shaded, axes labelled, saved."""
    _step_spans(ax, v, t0)
    ax.set(xlabel="seconds since the first step", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_target(v: dict, data_v, s, path: Path) -> str | None:
    ts = compute.target_timeseries(data_v.samples)
    if ts.empty:
        return None
    fig, ax, t0 = _timeline(v, float(ts["second"].min()))
    ax.plot(ts["second"] - t0, ts["cpu_pct"], label="CPU % of summed limit")
    ax.plot(ts["second"] - t0, ts["mem_pct"], label="RAM % of limit (most loaded container)")
    if s.cpu_pct_max == s.mem_pct_max:
        ax.axhline(s.cpu_pct_max, color="red", linestyle="--", linewidth=0.8, label=f"SLO CPU/RAM {s.cpu_pct_max:g} %")
    else:  # each line at its own limit
        ax.axhline(s.cpu_pct_max, color="red", linestyle="--", linewidth=0.8, label=f"SLO CPU {s.cpu_pct_max:g} %")
        ax.axhline(s.mem_pct_max, color="purple", linestyle=":", linewidth=0.8, label=f"SLO RAM {s.mem_pct_max:g} %")
    return _finish_timeline(fig, ax, v, t0, "%", f"{v['name']}: target CPU and RAM (shaded: measured windows)", path)


def plot_generator(v: dict, data_v, s, path: Path) -> str | None:
    gen = compute.generator_timeseries(data_v.loadgen)
    if gen.empty:
        return None
    fig, ax, t0 = _timeline(v, float(gen["ts"].min()))
    for label, g in gen.groupby("label"):
        style = ":" if (g["role"] == "host").all() else "-"
        ax.plot(g["ts"] - t0, g["pct"], style, label=label)
    ax.axhline(s.generator_cpu_pct_max, color="red", linestyle="--", linewidth=0.8,
               label=f"generator limit {s.generator_cpu_pct_max:g} % of a core")
    return _finish_timeline(fig, ax, v, t0, "% (process: of one core; host: of all)",
                            f"{v['name']}: load generator CPU", path)


PROBE_STYLE = {"pass": ("o", "tab:green"), "fail": ("X", "tab:red"),
               "invalid": ("^", "tab:grey"), "incomplete": ("v", "tab:grey")}


def plot_probes(state, p95_max: float, path: Path) -> str | None:
    """The search's path (CPU of each probe in order) and p95 at the target users against CPU,
    markers by verdict, one line per replica count."""
    if not state.probes:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for replicas in sorted({p.replicas for p in state.probes}):
        probes = [p for p in state.probes if p.replicas == replicas]
        line, = ax1.plot([p.number for p in probes], [p.cpu for p in probes], alpha=0.4,
                         label=f"{replicas} replica(s)")
        for p in probes:
            marker, color = PROBE_STYLE.get(p.verdict, ("s", "black"))
            ax1.scatter(p.number, p.cpu, marker=marker, color=color, s=60, zorder=5)
            if p.p95_ms is not None:
                ax2.scatter(p.cpu, p.p95_ms, marker=marker, color=color, s=60, zorder=5)
        measured = sorted((p.cpu, p.p95_ms) for p in probes if p.p95_ms is not None)
        ax2.plot([c for c, _ in measured], [v for _, v in measured], color=line.get_color(), alpha=0.4,
                 label=f"{replicas} replica(s)")
    for verdict, (marker, color) in PROBE_STYLE.items():
        ax1.scatter([], [], marker=marker, color=color, label=verdict)
    ax2.axhline(p95_max, color="red", linestyle="--", label=f"SLO p95 {p95_max:g} ms")
    ax1.set(xlabel="probe", ylabel="CPU per replica", title="search: CPU of each probe")
    ax2.set(xlabel="CPU per replica", ylabel="p95 at the target users (ms)", yscale="log",
            title="search: p95 against CPU")
    ax1.xaxis.get_major_locator().set_params(integer=True)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


CAPACITY_MARKERS = "osD^vP*Xh<>p"
BASIS_COLOR = {"measured": "tab:green", "extrapolated": "tab:orange"}


def plot_capacity(model, path: Path) -> str | None:
    """Busy CPU cores against successful RPS. Every 1-s point of the fitted steps (small) and each
    valid step's mean (large, outlined; hollow: left out of the fit for breaking the failure SLO), each
    variant or probe its own marker; the fitted line busy = idle x replicas + D x RPS with the band
    of D's 95 % interval; each prediction's RPS a vertical line labelled with its users. Left: the
    measured range. Right: log scales out to the largest prediction, the fit dashed where it is
    extrapolated."""
    if model is None:
        return None
    pts, steps, d = model.points, model.steps, model.demand
    steps = steps[steps["busy_cores"].notna()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(dict.fromkeys(steps["variant"])):
        marker, color = CAPACITY_MARKERS[i % len(CAPACITY_MARKERS)], colors[i % len(colors)]
        g = pts[pts["variant"] == name]
        st = steps[steps["variant"] == name]
        fitted, left_out = st[st["in_fit"].astype(bool)], st[~st["in_fit"].astype(bool)]
        for ax in (ax1, ax2):
            first = ax is ax1
            ax.scatter(g["ok_rps"], g["busy_cores"], marker=marker, color=color, s=10, alpha=0.25,
                       linewidths=0)
            ax.scatter(fitted["ok_rps"], fitted["busy_cores"], marker=marker, color=color, s=70,
                       edgecolors="black", zorder=4, label=name if first else None)
            if not left_out.empty:
                ax.scatter(left_out["ok_rps"], left_out["busy_cores"], marker=marker, facecolors="none",
                           edgecolors=color, s=70, zorder=4,
                           label=f"{name}: left out (failure SLO)" if first else None)
    measured_max = float(max(pts["ok_rps"].max(), steps["ok_rps"].max()))
    replicas = sorted({int(r) for r in pts["replicas"]})
    top = max([measured_max] + [p.rps for p in model.predictions])
    positive = pts.loc[pts["ok_rps"] > 0, "ok_rps"]
    lo = float(positive.min()) / 1.5 if not positive.empty else measured_max / 10
    for r in replicas:
        label = "fit" + (f", {r} replica(s)" if len(replicas) > 1 else "")
        for ax, x in ((ax1, np.linspace(0, measured_max * 1.1, 50)),
                      (ax2, np.geomspace(lo, top * 1.5, 200))):
            line = d.idle_cpu * r + d.cpu_s_per_request * x
            inside = x <= measured_max * 1.1
            ax.plot(x[inside], line[inside], color="black", linewidth=1,
                    label=f"{label}: {d.cpu_s_per_request * 1000:.3g} ms CPU / request" if ax is ax1 else None)
            if not inside.all():
                ax.plot(x[~inside], line[~inside], color="black", linewidth=1, linestyle="--",
                        label="fit extrapolated" if r == replicas[0] else None)
            ax.fill_between(x, d.idle_cpu * r + d.low * x, d.idle_cpu * r + d.high * x, color="grey",
                            alpha=0.25, label="95 % interval of D" if ax is ax1 and r == replicas[0] else None)
    ceiling = model.ceiling_rps_per_replica
    if ceiling is not None:
        for ax in (ax1, ax2):
            ax.axvline(ceiling, color="tab:red", linestyle="--", linewidth=1,
                       label=f"one replica's ceiling ~{ceiling:,.0f} RPS" if ax is ax1 else None)
    for p in model.predictions:
        color = BASIS_COLOR.get(p.basis, "black")
        axes = (ax1, ax2) if p.rps <= measured_max * 1.1 else (ax2,)
        for ax in axes:
            ax.axvline(p.rps, color=color, linestyle=":", linewidth=1.2)
            ax.text(p.rps, 0.98, f" {p.users:,} users ({p.basis})", rotation=90, va="top", ha="right",
                    fontsize=7, color=color, transform=ax.get_xaxis_transform())
        ax2.scatter([p.rps], [p.busy_cores], marker="*", s=120, color=color, edgecolors="black", zorder=5)
    ax1.set(xlim=(0, measured_max * 1.1), ylim=(0, None), xlabel="successful requests/s (all replicas)",
            ylabel="busy CPU cores (all replicas)", title="busy CPU against RPS: the measured steps")
    ax2.set(xscale="log", yscale="log", xlabel="successful requests/s (all replicas)",
            ylabel="busy CPU cores (all replicas)", title="the fit out to the predictions (log scales)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    handles, labels = ax2.get_legend_handles_labels()
    if handles:
        ax2.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_pareto(rows: list[dict], minimal_name: str | None, currency: str, path: Path) -> str | None:
    """Cost per hour against max users passing of every measured point, the front drawn as a
    staircase (a point passing 0 users sits on the axis), the minimal variant marked."""
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for kind, marker in (("variant", "o"), ("probe", "s")):
        pts = [r for r in rows if r["kind"] == kind]
        if pts:
            ax.scatter([r["per_hour"] for r in pts], [r["max_users_passing"] or 0 for r in pts], marker=marker,
                       c=["tab:blue" if r["pareto"] else "tab:gray" for r in pts], zorder=3,
                       label="variant" if kind == "variant" else "search probe")
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: (r["per_hour"], r["max_users_passing"] or 0))
    if front:
        xs, ys = [], []
        for r in front:
            if xs:
                xs.append(r["per_hour"])
                ys.append(ys[-1])
            xs.append(r["per_hour"])
            ys.append(r["max_users_passing"] or 0)
        ax.plot(xs, ys, color="tab:blue", lw=1.2, zorder=2, label="Pareto front")
    seen: dict = {}
    for r in rows:
        at = (round(r["per_hour"], 9), r["max_users_passing"] or 0)
        seen[at] = seen.get(at, -1) + 1  # equal points: their labels stacked, not overprinted
        ax.annotate(r["name"], (r["per_hour"], r["max_users_passing"] or 0), fontsize=6,
                    textcoords="offset points", xytext=(4, 3 + 8 * seen[at]))
        if r["name"] == minimal_name:
            ax.scatter([r["per_hour"]], [r["max_users_passing"] or 0], marker="*", s=220, c="gold",
                       edgecolors="black", zorder=4, label="minimal (least CPU x replicas passing)")
    ax.margins(x=0.2)  # room for the labels right of the dearest point
    ax.set_xlabel(f"cost per hour ({currency})")
    ax.set_ylabel("max users passing")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("cost against capacity", fontsize=9)
    return _save(fig, path)


def make_plots(analysis: dict, data, plot_dir: Path) -> dict:
    plot_dir.mkdir(parents=True, exist_ok=True)
    s = analysis["settings"]
    by_name = {v.name: v for v in data.variants}
    out = {"overview": plot_steps(analysis["variants"], s.p95_ms_max, plot_dir / "overview.png",
                                  "all variants"), "variants": {}}
    if analysis.get("search") is not None:
        out["search"] = plot_probes(analysis["search"], s.p95_ms_max, plot_dir / "search-probes.png")
    out["capacity"] = plot_capacity((analysis.get("capacity") or {}).get("model"), plot_dir / "capacity.png")
    out["pareto"] = plot_pareto((analysis.get("cost") or {}).get("rows") or [],
                                (analysis.get("minimal") or {}).get("name"), analysis["cost"]["prices"].currency
                                if analysis.get("cost") else "", plot_dir / "pareto.png")
    for v in analysis["variants"]:
        dv = by_name[v["name"]]
        out["variants"][v["name"]] = {
            "steps": plot_steps([v], s.p95_ms_max, plot_dir / f"{v['name']}-steps.png", v["name"]),
            "target": plot_target(v, dv, s, plot_dir / f"{v['name']}-target.png"),
            "generator": plot_generator(v, dv, s, plot_dir / f"{v['name']}-generator.png"),
        }
    return out


# ---------------------------------------------------------------- markdown


def answer(analysis: dict) -> str:
    """The executive summary in one paragraph."""
    s = analysis["settings"]
    target = analysis["run"]["target_users"]
    variants = analysis["variants"]
    by_verdict = {}
    for v in variants:
        by_verdict.setdefault(v["verdict"], []).append(v["name"])
    slo = (f"failures < {s.failure_rate_max * 100:g}%, p95 < {s.p95_ms_max:g} ms, CPU < {s.cpu_pct_max:g} %, "
           f"RAM < {s.mem_pct_max:g} %")
    m = analysis["minimal"]
    if m:
        v = next(x for x in variants if x["name"] == m["name"])
        st = next(x for x in reversed(v["steps"]) if x["users"] == v["target_step_users"])
        text = (f"The cheapest configuration that met every SLO ({slo}) at {target} users is "
                f"**{v['name']}**: {fmt(v['cpu'], 2)} CPU and {v['mem']} per replica × {v['replicas']} "
                f"replica(s). At {st['users']} users it served {fmt(st['rps'])} requests/s with p95 "
                f"{fmt(st['p95_ms'], 0)} ms, {pct(st['failure_rate'])} % failures, CPU "
                f"{fmt(st['cpu_pct'])} % and RAM {fmt(st['mem_pct'])} % of its limits.")
    else:
        text = f"No variant met every SLO ({slo}) at {target} users."
    counts = ", ".join(f"{len(n)} {k}" for k, n in sorted(by_verdict.items()))
    text += f" Verdicts of the {len(variants)} variant(s) run: {counts or 'none'}."
    if analysis["skipped"]:
        text += f" {len(analysis['skipped'])} planned variant(s) were skipped before running."
    if not analysis["valid"]:
        text += (" **This run is not valid as a whole** (see Validity below): treat its answer as "
                 "provisional.")
    return text


def spread_line(v: dict) -> str | None:
    """The repeats of a variant at the target users in one line: RPS min-max and relative spread,
    p95 min-max, and "not repeatable" when two repeats differ beyond counting noise (the verdict
    is not changed by it). None for a variant run once."""
    sp = v.get("repeat_spread")
    if not sp:
        return None
    rps, p95 = sp["rps"], sp["p95_ms"]
    head = f"{v['name']}: {sp['repeats']} repeats at {sp['users']} users"
    if sp["measured"] < sp["repeats"]:
        head += f" ({sp['measured']} measured that step)"
    if rps is None:
        return head + ": no repeat measured that step"
    rel = f"{rps['relative'] * 100:.1f} %" if rps["relative"] is not None else "—"
    text = (f"{head}: RPS {fmt(rps['min'])}–{fmt(rps['max'])} (spread {rel}), "
            f"p95 {fmt(p95['min'], 0) if p95 else '—'}–{fmt(p95['max'], 0) if p95 else '—'} ms")
    if sp["not_repeatable"]:
        return text + "; **not repeatable**: " + "; ".join(sp["not_repeatable"]) + " (verdict unchanged)"
    if sp["measured"] < 2:
        return text
    return text + "; repeatable within counting noise"


def context(analysis: dict, data, plots: dict | None) -> dict:
    s = analysis["settings"]
    run = analysis["run"]
    metas = {v.name: (v.meta or {}) for v in data.variants}
    masters = {v.name: (v.master or {}) for v in data.variants}
    containers = []
    for v in analysis["variants"]:
        for c in v["containers"] or []:
            containers.append({"variant": v["name"], **{k: c.get(k) for k in
                               ("name", "service", "oom_killed", "restart_count", "status",
                                "exit_code", "started_at")}})
    cap = analysis.get("capacity")
    capacity_text = capacity_method = None
    if cap is not None:
        capacity_text = capacity.render_capacity_markdown(
            cap["block"], cap["loadgen_cores"], target_users=int(run["target_users"]), why=cap["why"])
        capacity_method = capacity.method_markdown()
    return {
        "run_id": analysis["run_id"], "run": run, "s": s, "answer": answer(analysis),
        "capacity": cap, "capacity_text": capacity_text, "capacity_method": capacity_method,
        "analysis": analysis, "variants": analysis["variants"], "plots": plots or {"variants": {}},
        "search": analysis.get("search"), "search_summary": analysis.get("search_summary"),
        "spreads": {v["name"]: line for v in analysis["variants"] if (line := spread_line(v))},
        "failures": analysis["failures"].to_dict("records"), "containers": containers,
        "metas": metas, "masters": masters, "manifest": run.get("manifest") or {},
        "confidence": CONFIDENCE, "subwindows": STABILITY_SUBWINDOWS, "sigmas": STABILITY_SIGMAS,
        "cost": analysis.get("cost"), "minimal_name": (analysis.get("minimal") or {}).get("name"),
    }


def render_markdown(analysis: dict, data, plots: dict | None = None) -> str:
    return _env().get_template("consolidated_report.md.j2").render(**context(analysis, data, plots))


def write_report(analysis: dict, data, out_dir: Path, with_plots: bool = True) -> Path:
    out_dir = Path(out_dir)
    plots = make_plots(analysis, data, out_dir / "plots") if with_plots else None
    path = out_dir / "consolidated_report.md"
    path.write_text(render_markdown(analysis, data, plots), encoding="utf-8")
    return path


def render_compare(result: dict) -> str:
    return _env().get_template("compare.md.j2").render(c=result, g=gate)
