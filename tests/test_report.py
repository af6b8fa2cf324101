"""report.md, its files, publishing, and the errors for bad runs."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from bench import cli, results
from bench.report.render import short_summary
from tests.helpers import RUN_INFO, make_run, trials


def sample_records():
    records = trials("cli", "no-cache", "cold", install=10.0)
    records += trials("cli", "pip-cache", "warm", install=4.0)
    records += trials("cli", "venv-cache", "warm", install=0.5, archive=20e6)
    return records


def test_report_writes_markdown_figures_and_csv_and_publishes(tmp_path, capsys):
    run = make_run(tmp_path / "run", sample_records())
    docs = tmp_path / "docs"
    assert cli.main(["report", str(run), "--publish", str(docs)]) == 0
    text = (run / "report.md").read_text()
    assert "# ci-cache-bench results: run test-run" in text
    assert "| machine | Test CPU, 2 CPUs, 16 GiB, Linux |" in text
    assert "with a warm cache, **venv-cache** is fastest" in text
    assert "![cli: time per phase](figures/phases-cli.png)" in text
    assert "Verdict: **holds**" in text  # pip cache: 10 s / 4 s
    assert (run / "figures" / "speedup.svg").is_file()
    assert (run / "summary.csv").read_text().startswith("deps,scenario,state")
    assert (docs / "report.md").read_text() == text
    assert (docs / "figures" / "phases-cli.png").is_file() and (docs / "summary.csv").is_file()


@pytest.mark.parametrize("table_format", ["rst", "plain", "html"])
def test_other_table_formats(tmp_path, table_format):
    run = make_run(tmp_path / "run", sample_records())
    assert cli.main(["report", str(run), "--format", table_format]) == 0
    text = (run / "report.md").read_text()
    assert ("<table>" in text) if table_format == "html" else ("```" in text)


def test_a_missing_run_folder(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nope")]) == 2
    assert "is missing" in capsys.readouterr().err


def test_a_truncated_trials_line(tmp_path, capsys):
    run = make_run(tmp_path / "run", sample_records())
    with open(run / "trials.jsonl", "a") as handle:
        handle.write(json.dumps({"schema": 1})[:-4])
    assert cli.main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "line(s) 10 are not whole records" in err and "\n" not in err.strip()


def test_a_run_with_only_failed_trials(tmp_path, capsys):
    records = trials("cli", "no-cache", "cold", install=10.0)
    records = [dataclasses.replace(r, status="failure") for r in records]
    run = make_run(tmp_path / "run", records)
    assert cli.main(["report", str(run)]) == 2
    assert "every trial in" in capsys.readouterr().err


def test_tables_go_to_the_job_summary_in_github_actions(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", sample_records())
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli.main(["report", str(run)]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## ci-cache-bench: run")
    assert "### cli" in text and "| venv-cache" in text


def test_the_report_says_why_cells_stopped_and_warns_of_a_busy_machine(tmp_path):
    records = [dataclasses.replace(r, machine_busy=0.45) for r in sample_records()[:1]]
    records += sample_records()[1:]
    run = make_run(tmp_path / "run", records)
    info = RUN_INFO | {
        "stopping": {"no-cache/cli/cold": "converged", "pip-cache/cli/warm": "ranking settled"},
        "machine_state": {
            "warnings": ["load average 3.10 on 2 core(s): something else is running"]
        },
    }
    results.write_json_atomically(run / "run.json", info)
    assert cli.main(["report", str(run)]) == 0
    text = (run / "report.md").read_text()
    assert "## Why each cell stopped" in text and "- **converged**: no-cache/cli/cold" in text
    assert "- load average 3.10 on 2 core(s)" in text
    assert "1 trial(s) ran while other processes used over 30% of the CPU (highest 45%)" in text
    assert "cli / no-cache / cold: 1 trial(s) ran on a busy machine" in text


def _spread(records, factors):
    """The same trials with their totals scaled by ``factors`` (noise, so intervals overlap)."""
    return [
        dataclasses.replace(r, total_ns=int(r.total_ns * f))
        for r, f in zip(records, factors, strict=True)
    ]


def test_the_report_shows_each_podium_and_whether_it_is_settled(tmp_path, capsys):
    noise = (1.0, 1.02, 0.99, 1.01)
    records = trials("cli", "no-cache", "cold", install=10.0)
    records += _spread(trials("cli", "venv-cache", "warm", install=0.5, n=4), noise)
    records += _spread(trials("cli", "uv", "warm", install=0.52, n=4), noise[::-1])
    records += trials("cli", "pip-cache", "warm", install=4.0)
    records += _spread(trials("cli", "pip-cache", "cold", install=9.0), (1.0, 1.3, 0.8))
    records += _spread(trials("cli", "uv", "cold", install=9.2), (0.85, 1.2, 1.0))
    run = make_run(tmp_path / "run", records)
    assert cli.main(["report", str(run)]) == 0
    text = (run / "report.md").read_text()
    assert "## The podium of each set" in text
    assert (
        "- cli, warm: venv-cache 2.5 s (n=4) *ties with* uv 2.5 s (n=4) *faster than* "
        "pip-cache 6.0 s (n=3): settled" in text
    )
    assert "- cli, cold: pip-cache 11.0 s (n=3) *not yet told apart from* " in text
    assert text.count("**not settled**") == 1
    # the unsure pairs (and only they) say what telling them apart would take
    assert text.count("trials each would tell)") == 2
    assert re.search(r"uv 11\.2 s \(n=3; about \d+ trials each would tell\)", text)
    assert re.search(r"Telling apart the 2 pair\(s\) not yet told apart would take about \d+ "
                     r"more trials", text)  # fmt: skip
    summary = short_summary(run)
    assert "cli, warm: venv-cache 2.5 s (n=4)" in summary and "; ties with uv" in summary
    assert "not settled: 2 podium pair(s) not yet told apart; about " in summary
