"""The README's report excerpts are true to the report: every excerpt of one of the report's tables
(the summary, a step table, the cost table) has the columns the report renders today, in its order,
and every row as many cells."""
from pathlib import Path

import pytest

from collect import render
from collect.synth import StepSpec, VariantSpec, write_run

ROOT = Path(__file__).resolve().parents[2]
OK = dict(latency_median_ms=50, cpu_cores=0.1, mem_frac=0.3)
KINDS = {"Variant": "the summary table", "Step": "a variant's step table", "Variant / probe": "the cost table"}


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text: str):
    """(first line number, header cells, body rows as cells) of every markdown table in text."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= {"-"} \
                and lines[i + 1].startswith("|---"):
            start, header, rows = i + 1, cells(lines[i]), []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            yield start, header, rows
        else:
            i += 1


@pytest.fixture(scope="module")
def rendered_headers(tmp_path_factory):
    """The header of each kind of table, as the report renders it now."""
    from collect import compute, load
    from collect.settings import settings_from_run

    run_dir = tmp_path_factory.mktemp("readme") / "run"
    write_run(run_dir, [VariantSpec("c0.5-m512M-r1", [StepSpec(50, **OK), StepSpec(100, **OK)])], target_users=100)
    data = load.load_run(run_dir)
    markdown = render.render_markdown(compute.analyse(data, settings_from_run(data.run)), data)
    headers = {}
    for _, header, _ in tables(markdown):
        if header[0] in KINDS:
            headers.setdefault(header[0], header)
    assert set(headers) == set(KINDS)
    return headers


def readme_excerpts():
    for start, header, rows in tables((ROOT / "README.md").read_text()):
        if header[0] in KINDS and header[1] in ("CPU × replicas", "Users"):  # not the 1-vs-N or other tables
            yield start, header, rows


def test_the_readme_has_excerpts_of_both_tables():
    assert {header[0] for _, header, _ in readme_excerpts()} == set(KINDS)


@pytest.mark.parametrize("start, header, rows", list(readme_excerpts()), ids=lambda x: str(x)[:12])
def test_every_readme_excerpt_has_the_report_s_columns(rendered_headers, start, header, rows):
    expected = rendered_headers[header[0]]
    assert header == expected, f"README.md line {start}: {KINDS[header[0]]} excerpt is not the report's header"
    for offset, row in enumerate(rows):
        assert len(row) == len(expected), f"README.md line {start + 2 + offset}: {len(row)} cells, not {len(expected)}"
