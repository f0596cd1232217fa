"""The report's words and lines for the SLO: its limits as given, never rounded away or mixed up."""
import pytest

from collect import render
from collect.synth import StepSpec, VariantSpec, write_run

NAME = "c0.5-m512M-r1"
OK = dict(latency_median_ms=50, cpu_cores=0.1, mem_frac=0.3)


def _analysed(tmp_path, analyse, slo):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec(NAME, [StepSpec(50, **OK), StepSpec(100, **OK)])], target_users=100,
              slo={"failure_rate_max": 0.01, "p95_ms_max": 1000, "cpu_pct_max": 90, "mem_pct_max": 90, **slo})
    return analyse(run_dir)


@pytest.mark.parametrize("rate, text", [(0.01, "failures < 1%"), (0.001, "failures < 0.1%"),
                                        (0.0005, "failures < 0.05%"), (0.07, "failures < 7%")])
def test_the_answer_states_the_failure_slo_with_its_decimals(tmp_path, analyse, rate, text):
    _, analysis = _analysed(tmp_path, analyse, {"failure_rate_max": rate})
    assert text + "," in render.answer(analysis)


def _slo_lines(tmp_path, analyse, monkeypatch, slo):
    data, analysis = _analysed(tmp_path, analyse, slo)
    figures = []
    monkeypatch.setattr(render, "_save", lambda fig, path: figures.append(fig) or "plots/x.png")
    render.plot_target(analysis["variants"][0], data.variants[0], analysis["settings"], tmp_path / "t.png")
    ax = figures[0].axes[0]
    return {line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if line.get_label().startswith("SLO")}


def test_the_target_plot_draws_the_cpu_and_the_ram_slo_each_at_its_limit(tmp_path, analyse, monkeypatch):
    assert _slo_lines(tmp_path, analyse, monkeypatch, {"cpu_pct_max": 90, "mem_pct_max": 75}) == \
        {"SLO CPU 90 %": 90, "SLO RAM 75 %": 75}


def test_one_line_when_the_cpu_and_ram_slo_are_the_same(tmp_path, analyse, monkeypatch):
    assert _slo_lines(tmp_path, analyse, monkeypatch, {}) == {"SLO CPU/RAM 90 %": 90}
